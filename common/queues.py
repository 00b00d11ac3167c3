"""The broker's part of `make migrate`: policies, the unrouted-event queue, queue types.

    python -m common.queues            # apply, and move queues to AMQP_QUEUE_TYPE
    python -m common.queues --check    # list the queues whose type differs; exit 1 if any

`prepare(config)` puts on the vhost of AMQP_URI what the services need before they
start: the broker policies (common.broker.policies: the alternate exchange of every
`*.events` exchange) and the unrouted-event exchange and queue. It talks to the
management API (RABBIT_MANAGEMENT_URI) and is safe to run again.

`migrate_types(config)` moves every durable queue of the vhost whose type is not
AMQP_QUEUE_TYPE (a vhost made before that setting, or after a change of it) to the
configured type, keeping its messages, arguments and bindings. A queue's type cannot
change in place, so each is emptied into a temporary queue of the new type
(`<name>.migrating`), deleted, declared again with the new type and its bindings, and
filled back. Messages keep their body, properties and headers; a message of a TTL retry
queue waits its delay again. Run it with the services stopped: a queue with a
consumer is refused (`QueueInUse`) and left as it is. A failure half way leaves the
messages in `<name>.migrating`; running it again finishes the move.
"""

from __future__ import annotations

import argparse
import logging
import sys
from urllib.parse import quote, urlparse

import amqp
import requests

from common.broker import (
    QUEUE_TYPES,
    addresses,
    connect,
    policies,
    queue_arguments,
    queue_type,
    unrouted_topology,
)
from common.config import load_config

log = logging.getLogger("queues")

TIMEOUT_S = 10.0
MIGRATING_SUFFIX = ".migrating"
# Arguments only one of the two types knows; the rest carry over.
QUORUM_ONLY = ("x-dead-letter-strategy", "x-delivery-limit", "x-quorum-initial-group-size")
# nameko's RPC reply queues expire by themselves (x-expires) and are never reused.
SKIPPED_PREFIXES = ("rpc.reply-", "amq.")


class QueueInUse(Exception):
    """A queue to migrate has consumers: the services must be stopped first."""


class ManagementApi:
    """The few calls of RabbitMQ's management HTTP API used here, for one vhost."""

    def __init__(self, config: dict):
        api = urlparse(config["RABBIT_MANAGEMENT_URI"])
        self.base = f"{api.scheme}://{api.hostname}:{api.port or 15672}/api"
        self.auth = (api.username or "guest", api.password or "guest")
        self.vhost = vhost_of(config["AMQP_URI"])

    def _url(self, *parts: str) -> str:
        return "/".join([self.base, *(quote(part, safe="") for part in parts)])

    def put_policy(self, name: str, body: dict) -> None:
        requests.put(self._url("policies", self.vhost, name), json=body, auth=self.auth,
                     timeout=TIMEOUT_S).raise_for_status()

    def queues(self) -> list[dict]:
        answer = requests.get(self._url("queues", self.vhost), auth=self.auth,
                              timeout=TIMEOUT_S)
        answer.raise_for_status()
        return answer.json()

    def bindings(self, queue: str) -> list[dict]:
        """The queue's bindings to named exchanges (not the default exchange's)."""
        answer = requests.get(self._url("queues", self.vhost, queue, "bindings"),
                              auth=self.auth, timeout=TIMEOUT_S)
        answer.raise_for_status()
        return [b for b in answer.json() if b["source"]]


def vhost_of(amqp_uri: str) -> str:
    """The vhost of the first address of AMQP_URI (every address names the same one)."""
    path = urlparse(addresses(amqp_uri)[0]).path
    return requests.utils.unquote(path[1:]) if len(path) > 1 else "/"


def setup(config: dict) -> None:
    """Everything above: `finish_interrupted` and `migrate_types` first (`prepare`
    declares the unrouted-event queue with the configured type, which an older one of
    the other type would refuse), then `prepare`."""
    finish_interrupted(config)
    migrate_types(config)
    prepare(config)


def prepare(config: dict) -> None:
    """Apply the platform's policies and declare the unrouted-event queue."""
    api = ManagementApi(config)
    for name, body in policies().items():
        api.put_policy(name, body)
    with connect(config["AMQP_URI"], TIMEOUT_S) as conn:
        channel = conn.channel()
        for entity in unrouted_topology(config):
            entity.bind(channel).declare()
    log.info("vhost %s: policies applied, unrouted events kept in %s", api.vhost,
             unrouted_topology(config)[1].name)


def mismatched(config: dict, api: ManagementApi | None = None) -> list[dict]:
    """The management API's records of durable queues not of AMQP_QUEUE_TYPE."""
    wanted = queue_type(config)
    api = api or ManagementApi(config)
    return [q for q in api.queues()
            if q.get("durable") and not q.get("exclusive")
            and not q["name"].startswith(SKIPPED_PREFIXES)
            and not q["name"].endswith(MIGRATING_SUFFIX)
            and q.get("type", "classic") in QUEUE_TYPES  # not a stream: it stays one
            and q.get("type", "classic") != wanted]


def retyped_arguments(arguments: dict, config: dict) -> dict:
    """A queue's arguments for the configured type: `x-queue-type` set, the other
    type's own arguments dropped, a TTL retry queue made to dead-letter at least once."""
    kept = {k: v for k, v in arguments.items() if k != "x-queue-type"}
    if queue_type(config) == "classic":
        kept = {k: v for k, v in kept.items() if k not in QUORUM_ONLY}
        if kept.get("x-overflow") == "reject-publish" and "x-max-length" not in kept:
            kept.pop("x-overflow")  # set by us for quorum dead-lettering only
    # At-least-once dead-lettering is for the TTL retry queues alone (common.messaging
    # declares it there and nowhere else: a redeclaration must match exactly).
    retry = "x-message-ttl" in kept and "x-dead-letter-exchange" in kept
    return queue_arguments(config, kept, dead_letters=retry)


def migrate_types(config: dict) -> list[str]:
    """Move every mismatched queue to AMQP_QUEUE_TYPE (module doc); return their names.

    Raises QueueInUse, before touching anything, if one of them has consumers.
    """
    api = ManagementApi(config)
    queues = mismatched(config, api)
    with connect(config["AMQP_URI"], TIMEOUT_S,
                 transport_options={"confirm_publish": True}) as conn:
        # Asked over AMQP: the management API's consumer counts lag by seconds.
        with conn.channel() as channel:
            busy = [q["name"] for q in queues
                    if channel.queue_declare(q["name"], passive=True).consumer_count]
        if busy:
            raise QueueInUse(f"stop the services first: {', '.join(busy)} have consumers")
        for queue in queues:
            _migrate(conn, api, queue, config)
    return [q["name"] for q in queues]


def finish_interrupted(config: dict) -> None:
    """Fill back the queues a migration left in `<name>.migrating`."""
    api = ManagementApi(config)
    leftovers = [q["name"] for q in api.queues() if q["name"].endswith(MIGRATING_SUFFIX)]
    if not leftovers:
        return
    with connect(config["AMQP_URI"], TIMEOUT_S,
                 transport_options={"confirm_publish": True}) as conn:
        channel = conn.default_channel
        for temporary in leftovers:
            name = temporary[: -len(MIGRATING_SUFFIX)]
            if not _exists(channel, name):
                # Stopped between the delete and the new declaration: the queue comes
                # back when its service starts and declares it; run this again then.
                log.warning("%s is gone: start its service, then run this again", name)
                channel = conn.channel()  # a failed passive declare closed the channel
                continue
            moved = _move(channel, temporary, name)
            _delete_if_empty(channel, temporary)
            log.info("%s: %d message(s) of an interrupted migration put back", name, moved)


def _migrate(conn, api: ManagementApi, queue: dict, config: dict) -> None:
    # A channel per step: RabbitMQ 3.10 crashes a channel that consumed from a classic
    # queue and then meets a quorum queue of the same name (INTERNAL_ERROR).
    name = queue["name"]
    bindings = api.bindings(name)
    temporary = name + MIGRATING_SUFFIX
    with conn.channel() as channel:
        channel.queue_declare(temporary, durable=True, auto_delete=False,
                              arguments=queue_arguments(config))
        moved = _move(channel, name, temporary)
        channel.queue_delete(name)
    with conn.channel() as channel:
        channel.queue_declare(name, durable=True, auto_delete=False, arguments=(
            retyped_arguments(queue.get("arguments") or {}, config)))
        for b in bindings:
            channel.queue_bind(name, b["source"], b["routing_key"],
                               arguments=b.get("arguments"))
        _move(channel, temporary, name)
        _delete_if_empty(channel, temporary)
    log.info("%s: %s -> %s, %d message(s) and %d binding(s) kept", name,
             queue.get("type", "classic"), queue_type(config), moved, len(bindings))


def _delete_if_empty(channel, name: str) -> None:
    # queue.delete's if-empty flag is not supported by quorum queues.
    if channel.queue_declare(name, passive=True).message_count == 0:
        channel.queue_delete(name)


def _exists(channel, name: str) -> bool:
    try:
        channel.queue_declare(name, passive=True)
    except amqp.exceptions.NotFound:
        return False
    return True


def _move(channel, source: str, target: str) -> int:
    """Move every message of `source` to `target`, each confirmed before it is acked."""
    moved = 0
    while (message := channel.basic_get(source, no_ack=False)) is not None:
        copy = amqp.Message(message.body, **message.properties)
        channel.basic_publish(copy, exchange="", routing_key=target, mandatory=True)
        channel.basic_ack(message.delivery_tag)
        moved += 1
    return moved


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only list the queues whose type differs (exit 1 if any)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[queues] %(message)s")
    config = load_config()
    if args.check:
        wrong = mismatched(config)
        for q in wrong:
            print(f"{q['name']}: {q.get('type', 'classic')}, AMQP_QUEUE_TYPE says "
                  f"{queue_type(config)}")
        sys.exit(1 if wrong else 0)
    try:
        setup(config)
    except QueueInUse as exc:
        sys.exit(f"[queues] {exc}")


if __name__ == "__main__":
    main()

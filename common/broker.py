"""How the platform reaches RabbitMQ, and what kind of queues it declares there.

Broker addresses. `AMQP_URI` may list several nodes of one cluster, separated by `;`
(`amqp://u:p@rabbit-0:5672/shop;amqp://u:p@rabbit-1:5672/shop`). kombu keeps the list
and moves to the next address when one fails; nameko's consumers do that by
themselves. Our own connections (the outbox relay's publisher, the RPC pool's liveness
check, the live-stream feed, /ready's broker ping, the dead-letter admin) open with
`connect(uri)`, which tries every address once before it gives up, where kombu's
`ensure_connection(max_retries=0)` tried the first alone. Log lines hide every
password of such a list (common.logging).

Queue type. `AMQP_QUEUE_TYPE` is `quorum` (replicated by Raft across the cluster's
nodes: a queue lives on while a majority of them does) or `classic` (one node's queue:
cheaper on a single node, lost with its node in a cluster). It applies to every
durable queue of ours: event queues, their TTL retry queues, dead-letter queues, RPC
queues and the unrouted-event queue. Queues bound to one connection (RPC reply queues,
the live stream's) are always classic and exclusive: they die with their connection
and are declared again, on whatever node the reconnect reached.

    Queue(name, durable=True, queue_arguments=queue_arguments(config, {"x-...": 1}))

The type of an existing queue cannot change (RabbitMQ refuses the declaration with
PRECONDITION_FAILED): `python -m common.queues migrate` moves a vhost's queues to the
configured type (docs/scaling.md).
"""

from __future__ import annotations

from kombu import Connection, Exchange, Queue

QUEUE_TYPES = ("classic", "quorum")
DEFAULT_QUEUE_TYPE = "quorum"

# Events that no queue is bound for (an event only the live stream listens to, while no
# gateway runs) go here instead of back to the publisher: every publish of ours is
# mandatory, so that a message no queue took keeps its outbox row (a classic queue on a
# node that is down takes nothing). The alternate exchange is set on every `*.events`
# exchange by a broker policy (`policies`), applied by `python -m common.migrate`.
UNROUTED_EXCHANGE = "platform.unrouted"
UNROUTED_QUEUE = "platform.unrouted"
UNROUTED_MAX_LENGTH = 10000  # the newest are kept for a look; nobody consumes them
EVENTS_POLICY = "platform-events"


class BrokerConfigError(ValueError):
    """A broker setting that cannot work (an unknown queue type)."""


def queue_type(config: dict) -> str:
    """The configured `AMQP_QUEUE_TYPE`; raise BrokerConfigError for any other value."""
    kind = str(config.get("AMQP_QUEUE_TYPE") or DEFAULT_QUEUE_TYPE).strip().lower()
    if kind not in QUEUE_TYPES:
        raise BrokerConfigError(
            f"AMQP_QUEUE_TYPE must be one of {', '.join(QUEUE_TYPES)}, not {kind!r}")
    return kind


def queue_arguments(config: dict, arguments: dict | None = None,
                    dead_letters: bool = False) -> dict:
    """`arguments` with `x-queue-type` set to the configured type.

    `dead_letters`: the queue dead-letters (a TTL retry queue): a quorum queue then
    hands its expired messages on at least once (`x-dead-letter-strategy`, which needs
    `x-overflow: reject-publish`) instead of at most once.
    """
    kind = queue_type(config)
    typed = {**(arguments or {}), "x-queue-type": kind}
    if kind == "quorum" and dead_letters:
        typed.update({"x-dead-letter-strategy": "at-least-once",
                      "x-overflow": "reject-publish"})
    return typed


def connection_queue_arguments(arguments: dict | None = None) -> dict:
    """Arguments of a queue that lives and dies with one connection: always classic
    (quorum queues cannot be exclusive), whatever the vhost's default type."""
    return {**(arguments or {}), "x-queue-type": "classic"}


def addresses(uri: str) -> list[str]:
    """The broker addresses of a `;`-separated AMQP_URI, in order."""
    return [part.strip() for part in uri.split(";") if part.strip()]


def connect(uri: str, timeout: float, **kwargs) -> Connection:
    """An open kombu connection to the first address of `uri` that answers.

    Each address is tried once, at once (no sleep between them); raise the last
    error if none answers. `kwargs` go to kombu's Connection (heartbeat, ssl, ...).
    """
    connection = Connection(uri, connect_timeout=timeout, **kwargs)
    try:
        ensure_connected(connection, uri)
    except BaseException:
        connection.release()
        raise
    return connection


def ensure_connected(connection: Connection, uri: str) -> None:
    """Connect `connection` (made from `uri`) if it is not: each address once, at once."""
    connection.ensure_connection(max_retries=len(addresses(uri)) - 1,
                                 interval_start=0, interval_step=0, interval_max=0)


def unrouted_topology(config: dict) -> tuple[Exchange, Queue]:
    """The alternate exchange for events no queue is bound for, and its queue."""
    exchange = Exchange(UNROUTED_EXCHANGE, type="fanout", durable=True)
    queue = Queue(UNROUTED_QUEUE, exchange=exchange, durable=True,
                  queue_arguments=queue_arguments(config, {
                      "x-max-length": UNROUTED_MAX_LENGTH}))
    return exchange, queue


def policies() -> dict[str, dict]:
    """The broker policies the platform needs, by name: the body of a management API
    `PUT /api/policies/<vhost>/<name>`."""
    return {EVENTS_POLICY: {
        "pattern": r"\.events$", "apply-to": "exchanges", "priority": 0,
        "definition": {"alternate-exchange": UNROUTED_EXCHANGE}}}

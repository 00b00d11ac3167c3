"""Break the running cluster for real, under a steady flow of orders; lose nothing.

After every fault the flow stops, every order must reach a final state, and the
invariant checker (invariants 1-5: stock, money, liveness, once-only effects incl.
shipments and mail) must find nothing.
"""

import json
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import eventlet
import pytest
from nameko.standalone.events import event_dispatcher
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from common.config import load_config
from common.testing import wait_for
from tests.faults.conftest import settle_and_check

pytestmark = pytest.mark.fault


def run_for(flow, seconds):
    """Let the flow run a while (the flow is the point: it is what the fault hits)."""
    eventlet.sleep(seconds)


def wait_placed(flow, more):
    target = len(flow.placed) + more
    wait_for(lambda: len(flow.placed) >= target, timeout=60, message=f"{more} more orders")


@pytest.mark.parametrize("victim", ["inventory_svc", "order_svc", "payment_svc", "notify_svc",
                                    "delivery_svc", "user_svc", "gateway"])
def test_sigkill_a_process_mid_flow(cluster, flow, checker, victim):
    flow.start()
    wait_placed(flow, 5)
    process = cluster.processes[victim]
    process.kill()  # SIGKILL: no cleanup, workers die mid-transaction
    process.start()
    cluster.wait_ready()
    wait_placed(flow, 5)
    settle_and_check(checker, flow, f"SIGKILL {victim}")


@pytest.mark.parametrize("victim", ["order_svc", "payment_svc"])
def test_sigterm_lets_running_work_finish(cluster, flow, checker, victim):
    flow.start()
    wait_placed(flow, 5)
    process = cluster.processes[victim]
    assert process.stop() == 0  # SIGTERM: nameko finishes its workers, then exits cleanly
    process.start()
    cluster.wait_ready()
    wait_placed(flow, 5)
    settle_and_check(checker, flow, f"SIGTERM {victim}")


def test_rabbitmq_restarts_mid_flow(cluster, flow, checker):
    flow.start()
    wait_placed(flow, 5)
    subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=60)
    subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=60)
    cluster.wait_ready(timeout=90)
    wait_placed(flow, 5)
    settle_and_check(checker, flow, "RabbitMQ restart")


def test_postgresql_restarts_mid_flow(cluster, flow, checker):
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
    flow.start()
    wait_placed(flow, 5)
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                   check=True, capture_output=True, timeout=60)
    cluster.wait_ready(timeout=90)
    wait_placed(flow, 5)
    settle_and_check(checker, flow, "PostgreSQL restart")


def dead_letters(cluster, admin):
    answer = cluster.get("/admin/dead-letters", headers=admin)
    assert answer.status_code == 200, answer.text
    return answer.json()["services"]


def test_a_poison_event_is_dead_lettered_while_the_flow_goes_on(cluster, flow, checker,
                                                                admin):
    flow.start()
    poison = {"event_type": "order.created", "event_id": "00000000-0000-4000-8000-00000000dead",
              "order_id": "not-an-order", "items": "lots", "total_cents": "free"}
    event_dispatcher({"AMQP_URI": cluster.env["AMQP_URI"]})("order_svc", "order.created",
                                                            poison)
    letters = wait_for(lambda: (d := dead_letters(cluster, admin))["inventory_svc"]["count"]
                       and d["payment_svc"]["count"] and d, message="the poison dead-lettered")
    for service in ("inventory_svc", "payment_svc"):
        (message,) = letters[service]["messages"]
        assert message["event_id"] == poison["event_id"] and "InvalidEvent" in message["error"]
    wait_placed(flow, 10)  # the flow went on around it
    for service in ("inventory_svc", "payment_svc"):
        assert cluster.delete(f"/admin/dead-letters/{service}", headers=admin
                              ).json() == {"purged": 1}
    settle_and_check(checker, flow, "poison event")


@contextmanager
def database_refused(cluster, service: str):
    """`service`'s own database refuses its role (CONNECTION LIMIT 0, its open sessions
    ended) for the block: the service runs, but every handler of it fails."""
    database = make_url(cluster.env[f"DATABASE_URL_{service.upper()}"]).database
    engine = create_engine(f"{load_config()['POSTGRES_URL']}/postgres",
                           isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{database}" CONNECTION LIMIT 0'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :db AND usename = :role"),
                         {"db": database, "role": service})
        yield
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{database}" CONNECTION LIMIT -1'))
        engine.dispose()


def test_events_dead_lettered_by_an_outage_are_replayed_once_it_is_fixed(cluster, flow,
                                                                          checker, admin):
    """notify_svc's database refuses it for longer than its events' retries last: they
    are dead-lettered; once it is back, a replay delivers every mail once. (Until issue
    14 the outage was order_svc's: notify_svc called it for every mail. It no longer
    does: the events carry the order.)"""
    with database_refused(cluster, "notify_svc"):
        flow.start()
        wait_placed(flow, 5)
        flow.stop()
        # Its dead letters wait in the broker while its table cannot take them.
        wait_for(lambda: queued_dead_letters(cluster, "notify_svc") > 0, timeout=90,
                 message="notify_svc's events dead-lettered, its database away")
    cluster.wait_ready()
    # The store moves the waiting letters into the table while the operator replays:
    # replay until nothing is left, in the table or in the broker, for longer than the
    # management API's statistics lag (5 s).
    replayed, clear_since = [], []

    def replayed_everything() -> bool:
        replayed.append(cluster.post("/admin/dead-letters/notify_svc/replay", headers=admin,
                                     json={}).json()["replayed"])
        if replayed[-1] or dead_letters(cluster, admin)["notify_svc"]["count"] or \
                queued_dead_letters(cluster, "notify_svc"):
            clear_since.clear()
            return False
        clear_since.append(time.monotonic())
        return clear_since[-1] - clear_since[0] >= 6

    wait_for(replayed_everything, timeout=60, interval=1,
             message="every dead letter of notify_svc replayed")
    assert sum(replayed) > 0
    settle_and_check(checker, flow, f"notify_svc's database away, {sum(replayed)} replayed")
    assert dead_letters(cluster, admin)["notify_svc"]["count"] == 0


def queued_dead_letters(cluster, service) -> int:
    """Messages (ready or not) in `<service>.dead-letters`, from the management API."""
    from urllib.parse import quote, urlparse

    import requests

    from common.queues import vhost_of

    api = urlparse(cluster.env["RABBIT_MANAGEMENT_URI"])
    vhost = quote(vhost_of(cluster.env["AMQP_URI"]), safe="")
    answer = requests.get(
        f"{api.scheme}://{api.hostname}:{api.port}/api/queues/{vhost}/{service}.dead-letters",
        auth=(api.username or "guest", api.password or "guest"), timeout=10)
    return answer.json().get("messages", 0) if answer.status_code == 200 else 0


def order_status(cluster, flow, order_id):
    for headers in flow.shoppers:
        answer = cluster.get(f"/orders/{order_id}", headers=headers)
        if answer.status_code == 200:
            return answer.json()["status"]
    return None


def test_every_event_redelivered_in_bulk_changes_nothing(cluster, flow, checker):
    recorder = Recorder(cluster)
    flow.start()
    wait_placed(flow, 15)
    settle_and_check(checker, flow, "bulk redelivery: first pass")
    events = recorder.stop()
    dispatch = event_dispatcher({"AMQP_URI": cluster.env["AMQP_URI"]})
    for source, payload in events:
        dispatch(source, payload["event_type"], payload)
    assert len(events) > 50
    settle_and_check(checker, flow, f"bulk redelivery of {len(events)} events")


class Recorder:
    """Hears every event the saga publishes (a nameko container in this process)."""

    TYPES = [("order_svc", t) for t in ("order.created", "order.confirmed", "order.cancelled",
                                        "order.shipped", "order.delivered")] + \
        [("inventory_svc", t) for t in ("inventory.reserved", "inventory.failed",
                                        "inventory.released")] + \
        [("payment_svc", t) for t in ("payment.succeeded", "payment.failed",
                                      "payment.refunded")] + \
        [("delivery_svc", t) for t in ("delivery.shipped", "delivery.delivered")] + \
        [("user_svc", "user.registered")]

    def __init__(self, cluster):
        from nameko.containers import ServiceContainer
        from nameko.events import event_handler

        self.events = []
        handlers = {}
        for n, (source, event_type) in enumerate(self.TYPES):
            def record(_, payload, source=source):
                self.events.append((source, json.loads(json.dumps(payload))))
            handlers[f"record_{n}"] = event_handler(source, event_type)(record)
        service = type("Recorder", (), {"name": "fault_recorder", **handlers})
        self.container = ServiceContainer(service, {"AMQP_URI": cluster.env["AMQP_URI"]})
        self.container.start()

    def stop(self):
        self.container.stop()
        return self.events

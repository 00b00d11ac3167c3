"""How many workers (and so how much prefetch) an event consumer should run with.

    .venv/bin/python -m bench.consumers [--events 400] [--workers 1 4 10 32]

For each MAX_WORKERS it starts one inventory_svc process (nameko's prefetch count is
its max_workers) on a scratch vhost and database, publishes `--events` order.created
events at once, and times until inventory has answered every one (reserved or
failed). It prints events/s and the CPU seconds the service process used.
"""

from __future__ import annotations

import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import psutil  # noqa: E402
from nameko.containers import ServiceContainer  # noqa: E402
from nameko.events import event_handler  # noqa: E402
from nameko.standalone.events import event_dispatcher  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from common import events  # noqa: E402
from common.config import load_config  # noqa: E402
from common.testing import (  # noqa: E402
    migrated_database,
    service_process,
    temporary_vhost,
    wait_for,
)

answered: set = set()


class Listener:
    name = "bench_listener"

    @event_handler("inventory_svc", "inventory.reserved")
    def on_reserved(self, payload):
        answered.add(payload["order_id"])

    @event_handler("inventory_svc", "inventory.failed")
    def on_failed(self, payload):
        answered.add(payload["order_id"])


def consumers_of(amqp: str) -> int:
    from kombu import Connection
    with Connection(amqp) as conn:
        return conn.channel().queue_declare(
            "evt-order_svc-order.created--inventory_svc.reserve_stock",
            passive=True).consumer_count


def run(workers: int, n_events: int, config: dict) -> dict:
    os.environ["TEST_TIER"] = "bench"
    url = migrated_database("inventory_svc")
    engine = create_engine(url)
    with engine.begin() as conn:
        for sku in ("A", "B", "C", "D"):
            conn.execute(text("INSERT INTO products (sku, name, price_cents, currency, "
                              "created_at, updated_at) VALUES (:s, :s, 100, 'USD', now(), "
                              "now())"), {"s": sku})
            conn.execute(text("INSERT INTO stock VALUES (:s, 1000000, 0, 1000000)"),
                         {"s": sku})
    engine.dispose()
    with temporary_vhost(config["RABBIT_MANAGEMENT_URI"], config["AMQP_URI"]) as amqp:
        env = {**os.environ, "AMQP_URI": amqp, "DATABASE_URL_INVENTORY_SVC": url,
               "MAX_WORKERS": str(workers), "EVENTLET_TESTS": "1", "LOG_LEVEL": "WARNING"}
        process = service_process("inventory_svc", env, tempfile.mkdtemp()).start()
        listener = ServiceContainer(Listener, {"AMQP_URI": amqp})
        listener.start()
        try:
            wait_for(lambda: consumers_of(amqp) == 1, timeout=30, message="inventory up")
            answered.clear()
            dispatch = event_dispatcher({"AMQP_URI": amqp})
            payloads = [events.OrderCreated(
                order_id=f"o{n}", user_id="u", user_email="u@example.com",
                items=[{"sku": "ABCD"[n % 4], "name": "x", "quantity": 1,
                        "unit_price_cents": 100}],
                total_cents=100, currency="USD", payment_token="tok_ok").to_payload()
                for n in range(n_events)]
            for payload in payloads:  # queued first, so the run measures consumption
                dispatch("order_svc", "order.created", payload)
            cpu_before = psutil.Process(process.popen.pid).cpu_times()
            started = time.perf_counter()
            wait_for(lambda: len(answered) >= n_events, timeout=300, interval=0.01,
                     message="every event answered")
            elapsed = time.perf_counter() - started
            cpu_after = psutil.Process(process.popen.pid).cpu_times()
        finally:
            listener.stop()
            process.stop()
    cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    return {"workers": workers, "events": n_events, "seconds": elapsed,
            "per_s": n_events / elapsed, "cpu_ms_per_event": 1000 * cpu / n_events}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4, 10, 32])
    args = parser.parse_args()
    config = load_config()
    print("| max_workers (= prefetch) | events | seconds | events/s | CPU ms/event |")
    print("|---:|---:|---:|---:|---:|")
    for workers in args.workers:
        r = run(workers, args.events, config)
        print(f"| {r['workers']} | {r['events']} | {r['seconds']:.2f} | {r['per_s']:.0f} | "
              f"{r['cpu_ms_per_event']:.2f} |", flush=True)


if __name__ == "__main__":
    main()

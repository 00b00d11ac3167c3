"""Two inventory_svc processes, 50 orders competing for 10 units: exactly 10 held."""

import os
import threading
from pathlib import Path

import pytest
import requests
from nameko.events import event_handler as plain_nameko_handler
from nameko.standalone.events import event_dispatcher
from sqlalchemy import create_engine, text

from common import events
from common.testing import migrated_database, order_event, service_process, wait_for

pytestmark = pytest.mark.integration

ORDERS = 50
answers: dict = {}


class Listener:
    name = "listener_svc"

    @plain_nameko_handler("inventory_svc", "inventory.reserved")
    def on_reserved(self, payload):
        answers[payload["order_id"]] = payload

    @plain_nameko_handler("inventory_svc", "inventory.failed")
    def on_failed(self, payload):
        answers[payload["order_id"]] = payload


def stock_levels(engine):
    with engine.connect() as conn:
        return {sku: (on_hand, reserved) for sku, on_hand, reserved in
                conn.execute(text("SELECT sku, on_hand, reserved FROM stock"))}


def consumers(config, queue):
    api = config["RABBIT_MANAGEMENT_URI"].rstrip("/")
    vhost = requests.utils.quote(config["vhost"], safe="")
    answer = requests.get(f"{api}/api/queues/{vhost}/{queue}", timeout=5)
    return answer.json().get("consumers", 0) if answer.ok else 0


@pytest.fixture
def database():
    url = migrated_database("inventory_svc")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO products (sku, name, price_cents, currency, created_at, "
                          "updated_at) VALUES ('TEA', 'Tea', 450, 'USD', now(), now()), "
                          "('MUG', 'Mug', 1200, 'USD', now(), now())"))
        conn.execute(text("INSERT INTO stock (sku, on_hand, reserved, received) "
                          "VALUES ('TEA', 10, 0, 10), ('MUG', 5, 0, 5)"))
    yield url, engine
    engine.dispose()


def test_two_processes_never_oversell(container_factory, rabbit_config, base_config, database,
                                      tmp_path):
    url, engine = database
    config = {**base_config, **rabbit_config}
    env = {**os.environ, "AMQP_URI": rabbit_config["AMQP_URI"],
           "DATABASE_URL_INVENTORY_SVC": url, "EVENT_RETRY_DELAYS_MS": "[50, 200]"}
    processes = [service_process("inventory_svc", env, str(tmp_path)) for _ in range(2)]
    for n, process in enumerate(processes):
        process.log_path = str(tmp_path / f"inventory_svc-{n}.log")
        process.start()
    answers.clear()
    try:
        container_factory(Listener, config).start()
        wait_for(lambda: consumers(config, "evt-order_svc-order.created--inventory_svc."
                                           "reserve_stock") == 2, timeout=30,
                 message="both processes consuming")

        # Watch the stock while the orders race: never negative, never oversold.
        seen, done = [], threading.Event()

        def watch():
            while not done.is_set():
                seen.append(stock_levels(engine))

        watcher = threading.Thread(target=watch)
        watcher.start()
        dispatch = event_dispatcher(config)
        for n in range(ORDERS):
            # Half the orders also want a mug, listed first: locks must still be
            # taken in one order, or the two processes would deadlock.
            lines = [("MUG", 1), ("TEA", 1)] if n % 2 else [("TEA", 1)]
            dispatch("order_svc", "order.created", order_event(events.OrderCreated,
                    order_id=f"o{n:02}", user_id="u", user_email="u@example.com",
                items=[{"sku": s, "name": s, "quantity": q, "unit_price_cents": 1}
                       for s, q in lines],
                total_cents=1, currency="USD", payment_token="tok_ok").to_payload())
        wait_for(lambda: len(answers) == ORDERS, timeout=120, message="an answer to every order")
        done.set()
        watcher.join()
    finally:
        for process in processes:
            process.stop()

    reserved = [a for a in answers.values() if a["event_type"] == "inventory.reserved"]
    tea = sum(i["quantity"] for a in reserved for i in a["items"] if i["sku"] == "TEA")
    mugs = sum(i["quantity"] for a in reserved for i in a["items"] if i["sku"] == "MUG")
    failed = [a for a in answers.values() if a["event_type"] == "inventory.failed"]
    assert tea == 10 and len(reserved) == 10 and len(failed) == ORDERS - 10
    assert mugs <= 5
    assert stock_levels(engine) == {"TEA": (10, 10), "MUG": (5, mugs)}
    assert seen and all(0 <= r <= h for levels in seen for h, r in levels.values())
    handled = [Path(p.log_path).read_text().count(" reserved: ") +
               Path(p.log_path).read_text().count(" not reserved, ") for p in processes]
    assert sum(handled) == ORDERS and all(handled), handled  # both processes took part

"""inventory_svc on the real broker: order events in, inventory events out."""

import pytest
from nameko.events import event_handler as plain_nameko_handler
from nameko.standalone.events import event_dispatcher
from nameko.standalone.rpc import ServiceRpcProxy

from common import events
from common.testing import migrated_database, order_event, truncate_all, wait_for
from inventory_svc.service import InventoryService

pytestmark = pytest.mark.integration

heard: list = []


class InventoryListener:
    """Stands in for order_svc and payment_svc: records what inventory announces."""

    name = "listener_svc"

    @plain_nameko_handler("inventory_svc", "inventory.reserved")
    def on_reserved(self, payload):
        heard.append(payload)

    @plain_nameko_handler("inventory_svc", "inventory.failed")
    def on_failed(self, payload):
        heard.append(payload)

    @plain_nameko_handler("inventory_svc", "inventory.released")
    def on_released(self, payload):
        heard.append(payload)


@pytest.fixture(scope="module")
def inventory_db_url():
    return migrated_database("inventory_svc")


@pytest.fixture
def config(rabbit_config, base_config, inventory_db_url):
    truncate_all(inventory_db_url)
    heard.clear()
    return {**base_config, "AMQP_URI": rabbit_config["AMQP_URI"],
            "DB_URIS": {"inventory_svc:Base": inventory_db_url},
            "EVENT_MAX_ATTEMPTS": 3, "EVENT_RETRY_DELAYS_MS": [50, 100],
            "RESERVATION_TTL_S": 60}


@pytest.fixture
def inventory(container_factory, config):
    container_factory(InventoryListener, config).start()
    container_factory(InventoryService, config).start()
    with ServiceRpcProxy("inventory_svc", config, timeout=10) as proxy:
        proxy.create_product(sku="TEA", name="Tea", price_cents=450, stock=10)
        yield proxy


def order_created(order_id, quantity, sku="TEA"):
    return order_event(
        events.OrderCreated, order_id=order_id,
        items=[{"sku": sku, "name": sku, "quantity": quantity, "unit_price_cents": 450}],
        total_cents=450 * quantity, currency="USD", payment_token="tok_ok")


def dispatch(config, event):
    event_dispatcher(config)(event.SOURCE, event.TYPE, event.to_payload())


def heard_types(order_id):
    return [p["event_type"] for p in heard if p["order_id"] == order_id]


def test_the_order_events_move_stock_and_inventory_answers(config, inventory):
    dispatch(config, order_created("o1", 4))
    wait_for(lambda: heard_types("o1") == ["inventory.reserved"], message="inventory.reserved")
    assert inventory.get_stock("TEA")["reserved"] == 4

    dispatch(config, order_event(events.OrderConfirmed, order_id="o1", total_cents=1800))
    wait_for(lambda: inventory.get_stock("TEA") == {"sku": "TEA", "on_hand": 6, "reserved": 0,
                                                    "available": 6}, message="the commit")

    dispatch(config, order_created("o2", 7))
    wait_for(lambda: heard_types("o2") == ["inventory.failed"], message="inventory.failed")
    assert heard[-1]["shortages"] == [{"sku": "TEA", "requested": 7, "available": 6}]


def test_a_confirmation_that_overtakes_its_creation_is_retried_until_it_applies(
        config, inventory):
    dispatch(config, order_event(events.OrderConfirmed, order_id="o3", total_cents=450))
    dispatch(config, order_created("o3", 1))
    wait_for(lambda: inventory.get_stock("TEA")["on_hand"] == 9, message="the late commit")
    assert inventory.get_stock("TEA")["reserved"] == 0
    assert inventory.list_dead_letters()["count"] == 0


def test_order_lines_no_retry_can_fix_go_straight_to_the_dead_letters(config, inventory):
    dispatch(config, order_created("o4", 0))
    letters = wait_for(
        lambda: (found := inventory.list_dead_letters())["count"] and found,
        message="the dead letter")
    assert letters["messages"][0]["attempts"] == 1
    assert "InvalidOrderLines" in letters["messages"][0]["error"]


def test_the_sweep_timer_releases_a_stale_hold(container_factory, config):
    config = {**config, "RESERVATION_TTL_S": 0.2}
    container_factory(InventoryListener, config).start()
    container_factory(InventoryService, config).start()
    with ServiceRpcProxy("inventory_svc", config, timeout=10) as inventory:
        inventory.create_product(sku="TEA", name="Tea", price_cents=450, stock=10)
        dispatch(config, order_created("o5", 3))
        wait_for(lambda: heard_types("o5") == ["inventory.reserved", "inventory.released"],
                 message="the hold reserved, then released by the timer")
        assert heard[-1]["reason"] == "expired"
        assert inventory.get_stock("TEA")["reserved"] == 0
        assert inventory.get_reservation("o5")["status"] == "EXPIRED"

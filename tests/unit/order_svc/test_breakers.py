"""order_svc's breaker of inventory_svc: a run of failures of inventory_svc makes
create_order answer BreakerOpen (503) at once, making no order and no call."""

import pytest

from common.errors import BreakerOpen, NotFound, ServiceUnavailable
from tests.unit.order_svc.test_service import emitted, place

DOWN = ServiceUnavailable("inventory_svc is not running", {"service": "inventory_svc"})


def test_a_run_of_inventory_failures_opens_its_breaker(orders, catalog, session, monkeypatch):
    def down(skus):
        catalog.calls += 1
        raise DOWN

    monkeypatch.setattr(catalog, "get_products", down)
    for _ in range(2):  # the fixture's breakers open after 2
        with pytest.raises(ServiceUnavailable) as raised:
            place(orders)
        assert not isinstance(raised.value, BreakerOpen)
    with pytest.raises(BreakerOpen) as raised:
        place(orders)
    assert raised.value.details["service"] == "inventory_svc"
    assert catalog.calls == 2 and emitted(session) == []
    assert orders.breakers.states()["inventory_svc"] == "open"
    assert orders.breakers.states()["delivery_svc"] == "closed"


def test_inventorys_own_errors_do_not(orders, catalog, monkeypatch):
    def refuses(skus):
        raise NotFound("no such sku")

    monkeypatch.setattr(catalog, "get_products", refuses)
    for _ in range(5):
        with pytest.raises(NotFound):
            place(orders)
    assert orders.breakers.states()["inventory_svc"] == "closed"

"""Shipping rules, without fixtures."""

from datetime import UTC, datetime

import pytest

from delivery_svc import domain
from delivery_svc.domain import Action


@pytest.mark.parametrize("status, action", [
    (None, Action.TOMBSTONE), ("PROCESSING", Action.CANCEL), ("SHIPPED", Action.RECALL),
    ("DELIVERED", Action.NOTHING), ("CANCELLED", Action.NOTHING), ("RECALLED", Action.NOTHING),
])
def test_what_a_cancel_does_to_a_shipment(status, action):
    assert domain.on_cancelled(status) is action


def test_the_carrier_is_stable_per_order_and_tracking_numbers_differ():
    assert domain.carrier_for("order-1") == domain.carrier_for("order-1")
    assert domain.carrier_for("order-1") in domain.CARRIERS
    numbers = {domain.tracking_number("DHL") for _ in range(20)}
    assert len(numbers) == 20 and all(n.startswith("DHL") and len(n) == 15 for n in numbers)


def test_ship_time():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert (domain.ship_at(now, 2.5) - now).total_seconds() == 2.5

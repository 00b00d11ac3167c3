"""The invariant checker finds each kind of violation, and nothing in a sound system."""

from tools.invariants import Snapshot, check


def stock(sku="TEA", on_hand=8, reserved=0, received=10):
    return {"sku": sku, "on_hand": on_hand, "reserved": reserved, "received": received}


def order(oid, status, quantity=2, total=900):
    return {"id": oid, "status": status, "total_cents": total,
            "items": [{"sku": "TEA", "quantity": quantity}]}


def payment(oid, status="CAPTURED", amount=900, refunded=0):
    return {"order_id": oid, "status": status, "amount_cents": amount,
            "refunded_cents": refunded}


SOUND = Snapshot(
    stock=[stock()],
    orders=[order("o1", "CONFIRMED"), order("o2", "CANCELLED"), order("o3", "CANCELLED")],
    payments=[payment("o1"), payment("o2", "REFUNDED", refunded=900),
              payment("o3", "FAILED")])


def test_a_sound_system_is_clean():
    report = check(SOUND)
    assert report.clean, report.violations
    assert report.counts["orders"] == 3 and report.counts["CANCELLED"] == 2


def test_oversell_is_found():
    bad = Snapshot([stock(on_hand=1, reserved=2)], SOUND.orders, SOUND.payments)
    assert any(v.startswith("invariant 1") for v in check(bad).violations)


def test_lost_or_invented_stock_is_found():
    bad = Snapshot([stock(on_hand=9)], SOUND.orders, SOUND.payments)
    assert check(bad).violations == ["invariant 2: TEA on_hand 9 + sold 2 != received 10"]


def test_stock_is_not_judged_while_orders_are_in_flight():
    busy = Snapshot([stock(on_hand=9)], [*SOUND.orders, order("o4", "RESERVED")],
                    SOUND.payments)
    assert check(busy).clean


def test_a_cancelled_order_that_kept_its_money_is_found():
    bad = Snapshot(SOUND.stock, SOUND.orders,
                   [payment("o1"), payment("o2"), payment("o3", "FAILED")])
    assert check(bad).violations == [
        "invariant 3: order o2 CANCELLED has captured - refunded = 900, expected 0"]


def test_a_confirmed_order_without_money_and_double_payments_are_found():
    bad = Snapshot(SOUND.stock, SOUND.orders,
                   [payment("o2", "REFUNDED", refunded=900), payment("o3", "FAILED"),
                    payment("o3", "FAILED")])
    violations = check(bad).violations
    assert "invariant 3: order o3 has 2 payments" in violations
    assert any("order o1 CONFIRMED" in v for v in violations)

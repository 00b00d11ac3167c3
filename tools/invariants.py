"""The design's invariants 1-3 as pure checks over a snapshot of the live system.

1. No oversell: 0 <= reserved <= on_hand for every sku.
2. Stock is conserved: once quiet, on_hand + units in live confirmed orders
   (CONFIRMED, SHIPPED, DELIVERED) == received (opening stock + restocks).
3. Money is conserved: per order, captured - refunded == total_cents when the order
   is CONFIRMED/SHIPPED/DELIVERED and 0 when CANCELLED; never two payments per order.

Orders still PENDING or RESERVED are in flight: the money check skips them, and
invariant 2 is only meaningful once none are left (see tools.check, which waits).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

LIVE = ("CONFIRMED", "SHIPPED", "DELIVERED")
IN_FLIGHT = ("PENDING", "RESERVED")


@dataclass
class Snapshot:
    stock: list[dict]      # inventory_svc.list_stock items
    orders: list[dict]     # order_svc.list_orders items
    payments: list[dict]   # payment_svc.list_payments items

    @property
    def in_flight(self) -> int:
        return sum(o["status"] in IN_FLIGHT for o in self.orders)


@dataclass
class Report:
    violations: list[str] = field(default_factory=list)
    counts: dict = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.violations


def no_oversell(stock: list[dict]) -> list[str]:
    return [f"invariant 1: {s['sku']} has reserved={s['reserved']} on_hand={s['on_hand']}"
            for s in stock if not 0 <= s["reserved"] <= s["on_hand"]]


def stock_conserved(stock: list[dict], orders: list[dict]) -> list[str]:
    sold = Counter()
    for order in orders:
        if order["status"] in LIVE:
            for item in order["items"]:
                sold[item["sku"]] += item["quantity"]
    return [f"invariant 2: {s['sku']} on_hand {s['on_hand']} + sold {sold[s['sku']]} "
            f"!= received {s['received']}"
            for s in stock if s["on_hand"] + sold[s["sku"]] != s["received"]]


def captured(payment: dict) -> int:
    return payment["amount_cents"] if payment["status"] in ("CAPTURED", "REFUNDED") else 0


def money_conserved(orders: list[dict], payments: list[dict]) -> list[str]:
    per_order = Counter(p["order_id"] for p in payments)
    problems = [f"invariant 3: order {order_id} has {n} payments"
                for order_id, n in per_order.items() if n > 1]
    by_order = {p["order_id"]: p for p in payments}
    for order in orders:
        if order["status"] in IN_FLIGHT:
            continue
        payment = by_order.get(order["id"])
        net = captured(payment) - payment["refunded_cents"] if payment else 0
        expected = order["total_cents"] if order["status"] in LIVE else 0
        if net != expected:
            problems.append(f"invariant 3: order {order['id']} {order['status']} has "
                            f"captured - refunded = {net}, expected {expected}")
    return problems


def check(snapshot: Snapshot) -> Report:
    """Every violation of invariants 1-3 in `snapshot`."""
    violations = (no_oversell(snapshot.stock)
                  + money_conserved(snapshot.orders, snapshot.payments))
    if snapshot.in_flight == 0:
        violations += stock_conserved(snapshot.stock, snapshot.orders)
    statuses = Counter(o["status"] for o in snapshot.orders)
    return Report(violations, {"skus": len(snapshot.stock), "orders": len(snapshot.orders),
                               "payments": len(snapshot.payments), **statuses})

"""The design's invariants as pure checks over a snapshot of the live system.

1. No oversell: 0 <= reserved <= on_hand for every sku.
2. Stock is conserved: once quiet, on_hand + units in live confirmed orders
   (CONFIRMED, SHIPPED, DELIVERED) == received (opening stock + restocks).
3. Money is conserved: per order, captured - refunded == total_cents when the order
   is CONFIRMED/SHIPPED/DELIVERED and 0 when CANCELLED; never two payments per order.

4. Liveness: every order reaches CONFIRMED, SHIPPED, DELIVERED or CANCELLED; every
   live order has its shipment and every notification gets sent.
5. Effects happen once: at most one payment, one shipment, and one notification per
   (order, kind, channel), one welcome per user; a cancelled order's parcel is never
   delivered.

Orders still PENDING or RESERVED are in flight: the money check skips them, and
invariants 2 and 4 are only meaningful once the system is quiet (see tools.check,
which waits for that).
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
    shipments: list[dict] = field(default_factory=list)      # delivery_svc.list_shipments
    notifications: list[dict] = field(default_factory=list)  # notify_svc, detailed

    @property
    def in_flight(self) -> int:
        """Orders, and notifications, still on their way."""
        return (sum(o["status"] in IN_FLIGHT for o in self.orders)
                + sum(n["status"] == "pending" for n in self.notifications))


@dataclass
class Report:
    violations: list[str] = field(default_factory=list)
    counts: dict = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.violations


PARCEL_LEFT = ("SHIPPED", "DELIVERED", "RECALLED")
REPEATABLE_KINDS = frozenset({"password_reset"})

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


def liveness(snapshot: Snapshot) -> list[str]:
    problems = [f"invariant 4: order {o['id']} still {o['status']}"
                for o in snapshot.orders if o["status"] in IN_FLIGHT]
    shipped = {s["order_id"] for s in snapshot.shipments}
    problems += [f"invariant 4: order {o['id']} {o['status']} has no shipment"
                 for o in snapshot.orders if o["status"] in LIVE and o["id"] not in shipped]
    problems += [f"invariant 4: notification {n['id']} ({n['kind']}) is {n['status']}"
                 for n in snapshot.notifications if n["status"] != "sent"]
    return problems


def effects_once(snapshot: Snapshot) -> list[str]:
    problems = [f"invariant 5: order {order_id} has {n} shipments" for order_id, n in
                Counter(s["order_id"] for s in snapshot.shipments).items() if n > 1]
    cancelled = {o["id"] for o in snapshot.orders if o["status"] == "CANCELLED"}
    # All or nothing: a cancel accepted means the parcel never left (delivery_svc stops
    # it first), so a cancelled order's shipment is never SHIPPED, DELIVERED or RECALLED.
    problems += [f"invariant 5: cancelled order {s['order_id']}'s parcel left "
                 f"({s['status']})" for s in snapshot.shipments
                 if s["order_id"] in cancelled and (s["status"] in PARCEL_LEFT
                                                    or s.get("shipped_at"))]
    # One mail per milestone of an order and one welcome per account; a password reset
    # may rightly be asked for (and mailed) again and again.
    keys = Counter((n.get("order_id") or n.get("user_id"), n["kind"], n["channel"])
                   for n in snapshot.notifications if n["kind"] not in REPEATABLE_KINDS)
    problems += [f"invariant 5: {kind} ({channel}) for {subject} sent {n} times"
                 for (subject, kind, channel), n in keys.items() if n > 1]
    return problems


def check(snapshot: Snapshot, final: bool = False) -> Report:
    """Every violation in `snapshot`; `final`: the system had its time to settle."""
    violations = (no_oversell(snapshot.stock)
                  + money_conserved(snapshot.orders, snapshot.payments)
                  + effects_once(snapshot))
    if snapshot.in_flight == 0:
        violations += stock_conserved(snapshot.stock, snapshot.orders)
    if snapshot.in_flight == 0 or final:
        violations += liveness(snapshot)
    statuses = Counter(o["status"] for o in snapshot.orders)
    return Report(violations, {"skus": len(snapshot.stock), "orders": len(snapshot.orders),
                               "payments": len(snapshot.payments),
                               "shipments": len(snapshot.shipments),
                               "notifications": len(snapshot.notifications), **statuses})

"""Payment rules of payment_svc: pure functions, no nameko, no SQLAlchemy.

One payment per order, ever. It is created PENDING just before the provider is
called and moves PENDING -> CAPTURED -> REFUNDED, or PENDING -> FAILED (declined).
A cancelled order leaves a tombstone; events arrive in any order and more than once,
and `on_reserved`, `on_outcome` and `on_cancelled` say what each does in every state,
so every path converges on: charged at most once, and refunded exactly once if the
order was cancelled after (or while) it was charged.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

PENDING, CAPTURED, FAILED, REFUNDED = "PENDING", "CAPTURED", "FAILED", "REFUNDED"
STATUSES = (PENDING, CAPTURED, FAILED, REFUNDED)
PAYMENT_DECLINED = "payment_declined"
LIST_LIMIT_MAX = 100
DEFAULT_RETRY_DELAYS_MS = (100, 300, 900)

# What the mock provider does with a token (DESIGN.md, "Mock payment tokens").
OK, DECLINED, FLAKY, SLOW = "ok", "declined", "flaky", "slow"
TOKENS = {"tok_ok": OK, "tok_declined": DECLINED, "tok_insufficient_funds": DECLINED,
          "tok_flaky": FLAKY, "tok_slow": SLOW}


class Action(Enum):
    CHARGE = "charge"      # ask the provider (again: the idempotency key makes it safe)
    RETRY = "retry"        # too early: order.created has not been heard yet
    CAPTURE = "capture"    # record the capture and announce payment.succeeded
    FAIL = "fail"          # record the decline and announce payment.failed
    REFUND = "refund"      # give the money back and announce payment.refunded
    NOTHING = "nothing"


def token_kind(token) -> str:
    """How the mock provider treats `token`; an unknown token is declined."""
    return TOKENS.get(token, DECLINED) if isinstance(token, str) else DECLINED


def charge_key(order_id: str) -> str:
    """The provider idempotency key of the order's one charge."""
    return order_id


def refund_key(order_id: str) -> str:
    """The provider idempotency key of the order's one refund."""
    return f"refund-{order_id}"


def on_reserved(status: str | None, cancelled: bool, has_intent: bool) -> Action:
    """What inventory.reserved does to the order's payment in `status` (None: none yet).

    A PENDING payment is charged again even when the order is cancelled meanwhile: an
    earlier attempt may have captured before its worker died, and only the provider
    (asked with the same key) can say; `on_outcome` then refunds.
    """
    if status is None:
        if cancelled:
            return Action.NOTHING  # cancelled before it was charged: never charge
        return Action.CHARGE if has_intent else Action.RETRY
    return Action.CHARGE if status == PENDING else Action.NOTHING


def on_outcome(status: str, captured: bool, cancelled: bool) -> list[Action]:
    """What a provider answer does to a payment found in `status` under its row lock."""
    if status != PENDING:
        return []  # another worker (a duplicate delivery) recorded it first
    if not captured:
        return [Action.FAIL]
    return [Action.CAPTURE, Action.REFUND] if cancelled else [Action.CAPTURE]


def on_cancelled(status: str | None) -> Action:
    """What order.cancelled does to the order's payment (found under its row lock).

    PENDING: a charge is in flight in some worker, which will see the tombstone once
    it records its capture and refund then. None: the tombstone stops any later charge.
    """
    return Action.REFUND if status == CAPTURED else Action.NOTHING


def retry_delays_s(delays_ms: Iterable | int | str) -> list[float]:
    """PAYMENT_RETRY_DELAYS_MS as seconds: one more provider call after each.

    A list, one number, or a comma-separated string (an environment variable).
    """
    if isinstance(delays_ms, str):
        delays_ms = [d for d in delays_ms.strip("[] ").split(",") if d.strip()]
    elif isinstance(delays_ms, int | float):
        delays_ms = [delays_ms]
    delays = [float(d) / 1000 for d in delays_ms]
    if any(d < 0 for d in delays):
        raise ValueError("retry delays cannot be negative")
    return delays


def attempt_schedule(delays_ms: Iterable) -> list[float]:
    """The wait before each provider call of one delivery: at once, then each delay."""
    return [0.0, *retry_delays_s(delays_ms)]


# ---- listing -------------------------------------------------------------------------

def check_limit(limit) -> int:
    if type(limit) is not int or not 1 <= limit <= LIST_LIMIT_MAX:
        raise ValueError(f"limit must be an integer from 1 to {LIST_LIMIT_MAX}")
    return limit


def check_order_id(order_id) -> str | None:
    if order_id is not None and (not isinstance(order_id, str) or not 0 < len(order_id) <= 64):
        raise ValueError("order_id must be a string of 1 to 64 characters")
    return order_id

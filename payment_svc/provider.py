"""The mock card provider payment_svc charges, and the dependency that hands it out.

`MockProvider` stands in for an external payment provider: it is in-process and keeps
its ledger in memory, so it forgets everything when the process stops and each
payment_svc process has its own. A real provider keeps its ledger; our own guarantees
(one payments row per order, its state under a row lock) never rely on this one's.
What it does model faithfully:

* idempotency: a charge repeated with the same key answers the first answer again and
  never captures twice; a refund repeated with the same key refunds once;
* the tokens of DESIGN.md: `tok_ok` captures, `tok_declined`/`tok_insufficient_funds`
  (and any unknown token) are declined, `tok_flaky` raises `ProviderError` on its
  first two calls per key, `tok_slow` answers after `slow_s` seconds;
* a refund of a capture it has never seen (made before a restart, or by another
  process) is accepted, as the real provider would know it.

Tests read the ledger (`captures_for`, `charge_calls`, `refunds_for`) and can take the
provider down (`down = True`: every call raises ProviderError).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass

import eventlet
from eventlet import patcher
from nameko.extensions import DependencyProvider

from payment_svc import domain

# A native lock: never held across a yield, so it also serialises green threads.
_Lock = patcher.original("threading").Lock

FLAKY_FAILURES = 2


class ProviderError(Exception):
    """A transient provider failure (timeout, 5xx): the call may be repeated."""


@dataclass(frozen=True)
class ChargeResult:
    status: str  # "captured" | "declined"
    provider_ref: str | None
    reason: str | None = None

    @property
    def captured(self) -> bool:
        return self.status == "captured"


@dataclass(frozen=True)
class RefundResult:
    status: str  # "refunded"
    provider_ref: str
    amount_cents: int


class MockProvider:
    """In-memory card provider, idempotent per key (see the module docstring)."""

    def __init__(self, slow_s: float = 5.0):
        self.slow_s = slow_s
        self.down = False
        self._lock = _Lock()
        self._charges: dict[str, ChargeResult] = {}
        self._captured: Counter = Counter()
        self._calls: Counter = Counter()
        self._flaky_failures: Counter = Counter()
        self._refunds: dict[str, RefundResult] = {}
        self._refunded: Counter = Counter()

    def charge(self, token: str, amount_cents: int, currency: str,
               idempotency_key: str) -> ChargeResult:
        """Capture `amount_cents` once per key; the same key answers the same again."""
        kind = domain.token_kind(token)
        with self._lock:
            self._calls[idempotency_key] += 1
            if self.down:
                raise ProviderError("provider unavailable")
            result = self._charges.get(idempotency_key)
            if result is None:
                if kind == domain.FLAKY and self._flaky_failures[idempotency_key] < FLAKY_FAILURES:
                    self._flaky_failures[idempotency_key] += 1
                    raise ProviderError("provider timed out (tok_flaky)")
                if kind == domain.DECLINED:
                    result = ChargeResult("declined", f"ch_{uuid.uuid4().hex[:16]}",
                                          domain.PAYMENT_DECLINED)
                else:
                    result = ChargeResult("captured", f"ch_{uuid.uuid4().hex[:16]}")
                    self._captured[idempotency_key] += 1
                self._charges[idempotency_key] = result
        if kind == domain.SLOW:
            eventlet.sleep(self.slow_s)  # recorded first, so a duplicate call is still safe
        return result

    def refund(self, provider_ref: str, amount_cents: int,
               idempotency_key: str) -> RefundResult:
        """Return `amount_cents` of the capture `provider_ref`, once per key."""
        with self._lock:
            if self.down:
                raise ProviderError("provider unavailable")
            result = self._refunds.get(idempotency_key)
            if result is None:
                result = RefundResult("refunded", f"re_{uuid.uuid4().hex[:16]}", amount_cents)
                self._refunds[idempotency_key] = result
                self._refunded[provider_ref] += amount_cents
            return result

    # ---- the ledger, for tests and operators ---------------------------------------

    def captures_for(self, idempotency_key: str) -> int:
        """How many times money was captured under this key (never more than 1)."""
        return self._captured[idempotency_key]

    def charge_calls(self, idempotency_key: str) -> int:
        """How many charge calls (failed ones included) were made with this key."""
        return self._calls[idempotency_key]

    def refunds_for(self, idempotency_key: str) -> int:
        """How many refunds were made under this key (never more than 1)."""
        return 1 if idempotency_key in self._refunds else 0

    def refunded_cents(self, provider_ref: str) -> int:
        return self._refunded[provider_ref]


class Provider(DependencyProvider):
    """Gives every worker the container's one MockProvider (PAYMENT_SLOW_S from config)."""

    def setup(self):
        self.provider = MockProvider(slow_s=float(self.container.config.get("PAYMENT_SLOW_S", 5)))

    def get_dependency(self, worker_ctx):
        return self.provider

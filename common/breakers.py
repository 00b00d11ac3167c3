"""A circuit breaker per downstream service: fail at once while a service is down.

Without one, every call to a service that hangs waits out its RPC timeout (5 s), and
the callers' green threads and proxies pile up behind it. A breaker counts one
service's failures in a row; after BREAKER_FAILURES of them it opens: calls fail at
once with BreakerOpen (503 service_unavailable, `Retry-After`) for BREAKER_RESET_S
seconds. Then it is half-open: one call, the probe, goes through while the others
still fail at once; the probe's success closes the breaker, its failure opens it for
another BREAKER_RESET_S.

Only failures that say the service is unhealthy count (`is_failure`): no reply in
time (UpstreamTimeout), nothing consuming its queue or the broker unreachable
(ServiceUnavailable), a connection error. An answer of the service, even an error
(404, 409, a validation error), is the service working: it ends the run. So is an
error about another service: order_svc's 503 because inventory_svc is down names
inventory_svc in its details, and order_svc answered. The caller's own saturation (an
exhausted proxy pool: `breaker_neutral = True` on the exception) made no call: it
neither counts nor ends the run.

Built on the `circuitbreaker` package's CircuitBreaker (its count, its timing, its
states); ServiceBreaker adds the single half-open probe (the package lets every call
through once the time is up, so a service that hangs would hold them all again).
States are per process: each gateway and service process learns on its own.

    breakers = Breakers(failures=5, reset_s=5.0, services=["inventory_svc"])
    breakers.call("inventory_svc", pool.call, "inventory_svc", "get_product", sku=sku)
    breakers.states()  # {"inventory_svc": "closed"}  (or "open", "half_open")
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from circuitbreaker import STATE_CLOSED, STATE_HALF_OPEN, STATE_OPEN, CircuitBreaker
from nameko.exceptions import RpcTimeout, UnknownService
from nameko.extensions import DependencyProvider
from prometheus_client import Gauge

from common.errors import BreakerOpen, ServiceUnavailable, UpstreamTimeout

DEFAULT_FAILURES = 5
DEFAULT_RESET_S = 5.0
# A state as a number, for a gauge: anything above 0 is worth a look.
STATE_VALUES = {STATE_CLOSED: 0, STATE_HALF_OPEN: 1, STATE_OPEN: 2}
# Raw transport failures (a caller that does not map them first).
TRANSPORT_ERRORS = (ConnectionError, OSError, RpcTimeout, UnknownService)

# A service process's breakers (the gateway has series of its own, gateway/metrics.py).
SERVICE_BREAKER_STATE = Gauge(
    "service_breaker_state",
    "Circuit breaker of each service this one calls: 0 closed, 1 half-open, 2 open",
    ["service", "downstream"])


def is_failure(service: str, exc: BaseException) -> bool:
    """Whether `exc`, raised by a call to `service`, says that `service` is unhealthy."""
    if isinstance(exc, BreakerOpen) or getattr(exc, "breaker_neutral", False):
        return False
    if isinstance(exc, (UpstreamTimeout, ServiceUnavailable)):
        details = exc.details if isinstance(exc.details, dict) else {}
        return details.get("service", service) == service
    return isinstance(exc, TRANSPORT_ERRORS)


class ServiceBreaker(CircuitBreaker):
    """One service's breaker: CircuitBreaker with one probe at a time when half-open."""

    def __init__(self, service: str, failures: int, reset_s: float):
        super().__init__(failure_threshold=failures, recovery_timeout=reset_s, name=service,
                         expected_exception=lambda _type, exc: is_failure(service, exc))
        self.service = service
        self.probing = False
        self.rejected = 0  # calls failed at once, for the metrics

    def call(self, func: Callable[..., Any], *args, **kwargs) -> Any:
        """`func(*args, **kwargs)` under the breaker; BreakerOpen (nothing called) while
        open, or while half-open with the probe still out."""
        state = self.state
        if state == STATE_OPEN or (state == STATE_HALF_OPEN and self.probing):
            self.rejected += 1
            raise self.open_error()
        probe = state == STATE_HALF_OPEN
        if probe:
            self.probing = True
        try:
            result = func(*args, **kwargs)
        except Exception as exc:
            if not getattr(exc, "breaker_neutral", False):
                self.__exit__(type(exc), exc, exc.__traceback__)  # counts, or ends the run
            raise
        finally:  # also when interrupted (GreenletExit): the next call probes instead
            if probe:
                self.probing = False
        self.reset()
        return result

    def open_error(self) -> BreakerOpen:
        retry_after_s = max(1, self.open_remaining)
        return BreakerOpen(f"{self.service} is unavailable; retry after {retry_after_s} s",
                           {"service": self.service, "breaker": self.state,
                            "retry_after_s": retry_after_s})


class Breakers:
    """The breakers of one process, one per service (made on first use)."""

    def __init__(self, failures: int = DEFAULT_FAILURES, reset_s: float = DEFAULT_RESET_S,
                 services: Iterable[str] = ()):
        if int(failures) < 1 or float(reset_s) <= 0:
            raise ValueError(f"BREAKER_FAILURES={failures!r} must be >= 1 and "
                             f"BREAKER_RESET_S={reset_s!r} > 0")
        self.failures = int(failures)
        self.reset_s = float(reset_s)
        self.breakers: dict[str, ServiceBreaker] = {}
        for service in services:  # their states are reported (closed) from the start
            self.breaker(service)

    @classmethod
    def from_config(cls, config: dict, services: Iterable[str] = ()) -> Breakers:
        """From BREAKER_FAILURES and BREAKER_RESET_S; a bad value stops the start."""
        def setting(name, default):
            value = config.get(name)
            return default if value in (None, "") else value

        try:
            failures = int(setting("BREAKER_FAILURES", DEFAULT_FAILURES))
            reset_s = float(setting("BREAKER_RESET_S", DEFAULT_RESET_S))
        except (TypeError, ValueError):
            raise ValueError("BREAKER_FAILURES must be a whole number and BREAKER_RESET_S "
                             "a number of seconds") from None
        return cls(failures, reset_s, services)

    def breaker(self, service: str) -> ServiceBreaker:
        found = self.breakers.get(service)
        if found is None:
            found = self.breakers.setdefault(
                service, ServiceBreaker(service, self.failures, self.reset_s))
        return found

    def call(self, service: str, func: Callable[..., Any], *args, **kwargs) -> Any:
        """`func(*args, **kwargs)`, a call to `service`, under that service's breaker."""
        return self.breaker(service).call(func, *args, **kwargs)

    def states(self) -> dict[str, str]:
        """{service: "closed" | "open" | "half_open"}, by name."""
        return {name: breaker.state for name, breaker in sorted(self.breakers.items())}


class CircuitBreakers(DependencyProvider):
    """A nameko service's Breakers for the services it calls, from its config:

        breakers = CircuitBreakers("inventory_svc", "delivery_svc")
        call_service(self.inventory, "get_products", skus, timeout=5,
                     breakers=self.breakers)

    Each breaker's state is the gauge `service_breaker_state{service, downstream}`.
    """

    def __init__(self, *downstream: str):
        self.downstream = downstream
        self.breakers: Breakers | None = None

    def setup(self):
        self.breakers = Breakers.from_config(self.container.config, self.downstream)
        for name, breaker in self.breakers.breakers.items():
            SERVICE_BREAKER_STATE.labels(self.container.service_name, name).set_function(
                lambda breaker=breaker: STATE_VALUES[breaker.state])

    def get_dependency(self, worker_ctx) -> Breakers:
        return self.breakers

"""Admission control: a bound on the RPCs in flight from this process to each service.

Past saturation, a request the cluster cannot start soon is better answered at once
with a 503 and `Retry-After` than queued into a client timeout. Every view's RPC goes
through `Admission.slot(service)` (gateway/rpc.py): a call may start when fewer than
the service's limit are in flight from this gateway process; otherwise it waits at
most `wait_s` for a slot (a few ms absorb a burst without shedding it) and is then
shed: `Overloaded`, a ServiceUnavailable, which gateway/errors.py answers as 503
`service_unavailable` with `Retry-After: retry_after_s`.

Settings (config.yml, per gateway process; several processes each admit their own):

* GATEWAY_MAX_IN_FLIGHT: the default limit of every service (0 = unbounded);
* GATEWAY_MAX_IN_FLIGHT_SERVICES: `{service: limit}` overrides (empty = the default);
* GATEWAY_ADMISSION_WAIT_MS: the longest wait for a slot before shedding;
* GATEWAY_SHED_RETRY_AFTER_S: the `Retry-After` of a shed answer (whole seconds, >= 1).

/ready's health checks use their own pool and are never shed: a saturated cluster is
still alive. The counts are served at /metrics (gateway/metrics.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from common.errors import ServiceUnavailable

DEFAULT_MAX_IN_FLIGHT = 8
DEFAULT_WAIT_MS = 0.0
DEFAULT_RETRY_AFTER_S = 1


class Overloaded(ServiceUnavailable):
    """Shed by admission control: the service already has its limit of calls in flight."""

    def __init__(self, service: str, limit: int, retry_after_s: int):
        super().__init__(f"{service} is at capacity; retry after {retry_after_s} s",
                         {"service": service, "limit": limit, "retry_after_s": retry_after_s})
        self.retry_after_s = retry_after_s


class Admission:
    """Per-service in-flight limits of one gateway process.

    `limits` maps a service to its limit; others get `default`. A limit <= 0 means
    unbounded (counted, never shed). Thread-safe (green threads under the server).
    """

    def __init__(self, default: int = DEFAULT_MAX_IN_FLIGHT,
                 limits: Mapping[str, int] | None = None, wait_s: float = 0.0,
                 retry_after_s: int = DEFAULT_RETRY_AFTER_S, services=()):
        self.default = int(default)
        self.limits = {name: int(value) for name, value in (limits or {}).items()}
        self.wait_s = max(0.0, float(wait_s))
        self.retry_after_s = max(1, int(retry_after_s))
        self._lock = threading.Lock()
        self._slots: dict[str, threading.Semaphore | None] = {}
        self.in_flight: dict[str, int] = {}
        self.shed: dict[str, int] = {}
        for service in services:  # their series exist (at 0) from the start
            self._slots_of(service)

    @classmethod
    def from_config(cls, config: dict) -> Admission:
        """Built from the GATEWAY_* settings above; a bad value stops the start."""
        def setting(name, default):
            value = config.get(name)
            return default if value in (None, "") else value

        overrides = config.get("GATEWAY_MAX_IN_FLIGHT_SERVICES") or {}
        return cls(
            default=_int("GATEWAY_MAX_IN_FLIGHT",
                         setting("GATEWAY_MAX_IN_FLIGHT", DEFAULT_MAX_IN_FLIGHT)),
            limits={name: _int(f"GATEWAY_MAX_IN_FLIGHT_SERVICES.{name}", value)
                    for name, value in overrides.items() if value not in (None, "")},
            wait_s=float(setting("GATEWAY_ADMISSION_WAIT_MS", DEFAULT_WAIT_MS)) / 1000,
            retry_after_s=_int("GATEWAY_SHED_RETRY_AFTER_S",
                               setting("GATEWAY_SHED_RETRY_AFTER_S", DEFAULT_RETRY_AFTER_S)),
            services=config.get("SERVICES") or ())

    def limit(self, service: str) -> int:
        """The in-flight limit of `service` (<= 0: unbounded)."""
        return self.limits.get(service, self.default)

    @contextmanager
    def slot(self, service: str) -> Iterator[None]:
        """Hold one of `service`'s slots for the block, or raise Overloaded (nothing run)."""
        slots = self._slots_of(service)
        if slots is not None and not self._acquire(slots):
            with self._lock:
                self.shed[service] += 1
            raise Overloaded(service, self.limit(service), self.retry_after_s)
        with self._lock:
            self.in_flight[service] += 1
        try:
            yield
        finally:
            with self._lock:
                self.in_flight[service] -= 1
            if slots is not None:
                slots.release()

    def _acquire(self, slots: threading.Semaphore) -> bool:
        # No wait configured: take a free slot or shed, never block.
        if self.wait_s > 0:
            return slots.acquire(timeout=self.wait_s)
        return slots.acquire(blocking=False)

    def _slots_of(self, service: str) -> threading.Semaphore | None:
        try:
            return self._slots[service]
        except KeyError:
            with self._lock:
                if service not in self._slots:
                    limit = self.limit(service)
                    self._slots[service] = threading.Semaphore(limit) if limit > 0 else None
                    self.in_flight.setdefault(service, 0)
                    self.shed.setdefault(service, 0)
                return self._slots[service]


def _int(name: str, value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} is not a whole number") from None

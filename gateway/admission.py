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
* GATEWAY_SHED_RETRY_AFTER_S: the `Retry-After` of a shed answer (whole seconds, >= 1);
* GATEWAY_LATENCY_TARGET_MS: when > 0, each limit adapts to keep the calls admitted
  within about this long (Gate); the configured limit is then its ceiling.

Shedding must be cheap, or the shed requests themselves saturate the gateway: with
no wait configured, `install` adds a hook that answers the 503 before the rate
limits, the token check and the body are looked at, for the views whose every call
goes to one service (EARLY_SHED: blueprint -> service) while that service is at its
limit. The slot itself is still taken at the call, so the hook only ever sheds what the
call would have shed a moment later (a request that would have been a 400 or 401 gets
the 503 instead, and its retry gets the real answer).

/ready's health checks use their own pool and are never shed: a saturated cluster is
still alive. The counts are served at /metrics (gateway/metrics.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from flask import Flask, request

from common.errors import ServiceUnavailable

DEFAULT_MAX_IN_FLIGHT = 8
DEFAULT_WAIT_MS = 0.0
DEFAULT_RETRY_AFTER_S = 1
DEFAULT_TARGET_MS = 0.0
# The adaptive limit's cut after a call slower than the target.
DECREASE = 0.9
# Blueprints whose views call exactly one service (products: no, its GETs are served
# from the catalog cache without a call).
EARLY_SHED = {"orders": "order_svc", "auth": "user_svc", "users": "user_svc",
              "notifications": "notify_svc"}


class Overloaded(ServiceUnavailable):
    """Shed by admission control: the service already has its limit of calls in flight."""

    def __init__(self, service: str, limit: int, retry_after_s: int):
        super().__init__(f"{service} is at capacity; retry after {retry_after_s} s",
                         {"service": service, "limit": limit, "retry_after_s": retry_after_s})
        self.retry_after_s = retry_after_s


class Gate:
    """One service's admission: its calls in flight, its limit now, the calls it shed.

    `ceiling` is the configured limit (<= 0: unbounded). With a `target_s`, the limit
    adapts between 1 and the ceiling (AIMD, as TCP does with its window): a call that
    took longer than the target cuts it by DECREASE, a faster one raises it by
    1/limit (about one per limit's worth of calls). So the calls admitted keep
    answering within about the target whatever the service can do right now (a busy
    box, a slow database), and the rest are shed at once instead of queued.
    """

    def __init__(self, ceiling: int, target_s: float = 0.0):
        self.ceiling = int(ceiling)
        self.target_s = max(0.0, float(target_s))
        self.limit = float(max(self.ceiling, 0))
        self.in_flight = 0
        self.shed = 0
        self._cond = threading.Condition()

    def open(self) -> bool:
        """Whether one more call may start now."""
        return self.ceiling <= 0 or self.in_flight < int(self.limit)

    def enter(self, wait_s: float) -> bool:
        """Take a slot, waiting up to `wait_s` for one; False (counted as shed) if none."""
        with self._cond:
            if not self.open() and wait_s > 0:
                self._cond.wait_for(self.open, timeout=wait_s)
            if not self.open():
                self.shed += 1
                return False
            self.in_flight += 1
            return True

    def leave(self, took_s: float) -> None:
        """Give the slot back after a call of `took_s` seconds (failed or not)."""
        with self._cond:
            self.in_flight -= 1
            if self.target_s > 0 and self.ceiling > 0:
                if took_s > self.target_s:
                    self.limit = max(1.0, self.limit * DECREASE)
                else:
                    self.limit = min(float(self.ceiling), self.limit + 1 / self.limit)
            self._cond.notify()


class Admission:
    """Per-service gates of one gateway process.

    `limits` maps a service to its limit; others get `default`. A limit <= 0 means
    unbounded (counted, never shed). `target_s` > 0 makes every limit adaptive (Gate).
    Thread-safe (green threads under the server).
    """

    def __init__(self, default: int = DEFAULT_MAX_IN_FLIGHT,
                 limits: Mapping[str, int] | None = None, wait_s: float = 0.0,
                 retry_after_s: int = DEFAULT_RETRY_AFTER_S, target_s: float = 0.0,
                 services=(), clock=time.monotonic):
        self.default = int(default)
        self.limits = {name: int(value) for name, value in (limits or {}).items()}
        self.wait_s = max(0.0, float(wait_s))
        self.retry_after_s = max(1, int(retry_after_s))
        self.target_s = max(0.0, float(target_s))
        self.clock = clock
        self.gates: dict[str, Gate] = {}
        for service in services:  # their series exist (at 0) from the start
            self.gate(service)

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
            target_s=float(setting("GATEWAY_LATENCY_TARGET_MS", DEFAULT_TARGET_MS)) / 1000,
            services=config.get("SERVICES") or ())

    def gate(self, service: str) -> Gate:
        """The gate of `service` (made on first use)."""
        gate = self.gates.get(service)
        if gate is None:
            gate = self.gates.setdefault(service, Gate(
                self.limits.get(service, self.default), self.target_s))
        return gate

    def shed_early(self, service: str) -> None:
        """Overloaded now if `service` has no free slot (see `install`); else nothing."""
        gate = self.gate(service)
        if not gate.open():
            gate.shed += 1
            raise self._overloaded(service, gate)

    @contextmanager
    def slot(self, service: str) -> Iterator[None]:
        """Hold one of `service`'s slots for the block, or raise Overloaded (nothing run)."""
        gate = self.gate(service)
        if not gate.enter(self.wait_s):
            raise self._overloaded(service, gate)
        started = self.clock()
        try:
            yield
        finally:
            gate.leave(self.clock() - started)

    def _overloaded(self, service: str, gate: Gate) -> Overloaded:
        return Overloaded(service, int(gate.limit), self.retry_after_s)


def install(app: Flask, admission: Admission) -> None:
    """Shed early (see above) when no wait is configured; call before the rate limits."""
    if admission.wait_s > 0:
        return  # a slot may free up within the wait: only the call can tell

    def shed_early() -> None:
        service = EARLY_SHED.get(request.blueprint or "")
        if service is not None:
            admission.shed_early(service)

    app.before_request(shed_early)


def _int(name: str, value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} is not a whole number") from None

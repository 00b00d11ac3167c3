"""/health (liveness, no I/O) and /ready (RabbitMQ and every service answer in time).

/ready asks the broker and each service in config["SERVICES"] in parallel, each
service through its `health()` RPC (which checks the service's own database), and
names what failed: "not running", "timeout" or "error: <reason>". Its answer also
gives the state of this gateway process's circuit breaker of each service
("breakers": {service: "closed" | "open" | "half_open"}, common/breakers.py): the checks
go around the breakers (a pool of their own), so they say how the services are now,
the breakers what the views' calls met lately.
"""

from __future__ import annotations

import logging

import eventlet
from flask import Blueprint

from common.broker import connect
from common.errors import ServiceError, ServiceUnavailable, UpstreamTimeout
from common.logging import set_context
from gateway.context import SERVICE_NAME, request_id
from gateway.state import state

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)

OK = "ok"
# The pool's own timeout should fire first (it drops the proxy cleanly); this guard
# only bounds a check stuck somewhere the pool's timeout does not cover.
GUARD_S = 0.5


@bp.get("/health")
def health():
    """200 for as long as the process serves requests."""
    return {"status": "ok"}


@bp.get("/ready")
def ready():
    """200 {"status": "ready", "checks", "breakers"} or 503 service_unavailable naming
    the failures (details: {"checks", "breakers"})."""
    checks = run_checks()
    breakers = state().breakers.states()
    failed = sorted(name for name, result in checks.items() if result != OK)
    if failed:
        raise ServiceUnavailable("not ready: " + ", ".join(failed),
                                 {"checks": checks, "breakers": breakers})
    return {"status": "ready", "checks": checks, "breakers": breakers}


def run_checks() -> dict[str, str]:
    """Every check's result ("ok" or a short reason), all run at once."""
    gw = state()
    rid = request_id()
    jobs = {"rabbitmq": gw.broker_check}
    for service in gw.config.get("SERVICES") or []:
        jobs[service] = _service_check(gw.ready_rpc, service, rid)
    pool = eventlet.GreenPool(len(jobs))
    threads = {name: pool.spawn(_guarded, job, rid, gw.ready_timeout + GUARD_S)
               for name, job in jobs.items()}
    return {name: thread.wait() for name, thread in threads.items()}


def _service_check(ready_rpc, service: str, rid: str):
    def check() -> None:
        answer = ready_rpc.call(service, "health", correlation_id=rid)
        status = answer.get("status", OK) if isinstance(answer, dict) else OK
        if status != OK:
            raise ServiceError(f"status {status}")

    return check


def _guarded(check, rid: str, limit: float) -> str:
    # Log context is greenlet-local: bind the request's id in this green thread too.
    set_context(rid, SERVICE_NAME, "health.ready")
    try:
        with eventlet.Timeout(limit):
            check()
        return OK
    except (eventlet.Timeout, UpstreamTimeout):
        return "timeout"
    except ServiceError as exc:
        return "not running" if "not running" in exc.message else f"error: {exc.message}"
    except Exception as exc:  # a readiness probe reports, it never fails itself
        log.warning("readiness check failed", exc_info=True)
        return f"error: {exc}"[:200]


def ping_broker(amqp_uri: str, timeout: float) -> None:
    """Open and close one AMQP connection; raise if that fails or takes too long."""
    try:
        # Each address once, no sleep (kombu's default waits 2 s before a second try).
        with eventlet.Timeout(timeout), connect(amqp_uri, timeout):
            pass
    except eventlet.Timeout:
        raise UpstreamTimeout("RabbitMQ did not answer in time") from None
    except Exception as exc:
        raise ServiceUnavailable(f"RabbitMQ unreachable ({type(exc).__name__})") from None

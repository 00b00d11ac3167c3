"""/admin/dead-letters: what failed for good in each service, and what to do with it.

Dead letters are broker state (each service's `<service>.dead-letters` queue), so the
gateway reads them from RabbitMQ itself: a service that is down can still be inspected.
"""

from __future__ import annotations

from flask import Blueprint

from common.deadletters import DeadLetterAdmin
from common.errors import NotFound
from gateway.auth import require_auth
from gateway.body import json_body
from gateway.schemas import EmptyRequest
from gateway.state import state

bp = Blueprint("deadletters", __name__, url_prefix="/admin/dead-letters")

MESSAGE_FIELDS = ("event_type", "event_id", "error", "attempts")
SHOWN_PER_SERVICE = 100


def admin() -> DeadLetterAdmin:
    current = state()
    if current.dead_letters is None:
        current.dead_letters = DeadLetterAdmin(current.config,
                                               timeout=float(current.config.get(
                                                   "RPC_TIMEOUT_S", 5)))
    return current.dead_letters


def known(service: str) -> str:
    if service not in (state().config.get("SERVICES") or []):
        raise NotFound(f"no service {service!r}", {"service": service})
    return service


@bp.get("")
@require_auth(role="admin")
def list_dead_letters():
    """Per service: {count, messages: [{event_type, event_id, error, attempts}]}."""
    services = {}
    for service in state().config.get("SERVICES") or []:
        found = admin().inspect(service, SHOWN_PER_SERVICE)
        services[service] = {
            "count": found["count"],
            "messages": [{k: m.get(k) for k in MESSAGE_FIELDS} for m in found["messages"]]}
    return {"services": services, "total": sum(s["count"] for s in services.values())}


@bp.post("/<service>/replay")
@require_auth(role="admin")
def replay(service: str):
    """Send every dead letter of `service` back to its handler: {replayed: n}."""
    json_body(EmptyRequest)
    return {"replayed": admin().replay(known(service))}


@bp.delete("/<service>")
@require_auth(role="admin")
def purge(service: str):
    """Drop every dead letter of `service`: {purged: n}."""
    json_body(EmptyRequest)
    return {"purged": admin().purge(known(service))}

"""/admin/dead-letters: what failed for good in each service, and what to do with it.

Each service keeps its dead letters in its own table (common.deadletters), where
reading them changes nothing; the gateway asks each service over RPC. A service that
is down cannot be asked: the answer is 503 service_unavailable naming it.
"""

from __future__ import annotations

from flask import Blueprint

from common.errors import NotFound
from gateway import rpc
from gateway.auth import require_auth
from gateway.body import json_body
from gateway.schemas import EmptyRequest
from gateway.state import state

bp = Blueprint("deadletters", __name__, url_prefix="/admin/dead-letters")

MESSAGE_FIELDS = ("event_type", "event_id", "error", "attempts")
SHOWN_PER_SERVICE = 100


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
        found = rpc.call(service, "list_dead_letters", limit=SHOWN_PER_SERVICE)
        services[service] = {
            "count": found["count"],
            "messages": [{k: m.get(k) for k in MESSAGE_FIELDS} for m in found["messages"]]}
    return {"services": services, "total": sum(s["count"] for s in services.values())}


@bp.post("/<service>/replay")
@require_auth(role="admin")
def replay(service: str):
    """Send every dead letter of `service` back to its handler: {replayed: n}."""
    json_body(EmptyRequest)
    return {"replayed": rpc.call(known(service), "replay_dead_letters")}


@bp.delete("/<service>")
@require_auth(role="admin")
def purge(service: str):
    """Drop every dead letter of `service`: {purged: n}."""
    json_body(EmptyRequest)
    return {"purged": rpc.call(known(service), "purge_dead_letters")}

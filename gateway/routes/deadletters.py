"""/admin/dead-letters: what failed for good in each service, and what to do with it.

Each service keeps its dead letters in its own table (common.deadletters), where
reading them changes nothing; the gateway asks each service over RPC. A service that
is down cannot be asked: the answer is 503 service_unavailable naming it. Replay and
purge take every letter of a service, or (with the event's id in the path) the letters
of one event.
"""

from __future__ import annotations

import re

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
# What an event id may look like (a UUID, in practice); anything else is kept by no one.
EVENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def known(service: str) -> str:
    if service not in (state().config.get("SERVICES") or []):
        raise NotFound(f"no service {service!r}", {"service": service})
    return service


def letters_of(service: str, event_id: str, method: str) -> int:
    """Replay or purge the letters of one event: how many; NotFound when none was."""
    if EVENT_ID.fullmatch(event_id) is None:
        raise NotFound("no such dead letter", {"service": service, "event_id": event_id})
    done = rpc.call(known(service), method, event_id=event_id)
    if not done:
        raise NotFound(f"{service} keeps no dead letter of event {event_id}",
                       {"service": service, "event_id": event_id})
    return done


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


@bp.post("/<service>/<event_id>/replay")
@require_auth(role="admin")
def replay_one(service: str, event_id: str):
    """Send the dead letter(s) of one event back to their handlers: {replayed: n};
    404 when `service` keeps none of it (or the broker refused it again)."""
    json_body(EmptyRequest)
    return {"replayed": letters_of(service, event_id, "replay_dead_letters")}


@bp.delete("/<service>/<event_id>")
@require_auth(role="admin")
def purge_one(service: str, event_id: str):
    """Drop the dead letter(s) of one event: {purged: n}; 404 when none is kept."""
    json_body(EmptyRequest)
    return {"purged": letters_of(service, event_id, "purge_dead_letters")}

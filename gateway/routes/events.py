"""GET /events/stream: Server-Sent Events for the signed-in user only.

Authenticated by the `Authorization: Bearer` header or, for browsers' EventSource
(which cannot send headers), `?access_token=`; a missing or bad token is the usual JSON
401, an API client (no user, so no events) a 403, and a 503 when this process already
holds STREAM_MAX_OPEN (default 1500) streams. The answer is `text/event-stream`,
written chunk by chunk as it happens:

    : connected
    retry: 3000

    id: <event_id>
    event: order.status
    data: {"order_id":"...","status":"CONFIRMED","reason":null}

    id: <event_id>
    event: notification
    data: {"id":"...","kind":"order_confirmed","subject":"..."}

    : heartbeat

A `: heartbeat` comment goes out after STREAM_HEARTBEAT_S (default 15) seconds without
anything else, which keeps proxies from closing an idle stream and lets the server
notice a client that went away (the write fails, the subscription is removed). A
reconnect with `Last-Event-ID` (or `?last_event_id=` for EventSource polyfills) first
gets the buffered messages after that id (see gateway.stream.EventHub.subscribe).
The stream ends when the access token expires (after a `: token expired` comment):
the client reconnects with a fresh token and its Last-Event-ID.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from flask import Blueprint, Response, request
from werkzeug.exceptions import TooManyRequests

from common.errors import Forbidden, ServiceUnavailable
from common.logging import clear_context, set_context
from common.tokens import Principal
from gateway.auth import bearer_or_query_token, principal_from, token_expiry
from gateway.context import SERVICE_NAME, request_id
from gateway.state import state
from gateway.stream import EventHub, Subscription
from gateway.stream_slots import DEFAULT_MAX_PER_USER, StreamSlots

bp = Blueprint("events", __name__, url_prefix="/events")

DEFAULT_HEARTBEAT_S = 15.0
# Open streams per gateway process; keep it below GATEWAY_MAX_CONNECTIONS (server.py,
# default 2000), so ordinary requests always find a free connection slot.
DEFAULT_MAX_OPEN = 1500
RETRY_MS = 3000
# Until the feed has subscribed to the broker for the first time (just after start-up),
# a new stream waits up to this long for it, so it does not miss the events that follow.
FEED_START_WAIT_S = 2.0

CONNECTED = f": connected\nretry: {RETRY_MS}\n\n".encode()
HEARTBEAT = b": heartbeat\n\n"
EXPIRED = b": token expired\n\n"

STREAM_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx: pass each chunk on at once
}


def last_event_id() -> str | None:
    """The client's `Last-Event-ID` header, else its `?last_event_id=`, else None."""
    value = request.headers.get("Last-Event-ID")
    if value is None:
        value = request.args.get("last_event_id")
    value = (value or "").strip()
    return value or None


@bp.get("/stream")
def stream():
    """Open the caller's live stream (see the module docstring)."""
    token = bearer_or_query_token()
    principal = principal_from(token)
    if principal.kind != "user":
        raise Forbidden("API clients have no event stream: events belong to users")
    gw = state()
    hub: EventHub = gw.stream
    max_open = int(gw.config.get("STREAM_MAX_OPEN", DEFAULT_MAX_OPEN))
    if hub.subscriber_count() >= max_open:
        raise ServiceUnavailable(f"too many open streams on this gateway ({max_open}); "
                                 "try again later")
    slots: StreamSlots = gw.stream_slots
    per_user = int(gw.config.get("STREAM_MAX_PER_USER", DEFAULT_MAX_PER_USER))
    if not slots.take(principal.subject, per_user):
        raise TooManyRequests(f"at most {per_user} open streams per user; close one first")
    try:  # from the slot on: whatever fails gives it back
        hub.start()  # no-op once started (server.py starts it with the process)
        hub.wait_ready(FEED_START_WAIT_S)  # at once after the feed has read its backlog
        heartbeat = float(gw.config.get("STREAM_HEARTBEAT_S", DEFAULT_HEARTBEAT_S))
        # eventlet.wsgi gathers small chunks into 4 KiB writes by default: write each now.
        request.environ["eventlet.minimum_write_chunk_size"] = 0
        revocations = gw.revocations
        body = _messages(hub, principal, last_event_id(), heartbeat,
                         token_expiry(token), request_id(), request.endpoint,
                         revoked=lambda: revocations.covers(principal))
        response = Response(body, mimetype="text/event-stream", headers=STREAM_HEADERS)
    except BaseException:
        slots.give_back(principal.subject)
        raise
    # The server closes the response when the stream ends, started or not.
    response.call_on_close(lambda: slots.give_back(principal.subject))
    return response


def _messages(hub: EventHub, principal: Principal, last_id: str | None, heartbeat: float,
              expires_at: int | None, rid: str, endpoint: str | None,
              revoked: Callable[[], bool] = lambda: False) -> Iterator[bytes]:
    """The stream's chunks. Runs after the view returned: no request context here.

    The subscription is made when the server starts sending (a generator closed before
    its first step runs no `finally`). When the client goes away, the server's next
    write fails and it closes this generator: `finally` removes the subscription.
    """
    set_context(rid, SERVICE_NAME, endpoint)
    sub: Subscription = hub.subscribe(principal.subject, last_id, principal.session)
    if revoked():  # revoked between the view's check and now: close_sessions missed it
        sub.close()
    try:
        yield CONNECTED
        for message in sub.replay:
            yield message.wire
        while not sub.closed:
            wait = heartbeat
            if expires_at is not None:
                left = expires_at - time.time()
                if left <= 0:
                    yield EXPIRED
                    break
                wait = min(wait, left)
            message = sub.next(wait)
            if sub.closed:
                break
            if message is not None:
                yield message.wire
            elif expires_at is None or time.time() < expires_at:
                yield HEARTBEAT
    finally:
        hub.unsubscribe(sub)
        clear_context()

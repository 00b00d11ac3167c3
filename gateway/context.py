"""Per-request context: the request id, the log context and the access log.

The request id is the client's `X-Request-ID` when it is sane (1-128 printable ASCII
characters), else a new uuid4. It is echoed on every response, passed as the
`correlation_id` of every RPC (gateway/rpc.py) and bound into every log line written
while the request runs.
"""

from __future__ import annotations

import logging
import re
import time

from flask import Flask, Response, g, request

from common.logging import clear_context, new_correlation_id, set_context

REQUEST_ID_HEADER = "X-Request-ID"
SERVICE_NAME = "gateway"

# Printable ASCII only: the id is echoed into a header and into log lines, so control
# characters (header splitting) and unbounded lengths are refused, not sanitised.
_VALID_REQUEST_ID = re.compile(r"[\x20-\x7e]{1,128}")

access_log = logging.getLogger("gateway.access")


def request_id() -> str:
    """The current request's id (created on first use outside the normal hooks)."""
    rid = g.get("request_id")
    if rid is None:
        rid = g.request_id = new_correlation_id()
    return rid


def _accept_request_id(value: str | None) -> str:
    if value and value.strip() and _VALID_REQUEST_ID.fullmatch(value):
        return value
    return new_correlation_id()


def begin_request() -> None:
    """Pick the request id and bind the log context (first before_request hook)."""
    g.started = time.monotonic()
    g.request_id = _accept_request_id(request.headers.get(REQUEST_ID_HEADER))
    set_context(g.request_id, SERVICE_NAME, request.endpoint)


def finish_response(response: Response) -> Response:
    """Echo the request id and write one access-log line."""
    response.headers[REQUEST_ID_HEADER] = request_id()
    started = g.get("started")
    duration_ms = round((time.monotonic() - started) * 1000, 2) if started else None
    access_log.info("%s %s %s", request.method, request.path, response.status_code,
                    extra={"method": request.method, "path": request.path,
                           "status": response.status_code, "duration_ms": duration_ms,
                           "remote_addr": request.remote_addr})
    return response


def end_request(_exc: BaseException | None) -> None:
    """Unbind the log context: the greenlet may serve another request next."""
    clear_context()


def install(app: Flask) -> None:
    """Register the hooks; call before any other before_request hook is added."""
    app.before_request(begin_request)
    app.after_request(finish_response)
    app.teardown_request(end_request)

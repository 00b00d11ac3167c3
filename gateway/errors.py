"""Every failure becomes `{"error": {"code", "message", "details"}}` with its status.

ERRORS is the one table from exception classes to the contract's (code, status).
The lookup walks the exception's MRO, so a service's own exceptions (for example
user_svc.exceptions.EmailTaken, a Conflict) map through their common.errors base,
and Werkzeug's HTTP errors through theirs. Anything not in the table is a bug:
it is logged with its traceback and answered with a generic 500.

Every 503 carries `Retry-After`: the shed answers of gateway/admission.py their own
(GATEWAY_SHED_RETRY_AFTER_S), any other UNAVAILABLE_RETRY_AFTER_S.

nameko rebuilds a service exception as its own class only if the caller imported
the module that registers it (`@remote`); otherwise it arrives as a RemoteError,
a 500. `register_service_exceptions` imports `<service>.exceptions` for every
service in config["SERVICES"], so new services need no change here.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable

from flask import Flask, Response, jsonify
from nameko.exceptions import RemoteError
from werkzeug import exceptions as http

from common import errors as svc
from gateway.admission import Overloaded

log = logging.getLogger(__name__)

ERRORS: dict[type[BaseException], tuple[str, int]] = {
    # Raised by services (arriving over RPC as real instances) and by the gateway.
    svc.ValidationError: ("validation_error", 400),
    svc.Unauthorized: ("unauthorized", 401),
    svc.Forbidden: ("forbidden", 403),
    svc.NotFound: ("not_found", 404),
    svc.PriceChanged: ("price_changed", 409),
    svc.Conflict: ("conflict", 409),
    svc.IdempotencyConflict: ("idempotency_conflict", 422),
    svc.ServiceUnavailable: ("service_unavailable", 503),
    svc.UpstreamTimeout: ("upstream_timeout", 504),
    # Raised by Flask/Werkzeug while routing or reading the body.
    http.BadRequest: ("validation_error", 400),
    http.Unauthorized: ("unauthorized", 401),
    http.Forbidden: ("forbidden", 403),
    http.NotFound: ("not_found", 404),
    http.MethodNotAllowed: ("method_not_allowed", 405),
    http.Conflict: ("conflict", 409),
    http.RequestEntityTooLarge: ("payload_too_large", 413),
    http.UnsupportedMediaType: ("unsupported_media_type", 415),
    http.TooManyRequests: ("rate_limited", 429),
}

INTERNAL_ERROR = ("internal_error", 500)
# Unexpected exceptions a service let through that mean "cannot reach my database"
# (SQLAlchemy's and psycopg2's names): an outage behind the service, so a 503 like a
# service that is down, not a 500 (the fuzzer met one when PostgreSQL ran out of
# connection slots).
UNAVAILABLE_REMOTE_ERRORS = frozenset({"OperationalError", "InterfaceError",
                                       "DisconnectionError", "TimeoutError"})
GENERIC_MESSAGE = "internal error; quote the X-Request-ID when reporting it"
# Retry-After (seconds) of a 503 that does not name its own: every 503 says when to come
# back (the contract's "shed load" answer, and RFC 9110's advice for 503).
UNAVAILABLE_RETRY_AFTER_S = 1


def lookup(exc: BaseException) -> tuple[str, int] | None:
    """The (code, status) of `exc`'s nearest class in ERRORS, or None."""
    for cls in type(exc).__mro__:
        if cls in ERRORS:
            return ERRORS[cls]
    return None


def error_response(code: str, status: int, message: str, details=None,
                   headers: dict[str, str] | None = None) -> Response:
    """A JSON error answer in the contract's format."""
    if details is None:
        details = {}
    elif not isinstance(details, dict):  # the contract's details is always an object
        details = {"detail": details}
    body = {"error": {"code": code, "message": message, "details": details}}
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        # RFC 9110 wants a challenge on every 401; the only scheme we take is Bearer.
        response.headers["WWW-Authenticate"] = "Bearer"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _http_error(exc: http.HTTPException) -> Response:
    code, status = lookup(exc) or (_snake(exc.name), exc.code or 500)
    headers = {}
    if isinstance(exc, http.MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(exc.valid_methods)
    message = exc.description or exc.name
    if status >= 500:
        log.error("HTTP %s raised inside the gateway: %s", status, message)
    return error_response(code, status, message, headers=headers)


def _snake(name: str) -> str:
    return "_".join(name.lower().split())


def handle_exception(exc: Exception) -> Response:
    """Flask error handler for every exception a view or hook lets through."""
    original = getattr(exc, "original_exception", None)
    if isinstance(exc, http.InternalServerError) and isinstance(original, Exception):
        # Flask wraps errors raised outside a view (an after_request hook, say) in a
        # 500; answer for, and log, the original one.
        exc = original
    if isinstance(exc, http.HTTPException) and not isinstance(exc, http.InternalServerError):
        return _http_error(exc)
    if isinstance(exc, RemoteError) and exc.exc_type in UNAVAILABLE_REMOTE_ERRORS:
        log.warning("a service cannot reach its database: %s", exc.value)
        return error_response("service_unavailable", 503,
                              "a service cannot reach its database; try again shortly",
                              headers=_retry_after(exc))
    mapped = lookup(exc)
    if mapped is None:
        log.exception("unhandled error in the gateway", exc_info=exc)
        return error_response(*INTERNAL_ERROR, GENERIC_MESSAGE)
    code, status = mapped
    message = getattr(exc, "message", None) or str(exc) or code
    if status >= 500 and not isinstance(exc, (Overloaded, svc.BreakerOpen)):
        # The caller's 503/504 is our upstream's fault: worth a line, not a traceback.
        # A shed request is not logged, nor one an open breaker refused: under overload
        # or an outage that would be thousands a second (the metrics count them).
        log.warning("%s: %s", code, message)
    return error_response(code, status, message, getattr(exc, "details", None),
                          headers=_retry_after(exc) if status == 503 else None)


def _retry_after(exc: BaseException) -> dict[str, str]:
    """The Retry-After header of a 503: the exception's own `retry_after_s`, or 1 s."""
    seconds = getattr(exc, "retry_after_s", None) or UNAVAILABLE_RETRY_AFTER_S
    return {"Retry-After": str(seconds)}


def register_service_exceptions(services: Iterable[str]) -> None:
    """Import each service's exceptions module, registering its classes with nameko."""
    for service in services:
        module = f"{service}.exceptions"
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name not in (service, module):
                raise  # the module exists but is broken: fail loudly at start-up
            log.warning("no %s to import: its errors will arrive as 500s", module)


def install(app: Flask, services: Iterable[str]) -> None:
    """Route every exception through handle_exception; know the services' exceptions."""
    register_service_exceptions(services)
    app.register_error_handler(Exception, handle_exception)

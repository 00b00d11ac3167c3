"""Request bodies: size cap, media type, JSON parsing and validation into models.

Views call `json_body(Model)` (or `json_or_form_body(Model)` on views decorated with
`accepts_form`) and get a validated pydantic model, or the request ends with the
contract's 400/413/415. Malformed or hostile input never reaches a view's logic.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import TypeVar

from flask import current_app, request
from pydantic import BaseModel
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from common.errors import ValidationError
from gateway.schemas import validate

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
BROKEN_BODY = "gateway.broken_body"  # environ key set by ChunkedInput

M = TypeVar("M", bound=BaseModel)
V = TypeVar("V", bound=Callable)


def accepts_form(view: V) -> V:
    """Mark a view that also takes `application/x-www-form-urlencoded` bodies."""
    view.accepts_form = True
    return view


def has_body() -> bool:
    """Whether the request has a body (ChunkedInput gave chunked ones a length)."""
    return bool(request.content_length)


def check_request_body() -> None:
    """before_request hook: refuse oversized or non-JSON bodies before any view runs."""
    if BROKEN_BODY in request.environ:
        raise BadRequest(f"unreadable chunked body: {request.environ[BROKEN_BODY]}")
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge(f"request bodies are limited to {limit} bytes")
    if request.method not in BODY_METHODS or not has_body() or request.endpoint is None:
        return
    view = current_app.view_functions.get(request.endpoint)
    allowed = [JSON, FORM] if getattr(view, "accepts_form", False) else [JSON]
    if request.mimetype not in allowed:
        raise UnsupportedMediaType(f"send the body as {' or '.join(allowed)}")


def json_object() -> dict:
    """The body as a JSON object; an empty body counts as `{}`."""
    raw = _read()
    if not raw.strip():
        return {}
    try:
        # parse_constant: NaN and Infinity are not JSON, refuse them like any typo.
        data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except RecursionError:
        raise ValidationError("request body is not valid JSON",
                              _body_problem("nested too deeply")) from None
    except ValueError as exc:  # UnicodeDecodeError is a ValueError too
        raise ValidationError("request body is not valid JSON",
                              _body_problem(f"malformed JSON: {exc}")) from None
    if not isinstance(data, dict):
        raise ValidationError("request body must be a JSON object",
                              _body_problem("must be a JSON object"))
    return data


def json_body(model: type[M]) -> M:
    """The JSON body validated as `model`."""
    return validate(model, json_object())


def json_or_form_body(model: type[M]) -> M:
    """The JSON or urlencoded-form body validated as `model` (views with accepts_form)."""
    if request.mimetype == FORM:
        _read()  # applies the size cap before Werkzeug parses the form
        return validate(model, request.form.to_dict(flat=True))
    return json_body(model)


def _read() -> bytes:
    # cache=True keeps the bytes for request.form; the cap is enforced while reading.
    return request.get_data(cache=True)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _body_problem(message: str) -> dict:
    return {"fields": [{"field": "body", "message": message}]}


class ChunkedInput:
    """WSGI middleware: turn a chunked request body into a sized one, at most max+1 bytes.

    eventlet.wsgi de-chunks the input but does not set `wsgi.input_terminated`, so
    Werkzeug would hand the app an empty body; and even when it is set, Werkzeug
    silently truncates a body at MAX_CONTENT_LENGTH instead of refusing it. Reading
    up to `max_bytes + 1` bytes here gives the app an ordinary Content-Length, so
    check_request_body answers 413 exactly when the body is over the limit. A broken
    chunked stream is flagged for check_request_body to answer 400 inside Flask
    (with the request id and the JSON error format).
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    def __call__(self, environ, start_response):
        if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
            try:
                body = _read_at_most(environ["wsgi.input"], self.max_bytes + 1)
            except (OSError, ValueError) as exc:  # eventlet's ChunkReadError is a ValueError
                environ[BROKEN_BODY] = str(exc) or type(exc).__name__
                body = b""
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            # Werkzeug ignores Content-Length next to chunked (RFC 9112 section 6.3).
            del environ["HTTP_TRANSFER_ENCODING"]
        return self.app(environ, start_response)


def _read_at_most(stream, limit: int) -> bytes:
    parts, size = [], 0
    while size < limit:
        part = stream.read(min(limit - size, 64 * 1024))
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)

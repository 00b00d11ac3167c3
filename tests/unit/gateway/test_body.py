"""Body handling: size cap (with and without Content-Length), media type, JSON shape."""

from __future__ import annotations

import io
import json

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from tests.unit.gateway.conftest import MAX_BODY_BYTES
from tests.unit.gateway.support import error_of, fields_of

LOGIN = {"email": "ann@example.com", "password": "correct horse"}
PAIR = {"access_token": "at", "refresh_token": "rt", "expires_in": 900}


def _big_login() -> bytes:
    return json.dumps({**LOGIN, "password": "p" * (MAX_BODY_BYTES + 10)}).encode()


def _chunked(client, body: bytes | io.RawIOBase):
    """POST a chunked body the way eventlet.wsgi presents it: no CONTENT_LENGTH."""
    environ = EnvironBuilder(path="/auth/login", method="POST",
                             content_type="application/json",
                             headers={"Transfer-Encoding": "chunked"}).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input"] = io.BytesIO(body) if isinstance(body, bytes) else body
    app_iter, status, headers = run_wsgi_app(client.application, environ, buffered=True)
    return client.application.response_class(app_iter, status, headers)


def test_body_over_the_limit_is_413(client, rpc):
    response = client.post("/auth/login", data=_big_login(), content_type="application/json")
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert rpc.calls == []


def test_chunked_body_over_the_limit_is_413(client, rpc):
    # No Content-Length: the cap must apply while the stream is read.
    response = _chunked(client, _big_login())
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert rpc.calls == []


def test_chunked_body_under_the_limit_is_read(client, rpc):
    rpc.answers[("user_svc", "login")] = PAIR
    response = _chunked(client, json.dumps(LOGIN).encode())
    assert response.status_code == 200, response.data
    assert rpc.last().kwargs == LOGIN


def test_chunked_body_of_exactly_the_limit_is_read(client, rpc):
    body = json.dumps({**LOGIN, "password": ""}).encode()
    body = body.replace(b'"password": ""', b'"password": "' + b"p" * (MAX_BODY_BYTES - len(body))
                        + b'"')
    assert len(body) == MAX_BODY_BYTES
    # Read whole and validated: the password is too long for the model, not a 413.
    assert fields_of(_chunked(client, body)) == {"password"}


def test_a_broken_chunked_stream_is_400(client, rpc):
    class Broken(io.RawIOBase):
        def read(self, size=-1):
            raise ValueError("invalid chunk size")

    response = _chunked(client, Broken())
    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"
    assert rpc.calls == []


def test_form_body_over_the_limit_is_413(client, rpc):
    response = client.post("/auth/token", data={"grant_type": "client_credentials",
                                                "client_id": "c",
                                                "client_secret": "s" * MAX_BODY_BYTES})
    assert response.status_code == 413
    assert rpc.calls == []


@pytest.mark.parametrize("content_type", [
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "application/xml",
])
def test_non_json_body_is_415(client, rpc, content_type):
    response = client.post("/auth/login", data=json.dumps(LOGIN), content_type=content_type)
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"
    assert rpc.calls == []


def test_body_without_content_type_is_415(client):
    response = client.post("/auth/login", data=json.dumps(LOGIN))
    assert response.status_code == 415


def test_json_with_a_charset_is_fine(client, rpc):
    rpc.answers[("user_svc", "login")] = PAIR
    response = client.post("/auth/login", data=json.dumps(LOGIN),
                           content_type="application/json; charset=utf-8")
    assert response.status_code == 200


@pytest.mark.parametrize("raw", [
    b"{", b"{'email': 'x'}", b"nul", b'{"email": NaN}', b"\xff\xfe{}", b"[" * 1500,
])
def test_malformed_json_is_400(client, rpc, raw):
    response = client.post("/auth/login", data=raw, content_type="application/json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert error["details"]["fields"][0]["field"] == "body"
    assert rpc.calls == []


@pytest.mark.parametrize("raw", [b"[]", b'"text"', b"42", b"null", b"true"])
def test_a_non_object_top_level_is_400(client, raw):
    assert fields_of(client.post("/auth/login", data=raw,
                                 content_type="application/json")) == {"body"}


@pytest.mark.parametrize("kwargs", [
    {},  # no body, no content type
    {"data": b"", "content_type": "application/json"},
    {"data": b"", "content_type": "text/plain"},  # nothing to be of the wrong type
    {"data": b"  \n", "content_type": "application/json"},
])
def test_an_empty_body_names_the_missing_fields(client, rpc, kwargs):
    assert fields_of(client.post("/auth/login", **kwargs)) == {"email", "password"}
    assert rpc.calls == []

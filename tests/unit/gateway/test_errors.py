"""The error envelope and the exception -> (code, status) table."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from nameko.exceptions import RemoteError, deserialize, serialize
from werkzeug import exceptions as http

from common import errors as svc
from gateway.errors import ERRORS, lookup, register_service_exceptions
from order_svc import exceptions as order_errors
from payment_svc import exceptions as payment_errors
from tests.unit.gateway.support import error_of
from user_svc import exceptions as user_errors

REGISTER = {"email": "ann@example.com", "password": "correct horse", "name": "Ann"}


@pytest.mark.parametrize(("exc", "expected"), [
    (svc.ValidationError("x"), ("validation_error", 400)),
    (svc.Unauthorized("x"), ("unauthorized", 401)),
    (svc.Forbidden("x"), ("forbidden", 403)),
    (svc.NotFound("x"), ("not_found", 404)),
    (svc.Conflict("x"), ("conflict", 409)),
    (svc.IdempotencyConflict("x"), ("idempotency_conflict", 422)),
    (svc.ServiceUnavailable("x"), ("service_unavailable", 503)),
    (svc.UpstreamTimeout("x"), ("upstream_timeout", 504)),
    # Subclasses map through their base: the MRO walk.
    (user_errors.InvalidUserInput("x"), ("validation_error", 400)),
    (user_errors.EmailTaken("x"), ("conflict", 409)),
    (user_errors.InvalidCredentials("x"), ("unauthorized", 401)),
    (user_errors.InvalidRefreshToken("x"), ("unauthorized", 401)),
    (user_errors.InvalidClientCredentials("x"), ("unauthorized", 401)),
    (user_errors.UserNotFound("x"), ("not_found", 404)),
    (order_errors.InvalidOrder("x"), ("validation_error", 400)),
    (order_errors.OrderNotFound("x"), ("not_found", 404)),
    (order_errors.OrderNotCancellable("x"), ("conflict", 409)),
    (order_errors.IdempotencyKeyReused("x"), ("idempotency_conflict", 422)),
    (payment_errors.InvalidPaymentQuery("x"), ("validation_error", 400)),
    (http.NotFound(), ("not_found", 404)),
    (http.MethodNotAllowed(), ("method_not_allowed", 405)),
    (http.RequestEntityTooLarge(), ("payload_too_large", 413)),
    (http.UnsupportedMediaType(), ("unsupported_media_type", 415)),
    (http.BadRequestKeyError("k"), ("validation_error", 400)),
])
def test_lookup_walks_the_mro(exc, expected):
    assert lookup(exc) == expected


def test_unknown_exceptions_are_not_in_the_table():
    assert lookup(RuntimeError("boom")) is None
    assert lookup(svc.ServiceError("bare base")) is None
    assert all(status >= 400 for _, status in ERRORS.values())


@pytest.mark.parametrize(("exc", "status", "code"), [
    (user_errors.EmailTaken("email already registered", {"field": "email"}), 409, "conflict"),
    (user_errors.InvalidUserInput("password too weak"), 400, "validation_error"),
    (svc.ServiceUnavailable("user_svc is not running", {"service": "user_svc"}), 503,
     "service_unavailable"),
    (svc.UpstreamTimeout("a service did not answer in time"), 504, "upstream_timeout"),
    (svc.Forbidden("no"), 403, "forbidden"),
    (svc.IdempotencyConflict("key reused", {"key": "k-1"}), 422, "idempotency_conflict"),
])
def test_service_errors_become_the_contract_answer(client, rpc, exc, status, code):
    rpc.answers[("user_svc", "register")] = exc
    response = client.post("/auth/register", json=REGISTER)
    assert response.status_code == status
    error = error_of(response)
    assert error["code"] == code
    assert error["message"] == exc.message
    assert error["details"] == (exc.details if exc.details is not None else {})


def test_a_401_from_a_service_carries_a_bearer_challenge(client, rpc):
    rpc.answers[("user_svc", "login")] = user_errors.InvalidCredentials()
    response = client.post("/auth/login", json={"email": "a@example.com", "password": "x"})
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_exceptions_rebuilt_by_nameko_map_like_local_ones(client, rpc):
    """What really crosses RPC: serialize on the service side, deserialize here."""
    sent = user_errors.EmailTaken("an account with this email exists", {"email": "a@b.co"})
    received = deserialize(serialize(sent))
    assert type(received) is user_errors.EmailTaken
    rpc.answers[("user_svc", "register")] = received
    response = client.post("/auth/register", json=REGISTER)
    assert response.status_code == 409
    assert error_of(response) == {"code": "conflict",
                                  "message": "an account with this email exists",
                                  "details": {"email": "a@b.co"}}


@pytest.mark.parametrize("exc", [
    RuntimeError("secret internals: password=hunter2"),
    RemoteError("IntegrityError", "duplicate key value violates unique constraint"),
    svc.ServiceError("a bare base class is not in the table"),
])
def test_unexpected_errors_are_a_generic_500(client, rpc, exc, caplog):
    rpc.answers[("user_svc", "register")] = exc
    response = client.post("/auth/register", json=REGISTER)
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "internal_error"
    assert "hunter2" not in response.get_data(as_text=True)
    assert "duplicate key" not in response.get_data(as_text=True)
    assert error["details"] == {}
    assert any(record.exc_info for record in caplog.records), "traceback not logged"


def test_unknown_path_is_404_in_the_error_format(client):
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert response.headers["X-Request-ID"]


def test_wrong_method_is_405_with_allow(client):
    response = client.get("/auth/register")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]

    response = client.delete("/health")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "HEAD"}


def test_create_app_registers_the_services_exceptions_with_nameko():
    """In a fresh interpreter (here the tests import user_svc themselves): without the
    registration an EmailTaken would arrive as a RemoteError, a 500 instead of a 409."""
    script = textwrap.dedent("""
        import sys
        from nameko.exceptions import deserialize, registry
        assert "user_svc.exceptions" not in sys.modules
        from common.config import load_config
        from gateway import create_app
        create_app(load_config(), rpc=object(), broker_check=lambda: None)
        data = {"exc_type": "EmailTaken", "exc_path": "user_svc.exceptions.EmailTaken",
                "exc_args": ["taken", {"email": "a@b.co"}], "value": "taken"}
        error = deserialize(data)
        print(type(error).__module__, type(error).__name__, error.details)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=Path(__file__).parents[3], timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["user_svc.exceptions", "EmailTaken", "{'email':",
                                     "'a@b.co'}"]


def test_a_service_without_an_exceptions_module_is_tolerated(caplog):
    register_service_exceptions(["no_such_svc"])
    assert "no_such_svc.exceptions" in caplog.text


@pytest.mark.parametrize("exc_type", ["OperationalError", "InterfaceError"])
def test_a_service_that_cannot_reach_its_database_is_a_503(client, rpc, exc_type):
    # Found by the fuzzer: PostgreSQL out of connection slots surfaced as a 500.
    rpc.answers[("user_svc", "register")] = RemoteError(
        exc_type, "FATAL: remaining connection slots are reserved")
    response = client.post("/auth/register", json=REGISTER)
    assert response.status_code == 503
    error = error_of(response)
    assert error["code"] == "service_unavailable"
    assert "connection slots" not in error["message"]


def test_details_cross_rpc_as_they_were_raised(client, rpc):
    # nameko stringifies exception args: None arrived as "None" and 3 as "3".
    for details, expected in ((None, {}), ({"shortages": [{"sku": "A", "requested": 3}]},
                                           {"shortages": [{"sku": "A", "requested": 3}]})):
        rpc.answers[("user_svc", "register")] = deserialize(serialize(
            svc.ValidationError("bad", details)))
        assert error_of(client.post("/auth/register", json=REGISTER))["details"] == expected

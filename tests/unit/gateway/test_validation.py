"""Strict request models: wrong types, unknown fields, lengths and email syntax."""

from __future__ import annotations

import pytest

from common.errors import ValidationError
from gateway.schemas import Model, validate
from tests.unit.gateway.support import error_of, fields_of

REGISTER = {"email": "ann@example.com", "password": "correct horse", "name": "Ann"}
USER = {"id": "u-1", "email": "ann@example.com", "name": "Ann", "role": "customer",
        "password_hash": "$2b$12$never-shown"}


def _register(client, **changes):
    body = {**REGISTER, **changes}
    return client.post("/auth/register", json={k: v for k, v in body.items() if v is not ...})


def test_a_valid_registration_reaches_the_service(client, rpc):
    rpc.answers[("user_svc", "register")] = USER
    response = _register(client)
    assert response.status_code == 201
    assert response.get_json() == {"id": "u-1", "email": "ann@example.com", "name": "Ann",
                                   "role": "customer"}
    call = rpc.last()
    assert (call.service, call.method) == ("user_svc", "register")
    assert call.kwargs == {"email": "ann@example.com", "password": "correct horse",
                           "name": "Ann"}


def test_name_is_optional(client, rpc):
    rpc.answers[("user_svc", "register")] = {**USER, "name": None}
    assert _register(client, name=...).status_code == 201
    assert rpc.last().kwargs["name"] is None


@pytest.mark.parametrize(("changes", "field"), [
    ({"email": 42}, "email"),
    ({"email": ["ann@example.com"]}, "email"),
    ({"password": 12345678}, "password"),
    ({"name": 7}, "name"),
    ({"name": True}, "name"),
])
def test_wrong_types_are_not_coerced(client, rpc, changes, field):
    assert fields_of(_register(client, **changes)) == {field}
    assert rpc.calls == []


def test_every_bad_field_is_named_at_once(client):
    response = _register(client, email=1, password="short", name="n" * 101, extra="x")
    assert fields_of(response) == {"email", "password", "name", "extra"}
    messages = {f["field"]: f["message"] for f in error_of(response)["details"]["fields"]}
    assert "8" in messages["password"]
    assert "short" not in str(error_of(response)), "inputs must not be echoed"


def test_an_unknown_field_is_refused(client):
    response = _register(client, role="admin")
    assert fields_of(response) == {"role"}


@pytest.mark.parametrize("password", ["", "1234567", "x" * 129])
def test_password_length(client, password):
    assert fields_of(_register(client, password=password)) == {"password"}


@pytest.mark.parametrize("password", ["12345678", "x" * 128])
def test_password_length_boundaries_pass(client, rpc, password):
    rpc.answers[("user_svc", "register")] = USER
    assert _register(client, password=password).status_code == 201


@pytest.mark.parametrize("email", [
    "", "plainaddress", "@example.com", "ann@", "ann@@example.com", "ann example@x.com",
    "ann@localhost", "a" * 250 + "@x.com", "ann@exa_mple.com",
])
def test_bad_emails_are_400(client, rpc, email):
    assert fields_of(_register(client, email=email)) == {"email"}
    assert rpc.calls == []


@pytest.mark.parametrize("value", ["nul\x00byte", "lone \ud800 surrogate"])
def test_text_the_database_cannot_store_is_400(client, rpc, value):
    assert fields_of(_register(client, name=value)) == {"name"}
    assert fields_of(_register(client, password=value * 2)) == {"password"}
    assert rpc.calls == []


def test_nested_paths_are_dotted():
    class Line(Model):
        sku: str

    class Order(Model):
        items: list[Line]

    with pytest.raises(ValidationError) as caught:
        validate(Order, {"items": [{"sku": "A"}, {"sku": 5}, {"sku": "C", "x": 1}]})
    assert [f["field"] for f in caught.value.details["fields"]] == ["items.1.sku",
                                                                     "items.2.x"]


def test_login_checks_shape_only(client, rpc):
    # A short password is the service's 401, not a 400 that leaks the length rule.
    rpc.answers[("user_svc", "login")] = {"access_token": "a", "refresh_token": "r",
                                          "expires_in": 900}
    response = client.post("/auth/login", json={"email": "admin@localhost", "password": "x"})
    assert response.status_code == 200
    assert fields_of(client.post("/auth/login", json={"email": "", "password": 1})) == {
        "email", "password"}

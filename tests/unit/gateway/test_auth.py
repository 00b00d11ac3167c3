"""Bearer tokens: every way a token can be wrong is a 401; a wrong role is a 403."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import replace

import jwt
import pytest

from tests.unit.gateway.support import bearer, error_of

USER = {"id": "11111111-1111-4111-8111-111111111111", "email": "ann@example.com",
        "name": "Ann", "role": "customer", "email_verified": False}
CLIENT = {"client_id": "c-1", "client_secret": "s3cret", "name": "shop", "role": "client"}


def _assert_401(response):
    assert response.status_code == 401, response.data
    assert error_of(response)["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": ""},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer "},
    {"Authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l"},
    {"Authorization": "Token abc.def.ghi"},
    {"Authorization": "Bearer two tokens"},
    {"Authorization": "Bearer not-a-jwt"},
    {"Authorization": "Bearer a.b.c"},
    {"Authorization": "Bearer " + "A" * 5000},
])
def test_missing_malformed_or_garbage_is_401(client, rpc, headers):
    _assert_401(client.get("/users/me", headers=headers))
    assert rpc.calls == []


def test_expired_token_is_401(client, make_token, settings):
    token = make_token(now=int(time.time()) - settings.access_ttl_s - 5)
    response = client.get("/users/me", headers=bearer(token))
    _assert_401(response)
    assert "expired" in error_of(response)["message"]


@pytest.mark.parametrize("change", [{"audience": "someone-else"}, {"issuer": "evil-issuer"},
                                    {"secret": "another-key-of-sufficient-length-0123456"}])
def test_token_for_another_audience_issuer_or_key_is_401(client, make_token, settings,
                                                         change):
    token = make_token(token_settings=replace(settings, **change))
    _assert_401(client.get("/users/me", headers=bearer(token)))


def test_alg_none_token_is_401(client, settings):
    now = int(time.time())
    claims = {"sub": USER["id"], "role": "admin", "typ": "user", "iss": settings.issuer,
              "aud": settings.audience, "iat": now, "exp": now + 60, "jti": "j"}
    for header in ({"alg": "none", "typ": "JWT"}, {"alg": "None"}):
        token = f"{_b64(header)}.{_b64(claims)}."
        _assert_401(client.get("/users/me", headers={"Authorization": f"Bearer {token}"}))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_hs512_token_with_the_right_key_is_401(client, settings):
    now = int(time.time())
    claims = {"sub": USER["id"], "role": "admin", "typ": "user", "iss": settings.issuer,
              "aud": settings.audience, "iat": now, "exp": now + 60, "jti": "j"}
    token = jwt.encode(claims, settings.secret, algorithm="HS512")
    _assert_401(client.get("/users/me", headers=bearer(token)))


def test_tampered_role_is_401(client, make_token):
    header, payload, signature = make_token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "admin"
    forged = ".".join([header, _b64(claims), signature])
    _assert_401(client.post("/admin/clients", json={"name": "x"}, headers=bearer(forged)))


def test_valid_user_token_reaches_the_service_with_its_subject(client, rpc, make_token):
    rpc.answers[("user_svc", "get_user")] = {**USER, "password_hash": "never shown"}
    response = client.get("/users/me", headers=bearer(make_token()))
    assert response.status_code == 200
    assert response.get_json() == USER
    assert rpc.last().kwargs == {"user_id": USER["id"]}


def test_scheme_is_case_insensitive(client, rpc, make_token):
    rpc.answers[("user_svc", "get_user")] = USER
    response = client.get("/users/me", headers={"Authorization": f"bearer {make_token()}"})
    assert response.status_code == 200


def test_client_token_has_no_profile(client, rpc, make_token):
    response = client.get("/users/me", headers=bearer(make_token(role="client",
                                                                 kind="client")))
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "forbidden"
    assert error["message"] == "API clients have no user profile"
    assert rpc.calls == []


@pytest.mark.parametrize(("role", "kind"), [("customer", "user"), ("client", "client")])
def test_admin_route_refuses_other_roles(client, rpc, make_token, role, kind):
    response = client.post("/admin/clients", json={"name": "shop"},
                           headers=bearer(make_token(role=role, kind=kind)))
    assert response.status_code == 403
    assert error_of(response)["code"] == "forbidden"
    assert rpc.calls == []


def test_admin_route_needs_a_token(client, rpc):
    _assert_401(client.post("/admin/clients", json={"name": "shop"}))
    assert rpc.calls == []


def test_admin_creates_a_client(client, rpc, make_token):
    rpc.answers[("user_svc", "create_client")] = CLIENT
    response = client.post("/admin/clients", json={"name": "shop"},
                           headers=bearer(make_token(role="admin")))
    assert response.status_code == 201
    assert response.get_json() == {**CLIENT, "scopes": []}
    assert rpc.last().kwargs == {"name": "shop", "role": "client", "scopes": []}


def test_admin_client_role_is_checked(client, rpc, make_token):
    headers = bearer(make_token(role="admin"))
    response = client.post("/admin/clients", json={"name": "shop", "role": "root"},
                           headers=headers)
    assert response.status_code == 400
    assert error_of(response)["details"]["fields"][0]["field"] == "role"
    rpc.answers[("user_svc", "create_client")] = {**CLIENT, "role": "admin"}
    response = client.post("/admin/clients", json={"name": "ops", "role": "admin"},
                           headers=headers)
    assert response.status_code == 201
    assert rpc.last().kwargs == {"name": "ops", "role": "admin", "scopes": []}

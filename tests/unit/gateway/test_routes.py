"""The /auth/* routes: RPC arguments and the answers' exact shapes."""

from __future__ import annotations

import pytest

from tests.unit.gateway.support import error_of, fields_of

PAIR = {"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 900,
        "user_id": "not part of the contract"}


def test_login_answers_a_bearer_pair(client, rpc):
    rpc.answers[("user_svc", "login")] = PAIR
    response = client.post("/auth/login",
                           json={"email": "ann@example.com", "password": "correct horse"})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"access_token": "at-1", "refresh_token": "rt-1",
                                   "token_type": "Bearer", "expires_in": 900}
    assert rpc.last().kwargs == {"email": "ann@example.com", "password": "correct horse"}


def test_refresh_rotates(client, rpc):
    rpc.answers[("user_svc", "refresh")] = {**PAIR, "refresh_token": "rt-2"}
    response = client.post("/auth/refresh", json={"refresh_token": "rt-1"})
    assert response.status_code == 200
    assert response.get_json()["refresh_token"] == "rt-2"
    assert response.get_json()["token_type"] == "Bearer"
    assert rpc.last().kwargs == {"refresh_token": "rt-1"}


def test_refresh_needs_a_string_token(client, rpc):
    assert fields_of(client.post("/auth/refresh", json={"refresh_token": 5})) == {
        "refresh_token"}
    assert fields_of(client.post("/auth/refresh", json={})) == {"refresh_token"}
    assert rpc.calls == []


def test_logout_is_204_with_no_body(client, rpc):
    rpc.answers[("user_svc", "logout")] = None
    response = client.post("/auth/logout", json={"refresh_token": "rt-1"})
    assert response.status_code == 204
    assert response.data == b""
    assert "Content-Type" not in response.headers
    assert response.headers["X-Request-ID"]
    assert rpc.last().kwargs == {"refresh_token": "rt-1"}


CREDENTIALS = {"grant_type": "client_credentials", "client_id": "c-1",
               "client_secret": "s3cret"}
CLIENT_TOKEN = {"access_token": "ct-1", "expires_in": 900}


@pytest.mark.parametrize("as_form", [True, False])
def test_client_credentials_as_form_or_json(client, rpc, as_form):
    rpc.answers[("user_svc", "issue_client_token")] = CLIENT_TOKEN
    if as_form:
        response = client.post("/auth/token", data=CREDENTIALS)
    else:
        response = client.post("/auth/token", json=CREDENTIALS)
    assert response.status_code == 200, response.data
    assert response.get_json() == {"access_token": "ct-1", "token_type": "Bearer",
                                   "expires_in": 900}
    assert rpc.last().kwargs == {"client_id": "c-1", "client_secret": "s3cret"}


@pytest.mark.parametrize("grant_type", ["password", "", "CLIENT_CREDENTIALS"])
def test_other_grant_types_are_400(client, rpc, grant_type):
    response = client.post("/auth/token", data={**CREDENTIALS, "grant_type": grant_type})
    assert fields_of(response) == {"grant_type"}
    assert rpc.calls == []


def test_token_needs_every_credential(client):
    assert fields_of(client.post("/auth/token", data={})) == {"grant_type"}
    # The client's own may come in HTTP Basic instead (test_revocations.py).
    assert fields_of(client.post("/auth/token", data={"grant_type": "client_credentials"})
                     ) == {"client_id", "client_secret"}


def test_token_refuses_multipart(client):
    response = client.post("/auth/token", data=CREDENTIALS, content_type="multipart/form-data")
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_register_has_no_location(client, rpc):
    rpc.answers[("user_svc", "register")] = {"id": "u", "email": "a@example.com",
                                             "name": None, "role": "customer"}
    response = client.post("/auth/register",
                           json={"email": "a@example.com", "password": "12345678"})
    assert response.status_code == 201
    assert "Location" not in response.headers

"""Access-token rules and configuration loading."""

import time

import jwt
import pytest
from sqlalchemy.engine import make_url

from common.config import load_config
from common.tokens import (
    InvalidToken,
    Principal,
    TokenSettings,
    issue_access_token,
    verify_access_token,
)

SETTINGS = TokenSettings(secret="s" * 32, issuer="iss", audience="aud", access_ttl_s=60)
ANN_ID = "6d1f0c4e-0000-4000-8000-000000000001"
ANN = Principal(ANN_ID, "customer", "user", "ann@example.com")


def test_a_token_round_trips_to_its_principal():
    token = issue_access_token(SETTINGS, ANN, int(time.time()))
    assert verify_access_token(SETTINGS, token) == ANN


def claims(**overrides):
    now = int(time.time())
    base = {"sub": ANN_ID, "role": "customer", "typ": "user", "iss": "iss", "aud": "aud",
            "iat": now, "exp": now + 60, "jti": "j"}
    return {k: v for k, v in {**base, **overrides}.items() if v is not None}


@pytest.mark.parametrize("token", [
    jwt.encode(claims(exp=int(time.time()) - 1), "s" * 32, algorithm="HS256"),
    jwt.encode(claims(iss="evil"), "s" * 32, algorithm="HS256"),
    jwt.encode(claims(aud="other-api"), "s" * 32, algorithm="HS256"),
    jwt.encode(claims(), "another-key-of-32-bytes-length!!", algorithm="HS256"),
    jwt.encode(claims(), "s" * 32, algorithm="HS512"),
    jwt.encode(claims(), None, algorithm="none"),
    jwt.encode(claims(role="root"), "s" * 32, algorithm="HS256"),
    jwt.encode(claims(jti=None), "s" * 32, algorithm="HS256"),
    "not.a.token", "", "x" * 5000,
], ids=["expired", "issuer", "audience", "key", "alg-hs512", "alg-none", "role",
        "missing-claim", "garbage", "empty", "huge"])
def test_forged_or_stale_tokens_are_refused(token):
    with pytest.raises(InvalidToken):
        verify_access_token(SETTINGS, token)


def signed(**overrides):
    return jwt.encode(claims(**overrides), "s" * 32, algorithm="HS256")


@pytest.mark.parametrize("overrides", [
    {"sub": "u" * 65}, {"sub": "not-a-uuid"}, {"sub": 42}, {"sub": ANN_ID.upper()},
    {"typ": "client"}, {"typ": "client", "role": "client", "sub": "cl_xyz"},
    {"typ": "user", "role": "client"}, {"typ": "robot"}, {"typ": ["user"]},
    {"email": "e" * 300}, {"email": 7}, {"email": ["a@b.c"]},
], ids=str)
def test_a_signed_token_in_a_shape_never_issued_is_refused(overrides):
    # A token with a 65+ character `sub` once got as far as POST /orders: a 500.
    with pytest.raises(InvalidToken):
        verify_access_token(SETTINGS, signed(**overrides))


def test_clients_and_admin_clients_keep_their_shape():
    client = Principal("cl_0123456789abcdef", "client", "client")
    admin_client = Principal("cl_0123456789abcdef", "admin", "client")
    for principal in (client, admin_client):
        token = issue_access_token(SETTINGS, principal, int(time.time()))
        assert verify_access_token(SETTINGS, token) == principal


def test_a_tampered_payload_is_refused():
    header, payload, signature = issue_access_token(SETTINGS, ANN, int(time.time())).split(".")
    admin = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(payload).replace(b"customer", b"admin   ")).decode()
    with pytest.raises(InvalidToken):
        verify_access_token(SETTINGS, f"{header}.{admin}.{signature}")


def test_config_expands_environment_variables(monkeypatch):
    monkeypatch.setenv("GATEWAY_PORT", "8123")
    monkeypatch.setenv("DB_HOST", "db")
    monkeypatch.setenv("DB_PORT", "6543")
    monkeypatch.setenv("DB_PASSWORD_ORDER_SVC", "s3cret")
    config = load_config()
    assert config["GATEWAY_PORT"] == 8123
    # Each service logs in as its own role; a password only where one is set.
    for service, password in (("user_svc", None), ("order_svc", "s3cret")):
        url = make_url(config["DB_URIS"][f"{service}:Base"])
        assert (url.username, url.password or None, url.host, url.port, url.database) == (
            service, password, "db", 6543, service)


def test_a_service_database_url_overrides_the_base(monkeypatch):
    monkeypatch.setenv("DATABASE_URL_USER_SVC", "postgresql://u@elsewhere/users")
    assert load_config()["DB_URIS"]["user_svc:Base"] == "postgresql://u@elsewhere/users"


def test_secrets_stay_strings(monkeypatch):
    monkeypatch.setenv("JWT_SECRET", "12345")
    monkeypatch.setenv("ADMIN_PASSWORD", "yes")
    config = load_config()
    assert config["JWT_SECRET"] == "12345" and config["ADMIN_PASSWORD"] == "yes"


def test_a_clients_scopes_ride_in_its_token_and_only_known_ones_for_clients():
    warehouse = Principal("cl_0123456789abcdef", "client", "client",
                          scopes=frozenset({"inventory:read", "inventory:write"}))
    token = issue_access_token(SETTINGS, warehouse, int(time.time()))
    assert verify_access_token(SETTINGS, token).scopes == warehouse.scopes
    for bad in ({"typ": "client", "role": "client", "sub": "cl_0123456789abcdef",
                 "scope": "inventory:read root"},
                {"scope": "inventory:read"}):  # a user with a scope: never issued
        with pytest.raises(InvalidToken):
            verify_access_token(SETTINGS, signed(**bad))

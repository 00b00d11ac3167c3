"""Security headers on every answer, Cache-Control on credentialed answers, CORS."""

from __future__ import annotations

import pytest

from gateway import create_app
from gateway.security import ALLOWED_HEADERS, CSP, parse_origins
from gateway.stream import EventHub
from tests.unit.gateway.support import bearer, error_of

SHOP = "https://shop.example"
USER = {"id": "11111111-1111-4111-8111-111111111111", "email": "ann@example.com",
        "name": "Ann", "role": "customer"}


def client_of(config, rpc, **settings):
    return create_app({**config, **settings}, rpc=rpc, broker_check=lambda: None,
                      stream_hub=EventHub()).test_client()


def assert_security_headers(response):
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    csp = response.headers["Content-Security-Policy"]
    assert csp == CSP and "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp and "connect-src 'self'" in csp


@pytest.mark.parametrize("method, path, kwargs", [
    ("get", "/health", {}),
    ("get", "/nowhere", {}),
    ("get", "/users/me", {}),
    ("delete", "/health", {}),
    ("post", "/auth/login", {"data": "x", "content_type": "text/plain"}),
    ("post", "/auth/login", {"json": {}}),
])
def test_every_answer_has_the_security_headers(client, method, path, kwargs):
    response = getattr(client, method)(path, **kwargs)
    assert_security_headers(response)
    assert "Strict-Transport-Security" not in response.headers


def test_hsts_only_in_production(config, rpc):
    response = client_of(config, rpc, ENV="production", JWT_SECRET="k" * 40,
                         ADMIN_PASSWORD="a real one").get("/health")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert_security_headers(response)


def test_authenticated_json_is_not_stored(client, rpc, make_token):
    rpc.answers[("user_svc", "get_user")] = USER
    response = client.get("/users/me", headers=bearer(make_token()))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    # A refused token is not cached either; the public catalog health check may be.
    assert client.get("/users/me", headers=bearer("x")).headers["Cache-Control"] == "no-store"
    assert "Cache-Control" not in client.get("/health").headers


def test_token_answers_are_not_stored(client, rpc):
    rpc.answers[("user_svc", "login")] = {"access_token": "a", "refresh_token": "r",
                                          "expires_in": 900}
    response = client.post("/auth/login", json={"email": "a@example.com", "password": "p"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_no_origin_is_allowed_by_default(client):
    response = client.get("/health", headers={"Origin": SHOP})
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = client.options("/orders", headers={"Origin": SHOP,
                                                   "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 403
    assert error_of(preflight)["code"] == "forbidden"
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_preflight_from_an_allowed_origin(config, rpc):
    client = client_of(config, rpc, CORS_ORIGINS=f"{SHOP}/, https://other.example")
    response = client.options("/orders", headers={
        "Origin": SHOP, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key"})
    assert response.status_code == 204, response.data
    assert response.data == b""
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert response.headers["Access-Control-Allow-Methods"] == "GET, POST"
    assert response.headers["Access-Control-Allow-Headers"] == ALLOWED_HEADERS
    for header in ("Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID",
                   "Last-Event-ID"):
        assert header in response.headers["Access-Control-Allow-Headers"]
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    assert "Origin" in response.headers["Vary"]
    assert_security_headers(response)
    # A preflight needs no token and does not reach a view.
    assert rpc.calls == []


def test_preflight_of_an_unknown_path_is_404(config, rpc):
    client = client_of(config, rpc, CORS_ORIGINS=SHOP)
    response = client.options("/nowhere", headers={"Origin": SHOP,
                                                   "Access-Control-Request-Method": "GET"})
    assert response.status_code == 404


def test_answers_to_an_allowed_origin_expose_our_headers(config, rpc):
    client = client_of(config, rpc, CORS_ORIGINS=SHOP)
    response = client.get("/health", headers={"Origin": SHOP})
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    exposed = {h.strip() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert exposed == {"X-Request-ID", "Location", "Retry-After"}
    assert "Access-Control-Allow-Credentials" not in response.headers
    other = client.get("/health", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    assert "Origin" in other.headers["Vary"]


def test_wildcard_allows_any_origin(config, rpc):
    client = client_of(config, rpc, CORS_ORIGINS="*")
    response = client.get("/health", headers={"Origin": "https://any.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://any.example"


@pytest.mark.parametrize("value, expected", [
    (None, set()), ("", set()), (" ", set()), ("https://a.example/", {"https://a.example"}),
    ("https://a.example, http://localhost:3000", {"https://a.example", "http://localhost:3000"}),
    (["https://a.example"], {"https://a.example"}),
])
def test_parse_origins(value, expected):
    assert parse_origins(value) == expected

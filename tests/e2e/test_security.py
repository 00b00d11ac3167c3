"""Security through the live gateway: headers, body limits, forged tokens, user
enumeration, who may call what, oversized requests, and the services' database roles."""

from __future__ import annotations

import base64
import json
import socket
import time
import uuid
from urllib.parse import urlsplit

import jwt
import psycopg2
import pytest
import requests
from sqlalchemy.engine import make_url

from common.testing import wait_for

pytestmark = pytest.mark.e2e


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def error_code(answer) -> str:
    assert answer.headers["Content-Type"].startswith("application/json"), answer.text
    return answer.json()["error"]["code"]


def test_every_answer_carries_the_security_headers(cluster, customer):
    answers = [cluster.get("/health"), cluster.get("/products"), cluster.get("/nowhere"),
               cluster.get("/users/me"), cluster.get("/users/me", headers=customer),
               cluster.post("/auth/login", data="x", headers={"Content-Type": "text/plain"})]
    for answer in answers:
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
        assert "Strict-Transport-Security" not in answer.headers  # ENV is not production
        assert answer.headers["X-Request-ID"]
    assert answers[4].headers["Cache-Control"] == "no-store"  # an authenticated answer
    # No origin is allowed by default: no CORS headers, and a preflight is refused.
    assert "Access-Control-Allow-Origin" not in cluster.get(
        "/products", headers={"Origin": "https://evil.example"}).headers
    preflight = requests.options(cluster.url + "/orders", timeout=10, headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 403 and error_code(preflight) == "forbidden"


def test_bodies_over_the_limit_are_413_and_non_json_415(cluster, customer):
    big = json.dumps({"email": "a@example.com", "password": "x" * (1024 * 1024)})
    answer = cluster.post("/auth/login", data=big, headers={"Content-Type": "application/json"})
    assert answer.status_code == 413 and error_code(answer) == "payload_too_large"
    chunks = (big[i:i + 65536].encode() for i in range(0, len(big), 65536))
    answer = cluster.post("/auth/login", data=chunks,
                          headers={"Content-Type": "application/json"})  # chunked
    assert answer.status_code == 413 and error_code(answer) == "payload_too_large"
    for content_type in ("text/plain", "application/xml", "multipart/form-data; boundary=x"):
        answer = cluster.post("/orders", data="{}", headers={**customer,
                                                             "Content-Type": content_type})
        assert answer.status_code == 415 and error_code(answer) == "unsupported_media_type"


def test_an_oversized_url_or_header_is_a_400_in_the_error_format(cluster):
    answer = cluster.get("/products?cursor=" + "x" * 9000)
    assert answer.status_code == 400 and error_code(answer) == "validation_error"
    assert answer.json()["error"]["details"]["fields"][0]["field"] == "url"
    assert answer.headers["X-Request-ID"] and answer.headers["X-Frame-Options"] == "DENY"
    answer = cluster.get("/health", headers={"X-Padding": "y" * 9000})
    assert answer.status_code == 400 and error_code(answer) == "validation_error"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_forged_tampered_and_stale_tokens_are_401(cluster, customer, base_config):
    token = customer["Authorization"].split()[1]
    claims = jwt.decode(token, options={"verify_signature": False})
    secret = base_config["JWT_SECRET"]
    now = int(time.time())
    header, payload, signature = token.split(".")
    admin_claims = {**claims, "role": "admin"}
    forged = {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(admin_claims)}.",
        "wrong key": jwt.encode(admin_claims, "x" * 48, algorithm="HS256"),
        "HS512": jwt.encode(admin_claims, secret, algorithm="HS512"),
        "wrong issuer": jwt.encode({**claims, "iss": "someone-else"}, secret, "HS256"),
        "wrong audience": jwt.encode({**claims, "aud": "another-api"}, secret, "HS256"),
        "expired": jwt.encode({**claims, "iat": now - 3600, "exp": now - 60}, secret, "HS256"),
        "tampered": f"{header}.{_b64(admin_claims)}.{signature}",
        "garbage": "not.a.token",
    }
    assert cluster.get("/users/me", headers=customer).status_code == 200
    for name, bad in forged.items():
        answer = cluster.get("/users/me", headers=bearer(bad))
        assert answer.status_code == 401, name
        assert error_code(answer) == "unauthorized" and answer.headers["WWW-Authenticate"]
        assert cluster.get("/admin/payments", headers=bearer(bad)).status_code == 401, name


def test_login_does_not_tell_unknown_emails_from_wrong_passwords(cluster):
    email = f"enum-{uuid.uuid4().hex[:8]}@example.com"
    assert cluster.post("/auth/register", json={"email": email, "password": "correct horse"}
                        ).status_code == 201
    wrong = cluster.post("/auth/login", json={"email": email, "password": "wrong horse!"})
    unknown = cluster.post("/auth/login", json={"email": "x" + email, "password": "wrong!!!"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    # Registering a taken email is a 409 by contract (README, Security: the trade-off).
    taken = cluster.post("/auth/register", json={"email": email.upper(), "password": "x" * 9})
    assert taken.status_code == 409 and error_code(taken) == "conflict"


def test_who_may_call_what(cluster, customer, admin_token):
    def client_token(role: str) -> str:
        made = cluster.post("/admin/clients", headers=bearer(admin_token),
                            json={"name": f"{role}-{uuid.uuid4().hex[:6]}", "role": role})
        assert made.status_code == 201, made.text
        answer = cluster.post("/auth/token", data={"grant_type": "client_credentials",
                                                   **{k: made.json()[k] for k in
                                                      ("client_id", "client_secret")}})
        return answer.json()["access_token"]

    plain, admin_client = client_token("client"), client_token("admin")
    admin_reads = ("/admin/payments", "/admin/notifications", "/admin/dead-letters",
                   "/admin/inventory/TEA-SENCHA-100")
    for path in admin_reads:
        assert cluster.get(path).status_code == 401, path
        assert error_code(cluster.get(path, headers=customer)) == "forbidden", path
        assert cluster.get(path, headers=bearer(plain)).status_code == 403, path
        assert cluster.get(path, headers=bearer(admin_client)).status_code == 200, path
    # A user's own things: API clients are no user.
    for path in ("/users/me", "/notifications"):
        assert cluster.get(path, headers=bearer(admin_client)).status_code == 403, path
    order = {"items": [{"sku": "TEA-SENCHA-100", "quantity": 1}]}
    assert cluster.post("/orders", json=order, headers=bearer(plain)).status_code == 403
    assert cluster.post("/products", headers=customer, json={
        "sku": "NOPE-1", "name": "n", "price_cents": 1}).status_code == 403


def _connect(url: str, attempts: int = 40):
    """psycopg2.connect, waiting out a server that has no connection slot left (several
    clusters on one machine can fill max_connections for a moment)."""
    parts = make_url(url)
    for attempt in range(attempts):
        try:
            return psycopg2.connect(host=parts.host, port=parts.port, user=parts.username,
                                    password=parts.password or None, dbname=parts.database,
                                    connect_timeout=5)
        except psycopg2.OperationalError as exc:
            if "connection slots" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.5)


def test_each_service_reaches_only_its_own_database(cluster, base_config):
    user_url = make_url(cluster.env["DATABASE_URL_USER_SVC"])
    inventory_url = make_url(cluster.env["DATABASE_URL_INVENTORY_SVC"])
    assert user_url.username == "user_svc" and inventory_url.username == "inventory_svc"
    with _connect(str(user_url)) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT current_user, count(*) FROM users")
        assert cursor.fetchone()[0] == "user_svc"
    conn.close()
    with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
        _connect(user_url.set(database=inventory_url.database).render_as_string(False))
    # The running services are connected as their roles, and only as those.
    admin = make_url(base_config["POSTGRES_URL"].rstrip("/") + "/postgres")
    conn = _connect(admin.render_as_string(False))
    conn.autocommit = True
    try:
        for service in base_config["SERVICES"]:
            database = make_url(cluster.env[f"DATABASE_URL_{service.upper()}"]).database

            def sessions(database=database):
                with conn.cursor() as cursor:
                    cursor.execute("SELECT DISTINCT usename FROM pg_stat_activity "
                                   "WHERE datname = %s AND usename <> %s",
                                   (database, admin.username))
                    return [row[0] for row in cursor.fetchall()]

            wait_for(sessions, timeout=10, message=f"{service} connected")
            assert sessions() == [service]
    finally:
        conn.close()


def test_an_http_request_to_the_raw_socket_is_answered_in_json(cluster):
    # The refusals eventlet itself makes, checked byte for byte as a client sees them.
    host, port = urlsplit(cluster.url).hostname, urlsplit(cluster.url).port
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = sock.recv(65536).decode("latin-1")
    head, _, body = answer.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 400 ")
    assert json.loads(body)["error"]["code"] == "validation_error"


"""Identity through the gateway only, on the running cluster."""

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from common.testing import wait_for
from tests.e2e.conftest import ADMIN_EMAIL

pytestmark = pytest.mark.e2e


def new_email():
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_register_login_me_refresh_reuse_logout(cluster):
    email = new_email()
    registered = cluster.post("/auth/register",
                              json={"email": email.upper(), "password": "correct horse",
                                    "name": "Ann"})
    assert registered.status_code == 201, registered.text
    user = registered.json()
    assert user == {"id": user["id"], "email": email, "name": "Ann", "role": "customer"}

    login = cluster.post("/auth/login", json={"email": email, "password": "correct horse"})
    assert login.status_code == 200, login.text
    first = login.json()
    assert first["token_type"] == "Bearer" and first["expires_in"] > 0

    me = cluster.get("/users/me", headers=bearer(first["access_token"]))
    assert me.status_code == 200 and me.json() == {**user, "email_verified": False}

    refreshed = cluster.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert cluster.get("/users/me", headers=bearer(second["access_token"])).status_code == 200

    # The spent token comes back (stolen): refused, and its whole family with it.
    reused = cluster.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401 and reused.json()["error"]["code"] == "unauthorized"
    family = cluster.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert family.status_code == 401

    third = cluster.post("/auth/login", json={"email": email, "password": "correct horse"}).json()
    out = cluster.post("/auth/logout", json={"refresh_token": third["refresh_token"]})
    assert out.status_code == 204 and out.content == b""
    after = cluster.post("/auth/refresh", json={"refresh_token": third["refresh_token"]})
    assert after.status_code == 401


def test_duplicate_email_is_a_conflict_whatever_the_case(cluster):
    email = new_email()
    assert cluster.post("/auth/register", json={"email": email, "password": "correct horse"}
                        ).status_code == 201
    again = cluster.post("/auth/register",
                         json={"email": email.upper(), "password": "correct horse"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


def test_bad_registrations_are_400_naming_the_field(cluster):
    short = cluster.post("/auth/register", json={"email": new_email(), "password": "short"})
    bad_email = cluster.post("/auth/register", json={"email": "nope", "password": "long enough"})
    for answer, field in ((short, "password"), (bad_email, "email")):
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "validation_error"
        assert field in json.dumps(answer.json()["error"]["details"])


def test_unknown_email_and_wrong_password_get_the_same_answer(cluster):
    email = new_email()
    cluster.post("/auth/register", json={"email": email, "password": "correct horse"})
    wrong = cluster.post("/auth/login", json={"email": email, "password": "wrong horse"})
    unknown = cluster.post("/auth/login", json={"email": new_email(), "password": "whatever1"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]


def test_admin_creates_an_api_client_that_gets_client_credentials(cluster, admin_token):
    created = cluster.post("/admin/clients", json={"name": "warehouse"},
                           headers=bearer(admin_token))
    assert created.status_code == 201, created.text
    client = created.json()
    token = cluster.post("/auth/token", data={"grant_type": "client_credentials",
                                              "client_id": client["client_id"],
                                              "client_secret": client["client_secret"]})
    assert token.status_code == 200, token.text
    assert token.json()["token_type"] == "Bearer"
    as_json = cluster.post("/auth/token", json={"grant_type": "client_credentials",
                                                "client_id": client["client_id"],
                                                "client_secret": "cs_wrong"})
    assert as_json.status_code == 401
    # A client has no user profile, and without the admin role no admin rights.
    headers = bearer(token.json()["access_token"])
    assert cluster.get("/users/me", headers=headers).status_code == 403
    assert cluster.post("/admin/clients", json={"name": "x"}, headers=headers).status_code == 403


def test_customers_cannot_create_api_clients(cluster):
    email = new_email()
    cluster.post("/auth/register", json={"email": email, "password": "correct horse"})
    token = cluster.post("/auth/login", json={"email": email, "password": "correct horse"}
                         ).json()["access_token"]
    answer = cluster.post("/admin/clients", json={"name": "x"}, headers=bearer(token))
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden"


def test_the_request_id_is_the_correlation_id_in_the_services_logs(cluster):
    request_id = f"e2e-{uuid.uuid4()}"
    answer = cluster.post("/auth/register", json={"email": new_email(), "password": "long enough"},
                          headers={"X-Request-ID": request_id})
    assert answer.headers["X-Request-ID"] == request_id

    def logged():
        log = Path(cluster.processes["user_svc"].log_path).read_text(errors="replace")
        lines = [json.loads(line) for line in log.splitlines()
                 if line.startswith("{") and request_id in line]
        return [line for line in lines if line.get("correlation_id") == request_id]

    lines = wait_for(logged, message="a user_svc log line with the request id")
    assert {line["service"] for line in lines} == {"user_svc"}


def test_health_and_ready(cluster):
    assert cluster.get("/health").status_code == 200
    ready = cluster.get("/ready")
    assert ready.status_code == 200, ready.text


def test_nameko_shell_reaches_user_svc(cluster):
    shell = Path(sys.executable).with_name("nameko")
    result = subprocess.run(
        [str(shell), "shell", "--config", "config.yml"], env=cluster.env, timeout=60,
        input=f"print(n.rpc.user_svc.get_user(n.rpc.user_svc.register("
              f"email='{new_email()}', password='from the shell')['id'])['role'])\n",
        capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert "customer" in result.stdout, result.stdout + result.stderr


def test_a_stopped_service_gives_503_at_once_and_recovers(cluster):
    """Last: it stops user_svc, then brings it back for anything after it."""
    process = cluster.processes["user_svc"]
    process.stop()
    try:
        ready = cluster.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["error"]["code"] == "service_unavailable"
        assert "user_svc" in json.dumps(ready.json()["error"]["details"])
        login = cluster.post("/auth/login", json={"email": ADMIN_EMAIL, "password": "whatever1"})
        assert login.status_code == 503
        assert login.elapsed.total_seconds() < 1
    finally:
        process.start()
        cluster.wait_ready()
        # /ready asks through a pool of its own; the views' pool keeps "not running" for
        # up to a second (common.rpc liveness_ttl): the next test must not meet it.
        wait_for(lambda: cluster.post("/auth/login", json={
            "email": ADMIN_EMAIL, "password": "whatever1"}).status_code == 401,
            timeout=10, interval=0.2, message="user_svc answering the views again")

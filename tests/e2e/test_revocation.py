"""Revocation through the running gateway: a logout or a revoked API client stops its
access tokens within 5 s (the contract), live streams included."""

import base64
import time
import uuid

import pytest

from common.testing import wait_for
from tests.e2e.conftest import login
from tests.e2e.test_stream import Stream

pytestmark = pytest.mark.e2e


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_after_logout_the_sessions_access_token_and_stream_stop_within_5_s(cluster):
    email = f"out-{uuid.uuid4().hex[:8]}@example.com"
    cluster.post("/auth/register", json={"email": email, "password": "correct horse"})
    pair = cluster.post("/auth/login", json={"email": email, "password": "correct horse"}
                        ).json()
    other = login(cluster, email, "correct horse")  # another session of the same user
    headers = bearer(pair["access_token"])
    assert cluster.get("/users/me", headers=headers).status_code == 200
    stream = Stream(cluster, headers=headers)
    assert stream.first_line().startswith(":")
    stream.follow()
    try:
        assert cluster.post("/auth/logout", json={"refresh_token": pair["refresh_token"]}
                            ).status_code == 204
        started = time.monotonic()
        wait_for(lambda: cluster.get("/users/me", headers=headers).status_code == 401,
                 timeout=5, interval=0.1, message="the access token refused")
        wait_for(lambda: stream.reader.dead, timeout=5 - (time.monotonic() - started) + 1,
                 message="the stream closed")
    finally:
        stream.close()
    answer = cluster.get("/users/me", headers=headers)
    assert answer.json()["error"]["message"] == "token revoked"
    assert cluster.get("/users/me", headers=other).status_code == 200  # only that session


def test_a_revoked_api_client_is_refused_within_5_s_and_basic_auth_gets_tokens(cluster,
                                                                               admin):
    created = cluster.post("/admin/clients", json={"name": "warehouse"}, headers=admin).json()
    raw = f"{created['client_id']}:{created['client_secret']}".encode()
    answer = cluster.post("/auth/token", data={"grant_type": "client_credentials"},
                          headers={"Authorization": "Basic " + base64.b64encode(raw).decode()})
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    listed = cluster.get("/admin/clients", headers=admin).json()["items"]
    assert created["client_id"] in {c["client_id"] for c in listed}
    assert "client_secret" not in str(listed)
    assert cluster.get("/orders", headers=bearer(token)).status_code == 403  # plain client
    assert cluster.delete(f"/admin/clients/{created['client_id']}",
                          headers=admin).status_code == 204
    wait_for(lambda: cluster.get("/orders", headers=bearer(token)).status_code == 401,
             timeout=5, interval=0.1, message="the client's token refused")
    listed = cluster.get("/admin/clients", headers=admin).json()["items"]
    assert created["client_id"] not in {c["client_id"] for c in listed}
    assert cluster.delete("/admin/clients/cl_ffffffffffffffff",
                          headers=admin).status_code == 404


def test_a_password_change_ends_the_other_sessions_within_5_s(cluster):
    email = f"pw-{uuid.uuid4().hex[:8]}@example.com"
    cluster.post("/auth/register", json={"email": email, "password": "correct horse",
                                         "name": "Ann"})
    here, elsewhere = (login(cluster, email, "correct horse") for _ in range(2))
    wrong = cluster.post("/auth/password/change", headers=here, json={
        "current_password": "wrong horse", "new_password": "battery staple"})
    assert wrong.status_code == 401
    assert cluster.post("/auth/password/change", headers=here, json={
        "current_password": "correct horse", "new_password": "battery staple"}
                        ).status_code == 204
    wait_for(lambda: cluster.get("/users/me", headers=elsewhere).status_code == 401,
             timeout=5, interval=0.1, message="the other session refused")
    renamed = cluster.patch("/users/me", headers=here, json={"name": "Ann B."})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Ann B."
    assert cluster.patch("/users/me", headers=here, json={"role": "admin"}).status_code == 400
    assert cluster.post("/auth/login", json={"email": email, "password": "correct horse"}
                        ).status_code == 401
    assert login(cluster, email, "battery staple")


def test_admins_find_accounts(cluster, admin):
    marker = uuid.uuid4().hex[:8]
    email = f"find-{marker}@example.com"
    cluster.post("/auth/register", json={"email": email, "password": "correct horse",
                                         "name": f"Findable {marker}"})
    found = cluster.get("/admin/users", headers=admin, params={"q": marker.upper()}).json()
    assert [u["email"] for u in found["items"]] == [email]
    assert set(found["items"][0]) == {"id", "email", "name", "role", "created_at"}


def test_a_forgotten_password_is_reset_by_mail_and_every_session_ends(cluster):
    import email as email_lib
    import email.policy
    import re
    import urllib.parse
    address = f"reset-{uuid.uuid4().hex[:8]}@example.com"
    cluster.post("/auth/register", json={"email": address, "password": "correct horse"})
    session = login(cluster, address, "correct horse")
    assert cluster.post("/auth/password/forgot", json={"email": "nobody@example.com"}
                        ).status_code == 202
    assert cluster.post("/auth/password/forgot", json={"email": address}).status_code == 202

    def reset_mail():
        for path in sorted(cluster.mail_dir.glob("*.eml")):
            mail = email_lib.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if address in str(mail["To"]) and "Reset" in str(mail["Subject"]):
                return mail
        return None

    body = wait_for(reset_mail, timeout=30, message="the reset mail").get_body(
        ("plain",)).get_content()
    token = urllib.parse.unquote(re.search(r"#/reset\?token=(\S+)", body).group(1))
    assert cluster.post("/auth/password/reset", json={"token": token,
                                                      "password": "battery staple"}
                        ).status_code == 204
    wait_for(lambda: cluster.get("/users/me", headers=session).status_code == 401,
             timeout=5, interval=0.1, message="the old session refused")
    spent = cluster.post("/auth/password/reset", json={"token": token,
                                                       "password": "another one!"})
    assert spent.status_code == 400
    assert login(cluster, address, "battery staple")


def test_a_warehouse_client_reads_inventory_and_restocks_and_nothing_more(cluster, admin):
    sku = f"WH-{uuid.uuid4().hex[:8].upper()}"
    assert cluster.post("/products", headers=admin, json={
        "sku": sku, "name": "Crate", "price_cents": 500, "stock": 1}).status_code == 201
    created = cluster.post("/admin/clients", headers=admin, json={
        "name": "warehouse", "scopes": ["inventory:read", "inventory:write"]}).json()
    assert created["scopes"] == ["inventory:read", "inventory:write"]
    raw = f"{created['client_id']}:{created['client_secret']}".encode()
    token = cluster.post("/auth/token", data={"grant_type": "client_credentials"}, headers={
        "Authorization": "Basic " + base64.b64encode(raw).decode()}).json()["access_token"]
    headers = bearer(token)
    assert cluster.post(f"/products/{sku}/restock", headers=headers,
                        json={"quantity": 4}).json()["on_hand"] == 5
    assert cluster.get(f"/admin/inventory/{sku}", headers=headers).json()["available"] == 5
    assert cluster.patch(f"/products/{sku}", headers=headers,
                         json={"price_cents": 1}).status_code == 403
    assert cluster.get("/admin/payments", headers=headers).status_code == 403

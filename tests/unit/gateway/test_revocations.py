"""Revoked sessions and API clients: refused by the gateway before their tokens expire."""

from __future__ import annotations

import base64
import time

import eventlet
import pytest

from common.tokens import Principal
from gateway.revocations import LOOK_BACK_S, Revocations
from gateway.state import EXTENSION
from tests.unit.gateway.support import bearer, error_of

SESSION = "44444444-4444-4444-8444-444444444444"
CLIENT_ID = "cl_0123456789abcdef"


def answer(as_of, sessions=None, subjects=None):
    return {"as_of": as_of, "sessions": sessions or {}, "subjects": subjects or {}}


def test_a_revoked_session_or_client_is_covered_and_forgotten_after_a_token_lifetime():
    revocations = Revocations(keep_s=900)
    ann = Principal("11111111-1111-4111-8111-111111111111", "customer", "user",
                    session=SESSION, issued_at=1000)
    client = Principal(CLIENT_ID, "client", "client", issued_at=1000)
    assert revocations.since(5000) == 5000 - 900  # a new process loads a lifetime's worth
    assert revocations.learn(answer(1010, {SESSION: 1005}, {CLIENT_ID: 1005}), 1010) == {
        SESSION}
    assert revocations.covers(ann) and revocations.covers(client)
    # A revoked client's every token: one issued in the instant of the revoke too.
    assert revocations.covers(Principal(CLIENT_ID, "client", "client", issued_at=1006))
    assert revocations.since(1020) == 1010 - LOOK_BACK_S  # overlap: late commits are seen
    assert revocations.learn(answer(1020, {SESSION: 1005}), 1020) == set()  # not new
    revocations.learn(answer(3000), 3000)  # 900 s on: no token of theirs is valid now
    assert not revocations.covers(ann) and not revocations.covers(client)


def test_the_poller_keeps_what_it_knows_while_user_svc_is_away():
    revocations, asked, ended = Revocations(keep_s=900), [], []
    answers = iter([answer(100, {SESSION: 99}), RuntimeError("user_svc away"),
                    answer(102)])

    def ask(since):
        asked.append(since)
        got = next(answers)
        if isinstance(got, Exception):
            raise got
        return got

    poller = eventlet.spawn(revocations.poll_forever, ask, 0.001, ended.append,
                            clock=lambda: 150.0)
    while len(asked) < 3:
        eventlet.sleep(0.001)
    poller.kill()
    assert asked[:3] == [150 - 900, 100 - LOOK_BACK_S, 100 - LOOK_BACK_S]
    assert ended == [{SESSION}] and SESSION in revocations.sessions


@pytest.fixture
def revocations(app):
    return app.extensions[EXTENSION].revocations


def test_a_token_of_a_revoked_session_is_a_401_and_other_sessions_work(
        client, rpc, make_token, settings, revocations):
    rpc.answers[("user_svc", "get_user")] = {"id": "11111111-1111-4111-8111-111111111111",
                                             "email": "ann@example.com", "name": None,
                                             "role": "customer"}
    from common.tokens import issue_access_token
    now = int(time.time())
    token = issue_access_token(settings, Principal(
        "11111111-1111-4111-8111-111111111111", "customer", "user", "ann@example.com",
        session=SESSION), now)
    other = issue_access_token(settings, Principal(
        "11111111-1111-4111-8111-111111111111", "customer", "user", "ann@example.com",
        session="55555555-5555-4555-8555-555555555555"), now)
    assert client.get("/users/me", headers=bearer(token)).status_code == 200
    revocations.learn(answer(now, {SESSION: now}), now)
    refused = client.get("/users/me", headers=bearer(token))
    assert refused.status_code == 401 and error_of(refused)["message"] == "token revoked"
    assert client.get("/users/me", headers=bearer(other)).status_code == 200


def test_a_revoked_sessions_live_stream_ends(client, settings, hub):
    from common.tokens import issue_access_token
    token = issue_access_token(settings, Principal(
        "11111111-1111-4111-8111-111111111111", "customer", "user", "ann@example.com",
        session=SESSION), int(time.time()))
    response = client.get("/events/stream", headers=bearer(token), buffered=False)
    chunks = iter(response.response)
    next(chunks)  # connected
    assert hub.close_sessions({SESSION}) == 1
    assert list(chunks) == []  # the stream ended
    response.close()
    assert hub.subscriber_count() == 0


def test_admins_list_and_revoke_api_clients(client, rpc, make_token):
    admin = bearer(make_token(role="admin"))
    listed = {"client_id": CLIENT_ID, "name": "warehouse", "role": "client",
              "scopes": ["inventory:read"], "created_at": "2026-11-30T12:00:00+00:00"}
    rpc.answers[("user_svc", "list_clients")] = {"items": [{**listed, "secret_hash": "x"}]}
    response = client.get("/admin/clients", headers=admin)
    assert response.status_code == 200 and response.get_json() == {"items": [listed]}
    rpc.answers[("user_svc", "revoke_client")] = None
    response = client.delete(f"/admin/clients/{CLIENT_ID}", headers=admin)
    assert response.status_code == 204 and rpc.last().kwargs == {"client_id": CLIENT_ID}
    calls = len(rpc.calls)
    assert client.delete("/admin/clients/not-a-client-id", headers=admin).status_code == 404
    assert len(rpc.calls) == calls  # a malformed id never reaches user_svc
    customer = bearer(make_token())
    assert client.get("/admin/clients", headers=customer).status_code == 403


def basic(client_id: str, secret: str) -> dict:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def test_client_credentials_in_http_basic_get_a_token(client, rpc):
    rpc.answers[("user_svc", "issue_client_token")] = {"access_token": "t", "expires_in": 9}
    response = client.post("/auth/token", data={"grant_type": "client_credentials"},
                           headers=basic(CLIENT_ID, "cs_a+b%2Fc"))
    assert response.status_code == 200, response.data
    # RFC 6749 2.3.1: form-urlencoded before base64.
    assert rpc.last().kwargs == {"client_id": CLIENT_ID, "client_secret": "cs_a b/c"}


def test_a_basic_header_is_checked_like_the_body(client, rpc):
    nul = client.post("/auth/token", data={"grant_type": "client_credentials"},
                      headers=basic("cl_%00", "s"))  # a NUL once reached PostgreSQL: 500
    assert nul.status_code == 400 and error_of(nul)["code"] == "validation_error"
    assert rpc.calls == []


def test_client_credentials_sent_two_ways_or_none_are_a_400(client, rpc):
    both = client.post("/auth/token", data={"grant_type": "client_credentials",
                                            "client_id": CLIENT_ID, "client_secret": "s"},
                       headers=basic(CLIENT_ID, "s"))
    assert both.status_code == 400 and error_of(both)["code"] == "validation_error"
    none = client.post("/auth/token", data={"grant_type": "client_credentials"})
    assert none.status_code == 400
    fields = {f["field"] for f in error_of(none)["details"]["fields"]}
    assert fields == {"client_id", "client_secret"}
    assert rpc.calls == []


def test_admins_list_accounts_with_a_query(client, rpc, make_token):
    account = {"id": "11111111-1111-4111-8111-111111111111", "email": "ann@example.com",
               "name": "Ann", "role": "customer", "created_at": "2026-11-30T12:00:00+00:00"}
    rpc.answers[("user_svc", "list_users")] = {"items": [{**account, "password_hash": "x"}],
                                               "next_cursor": None}
    response = client.get("/admin/users?q=ann&limit=5", headers=bearer(make_token(role="admin")))
    assert response.status_code == 200
    assert response.get_json() == {"items": [account], "next_cursor": None}
    assert rpc.last().kwargs == {"q": "ann", "limit": 5, "cursor": None}
    assert client.get("/admin/users", headers=bearer(make_token())).status_code == 403
    too_long = client.get("/admin/users?q=" + "x" * 101, headers=bearer(make_token(role="admin")))
    assert too_long.status_code == 400


def test_forgot_is_202_for_any_email_and_reset_forgives_the_sign_in_count(client, rpc):
    rpc.answers[("user_svc", "request_password_reset")] = None
    for email in ("ann@example.com", "nobody@example.com"):
        answer = client.post("/auth/password/forgot", json={"email": email})
        assert answer.status_code == 202
    rpc.answers[("user_svc", "reset_password")] = {"email": "ann@example.com"}
    answer = client.post("/auth/password/reset", json={"token": "pr_x",
                                                        "password": "battery staple"})
    assert answer.status_code == 204
    assert rpc.last().kwargs == {"token": "pr_x", "password": "battery staple"}
    short = client.post("/auth/password/reset", json={"token": "pr_x", "password": "short"})
    assert short.status_code == 400


def test_a_scoped_client_calls_its_admin_routes_and_no_others(client, rpc, settings):
    from common.tokens import issue_access_token
    warehouse = issue_access_token(settings, Principal(
        CLIENT_ID, "client", "client", scopes=frozenset({"inventory:read", "inventory:write"})),
        int(time.time()))
    plain = issue_access_token(settings, Principal(CLIENT_ID, "client", "client"),
                               int(time.time()))
    stock = {"sku": "TEA", "on_hand": 5, "reserved": 0, "available": 5}
    rpc.answers[("inventory_svc", "restock")] = stock
    rpc.answers[("inventory_svc", "get_stock")] = stock
    assert client.post("/products/TEA/restock", json={"quantity": 5},
                       headers=bearer(warehouse)).status_code == 200
    assert client.get("/admin/inventory/TEA", headers=bearer(warehouse)).status_code == 200
    for path, method in (("/products", "post"), ("/admin/payments", "get")):
        answer = getattr(client, method)(path, json={} if method == "post" else None,
                                         headers=bearer(warehouse))
        assert answer.status_code == 403, (path, answer.data)
    refused = client.post("/products/TEA/restock", json={"quantity": 5}, headers=bearer(plain))
    assert refused.status_code == 403 and "inventory:write" in error_of(refused)["message"]

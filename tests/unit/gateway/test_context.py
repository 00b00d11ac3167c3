"""X-Request-ID: echoed or generated, passed to every RPC, bound into the log context."""

from __future__ import annotations

import logging
import uuid

import pytest

from common.logging import current_correlation_id
from tests.unit.gateway.support import bearer

USER = {"id": "11111111-1111-4111-8111-111111111111", "email": "ann@example.com",
        "name": "Ann", "role": "customer"}


def test_a_good_client_id_is_echoed_and_propagated(client, rpc, make_token):
    rpc.answers[("user_svc", "get_user")] = USER
    headers = {**bearer(make_token()), "X-Request-ID": "trace-me.42"}
    response = client.get("/users/me", headers=headers)
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "trace-me.42"
    assert rpc.last().correlation_id == "trace-me.42"


def test_a_new_id_is_made_when_none_is_sent(client, rpc):
    rpc.answers[("user_svc", "logout")] = None
    response = client.post("/auth/logout", json={"refresh_token": "rt"})
    rid = response.headers["X-Request-ID"]
    assert uuid.UUID(rid).version == 4
    assert rpc.last().correlation_id == rid
    other = client.post("/auth/logout", json={"refresh_token": "rt"})
    assert other.headers["X-Request-ID"] != rid


@pytest.mark.parametrize("bad", ["x" * 129, "tab\there", "caf\u00e9", "   "])
def test_an_unacceptable_id_is_replaced(client, bad):
    response = client.get("/health", headers={"X-Request-ID": bad})
    assert response.status_code == 200
    assert uuid.UUID(response.headers["X-Request-ID"]).version == 4


def test_boundary_lengths_are_accepted(client):
    for rid in ("a", "b" * 128, "with spaces and !#$%&'*+-.^_`|~"):
        assert client.get("/health", headers={"X-Request-ID": rid}).headers[
            "X-Request-ID"] == rid


def test_error_answers_carry_the_id_too(client):
    response = client.get("/nowhere", headers={"X-Request-ID": "lost-1"})
    assert response.status_code == 404
    assert response.headers["X-Request-ID"] == "lost-1"
    response = client.post("/auth/login", data="x", content_type="text/plain",
                           headers={"X-Request-ID": "bad-type"})
    assert response.status_code == 415
    assert response.headers["X-Request-ID"] == "bad-type"


def test_log_context_is_bound_during_the_request_and_cleared_after(client, rpc, make_token):
    seen = {}

    def get_user(user_id):
        seen["correlation_id"] = current_correlation_id()
        return USER

    rpc.answers[("user_svc", "get_user")] = get_user
    client.get("/users/me", headers={**bearer(make_token()), "X-Request-ID": "ctx-7"})
    assert seen["correlation_id"] == "ctx-7"
    assert current_correlation_id() is None


def test_one_access_log_line_per_request(client, caplog):
    with caplog.at_level(logging.INFO, logger="gateway.access"):
        client.get("/health", headers={"X-Request-ID": "acc-1"})
    lines = [r for r in caplog.records if r.name == "gateway.access"]
    assert len(lines) == 1
    assert (lines[0].method, lines[0].path, lines[0].status) == ("GET", "/health", 200)

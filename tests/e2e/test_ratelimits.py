"""Rate limits through real gateway processes with small limits of their own.

The session's cluster runs with generous limits (the suite logs in hundreds of times
from 127.0.0.1); these tests start extra gateway processes on the same broker and
services, as `python -m gateway.server` with other settings: one counting in memory,
and two sharing their counters through Redis (skipped when no Redis answers).
"""

from __future__ import annotations

import socket
import sys
import uuid

import pytest
import requests

from common.testing import Process, free_port, wait_for

pytestmark = pytest.mark.e2e
PASSWORD = "correct horse"
REDIS = ("127.0.0.1", 6379)


class Gateway:
    """One extra gateway process and a tiny client for it."""

    def __init__(self, cluster, log_dir, name: str, **settings):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**cluster.env, "GATEWAY_PORT": str(self.port),
               **{key: str(value) for key, value in settings.items()}}
        self.process = Process(name, [sys.executable, "-m", "gateway.server"], env,
                               str(log_dir))

    def start(self) -> Gateway:
        self.process.start()
        wait_for(lambda: self.get("/health").status_code == 200, timeout=30, interval=0.2,
                 message=f"{self.url}/health")
        return self

    def get(self, path, **kwargs):
        return requests.get(self.url + path, timeout=10, **kwargs)

    def post(self, path, **kwargs):
        return requests.post(self.url + path, timeout=10, **kwargs)


def assert_429(answer) -> int:
    assert answer.status_code == 429, answer.text
    assert answer.json()["error"]["code"] == "rate_limited"
    retry = int(answer.headers["Retry-After"])
    assert retry >= 1 and answer.json()["error"]["details"]["retry_after_s"] == retry
    assert answer.headers["X-Request-ID"]
    return retry


def new_account(gateway) -> str:
    email = f"rl-{uuid.uuid4().hex[:10]}@example.com"
    assert gateway.post("/auth/register", json={"email": email, "password": PASSWORD}
                        ).status_code == 201
    return email


@pytest.fixture(scope="module")
def strict(cluster, tmp_path_factory):
    """A gateway with small limits, counting in memory; CORS for one origin."""
    gateway = Gateway(cluster, tmp_path_factory.mktemp("strict-gateway"), "gateway-strict",
                      RATE_LIMIT_AUTH="12/minute", RATE_LIMIT_ACCOUNT="4/minute",
                      SIGN_IN_FAILURES_PER_CLIENT="2/minute;3/hour", RATE_LIMIT_ORDERS="2/minute",
                      CORS_ORIGINS="https://shop.example").start()
    yield gateway
    gateway.process.stop()


def test_repeated_failed_logins_are_throttled(strict):
    email = new_account(strict)
    for _ in range(2):
        answer = strict.post("/auth/login", json={"email": email, "password": "wrong horse"})
        assert answer.status_code == 401
    # Two failures from this address: the third attempt waits, for up to a minute.
    retry = assert_429(strict.post("/auth/login", json={"email": email, "password": PASSWORD}))
    assert 1 <= retry <= 60


def test_orders_are_limited_per_user(strict):
    email = new_account(strict)
    token = strict.post("/auth/login", json={"email": email, "password": PASSWORD}
                        ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    body = {"items": [{"sku": "NO-SUCH-SKU", "quantity": 1}]}
    for _ in range(2):
        assert strict.post("/orders", json=body, headers=headers).status_code == 400
    assert_429(strict.post("/orders", json=body, headers=headers))
    assert strict.get("/orders", headers=headers).status_code == 200  # reads are not limited


def test_cors_for_the_configured_origin(strict):
    preflight = requests.options(strict.url + "/orders", timeout=10, headers={
        "Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type, Idempotency-Key"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    allowed = preflight.headers["Access-Control-Allow-Headers"]
    for header in ("Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID",
                   "Last-Event-ID"):
        assert header in allowed
    answer = strict.get("/products", headers={"Origin": "https://shop.example"})
    assert answer.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "X-Request-ID" in answer.headers["Access-Control-Expose-Headers"]
    other = strict.get("/products", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_auth_routes_share_a_limit_per_address(strict):
    # Runs last in this module: it spends the address's /auth/* budget (12 per minute).
    answers = [strict.post("/auth/refresh", json={"refresh_token": "rt_nope"})
               for _ in range(12)]
    refused = [a for a in answers if a.status_code == 429]
    assert refused, [a.status_code for a in answers]
    assert_429(refused[0])
    assert_429(strict.post("/auth/login", json={"email": "a@example.com", "password": "x"}))
    assert strict.get("/products").status_code == 200  # only /auth/* is limited by it


def _redis_up() -> bool:
    try:
        socket.create_connection(REDIS, timeout=1).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_two_gateways_share_counters_through_redis(cluster, tmp_path_factory):
    settings = {"RATE_LIMIT_STORAGE_URI": f"redis://{REDIS[0]}:{REDIS[1]}",
                "SIGN_IN_FAILURES_PER_ACCOUNT": "3/minute"}
    log_dir = tmp_path_factory.mktemp("redis-gateways")
    first = Gateway(cluster, log_dir, "gateway-redis-1", **settings).start()
    second = Gateway(cluster, log_dir, "gateway-redis-2", **settings).start()
    try:
        email = f"shared-{uuid.uuid4().hex[:10]}@example.com"  # a fresh key in Redis
        login = {"email": email, "password": "wrong horse"}
        assert first.post("/auth/login", json=login).status_code == 401
        assert second.post("/auth/login", json=login).status_code == 401
        assert first.post("/auth/login", json=login).status_code == 401
        assert_429(second.post("/auth/login", json=login))  # the 4th, counted across both
    finally:
        first.process.stop()
        second.process.stop()

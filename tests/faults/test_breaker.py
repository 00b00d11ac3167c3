"""inventory_svc away: its circuit breaker opens, the catalog answers 503 at once,
everything else is served, and all recovers by itself once the service is back.

Two ways of being away: stopped (nothing consumes its queue) and hung (SIGSTOP: its
queue still has a consumer, so each call waits out RPC_TIMEOUT_S until the breaker
opens). Catalog reads use a search nobody made before (`q=`), so the gateway's
catalog cache never answers them. Neither test restarts RabbitMQ or PostgreSQL.
"""

import os
import signal
import time
import uuid

import eventlet
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from common.testing import wait_for

pytestmark = pytest.mark.fault

INV = "inventory_svc"
RESET_S = 5  # BREAKER_RESET_S's default, which the cluster runs with
FAST_S = 0.05
NOTHING_AWAITED_S = 0.5


def catalog(session, cluster):
    """A catalog read the cache cannot answer: (status, JSON, seconds)."""
    started = time.monotonic()
    answer = session.get(f"{cluster.url}/products", params={"q": uuid.uuid4().hex},
                         timeout=30)
    return answer.status_code, answer.json(), time.monotonic() - started


def breaker_open(session, cluster) -> bool:
    status, body, _ = catalog(session, cluster)
    return status == 503 and body["error"]["details"].get("breaker") == "open"


def ready(cluster) -> dict:
    """/ready's body, or its 503's details: {"checks", "breakers"}."""
    body = cluster.get("/ready").json()
    return body if "checks" in body else body["error"]["details"]


def breaker_gauge(cluster) -> float:
    text = cluster.get("/metrics").text
    return next(s.value for family in text_string_to_metric_families(text)
                for s in family.samples
                if s.name == "gateway_breaker_state" and s.labels == {"service": INV})


def others_are_served(session, cluster, customer):
    """Routes that do not need inventory_svc answer as usual, and quickly."""
    for path in ("/users/me", "/orders"):
        started = time.monotonic()
        answer = session.get(cluster.url + path, headers=customer, timeout=10)
        assert answer.status_code == 200, (path, answer.text)
        assert time.monotonic() - started < 1.0, path


def fast_503s(session, cluster):
    """While open: every catalog read is a 503 naming the breaker, typically in under
    50 ms (the median; on a busy 2-core machine a few take longer, but none waits for
    anything: far below the 5 s RPC timeout)."""
    took = []
    for _ in range(30):
        status, body, seconds = catalog(session, cluster)
        if body.get("error", {}).get("details", {}).get("breaker") == "half_open":
            continue  # the one probe of this period is out: refused at once all the same
        assert status == 503 and body["error"]["code"] == "service_unavailable", body
        assert body["error"]["details"]["service"] == INV
        took.append(seconds)
    took.sort()
    assert len(took) >= 20 and took[len(took) // 2] < FAST_S, took
    assert took[-1] < NOTHING_AWAITED_S, took


def recovers(session, cluster, customer):
    """Once /ready sees the service answer again (its checks go around the breaker),
    the catalog is served within the breaker's reset time and a probe."""
    wait_for(lambda: ready(cluster)["checks"][INV] == "ok", timeout=60, interval=0.2,
             message="inventory_svc answering /ready's check again")
    back = time.monotonic()
    wait_for(lambda: catalog(session, cluster)[0] == 200, timeout=RESET_S + 5,
             interval=0.1, message="the catalog served again")
    assert time.monotonic() - back < RESET_S + 3
    assert ready(cluster)["breakers"][INV] == "closed"
    assert breaker_gauge(cluster) == 0
    others_are_served(session, cluster, customer)


def test_inventory_svc_stopped(cluster, customer):
    process, session = cluster.processes[INV], requests.Session()
    assert catalog(session, cluster)[0] == 200
    try:
        process.stop()
        # "not running" 503s (fast already: nothing consumes its queue) open it.
        wait_for(lambda: breaker_open(session, cluster), timeout=30, interval=0.05,
                 message="the breaker of inventory_svc open")
        fast_503s(session, cluster)
        others_are_served(session, cluster, customer)
        assert ready(cluster)["breakers"][INV] in ("open", "half_open")
        assert breaker_gauge(cluster) in (1, 2)
        process.start()
        recovers(session, cluster, customer)
    finally:
        if process.popen.poll() is not None:
            process.start()
        cluster.wait_ready()


def test_inventory_svc_hung(cluster, customer):
    """Hung, each call waits out RPC_TIMEOUT_S (5 s); after BREAKER_FAILURES (5) of
    them the breaker answers at once instead."""
    process, session = cluster.processes[INV], requests.Session()
    assert catalog(session, cluster)[0] == 200
    pid = process.popen.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        pool = eventlet.GreenPool(5)
        waits = list(pool.imap(lambda _: catalog(requests.Session(), cluster), range(5)))
        assert [status for status, _, _ in waits] == [504] * 5, waits
        assert min(seconds for _, _, seconds in waits) > 3  # each waited for its timeout
        assert breaker_open(session, cluster)
        fast_503s(session, cluster)
        others_are_served(session, cluster, customer)
    finally:
        os.kill(pid, signal.SIGCONT)
    recovers(session, cluster, customer)

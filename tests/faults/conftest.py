"""The fault-injection tier: the real cluster on loopback, broken on purpose.

It reuses the e2e cluster (tests/e2e/conftest.py) with settings for faults: fast
shipping, and event retries that outlast a broker or database restart. It restarts
the machine's RabbitMQ and PostgreSQL, so `make test` runs it alone, after the rest.
"""

import uuid
from dataclasses import dataclass, field

import pytest

from common.rpc import RpcPool
from tests.e2e import conftest as e2e
from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, login
from tests.faults.flow import Flow
from tools.check import wait_until_clean

pytestmark = pytest.mark.fault

# The e2e tier's cluster and users, shared (pytest finds fixtures by these names).
cluster, admin, customer, broker = e2e.cluster, e2e.admin, e2e.customer, e2e.broker


@dataclass
class Tally:
    faults: list[str] = field(default_factory=list)
    orders: int = 0
    retries: int = 0
    violations: int = 0


TALLY = Tally()


@pytest.fixture(scope="session")
def cluster_env():
    return {"DELIVERY_SHIP_AFTER_S": "1", "DELIVERY_DELIVER_AFTER_S": "1",
            # Handler retries span ~11 s: longer than a broker or database restart.
            "EVENT_RETRY_DELAYS_MS": "[300, 1000, 2000, 4000]", "EVENT_MAX_ATTEMPTS": "6",
            "NOTIFY_RETRY_DELAYS_S": "[0.5, 1, 2, 4, 8]"}


@pytest.fixture(scope="session")
def shop(cluster):
    """Shoppers and products for the flow: plenty of stock, and one scarce product."""
    headers = login(cluster, ADMIN_EMAIL, ADMIN_PASSWORD)
    skus = []
    for stock in (100000, 100000, 3):
        sku = f"F-{uuid.uuid4().hex[:8].upper()}"
        assert cluster.post("/products", headers=headers, json={
            "sku": sku, "name": sku, "price_cents": 990, "stock": stock}).status_code == 201
        skus.append(sku)
    shoppers = []
    for n in range(4):
        email = f"shopper-{n}-{uuid.uuid4().hex[:6]}@example.com"
        cluster.post("/auth/register", json={"email": email, "password": "correct horse"})
        shoppers.append(login(cluster, email, "correct horse"))
    return shoppers, skus


@pytest.fixture
def flow(cluster, shop):
    shoppers, skus = shop
    flow = Flow(cluster.url, shoppers, skus)
    yield flow
    flow.stop()
    TALLY.orders += len(flow.placed)
    TALLY.retries += flow.retries


@pytest.fixture(scope="session")
def checker(cluster):
    pool = RpcPool({"AMQP_URI": cluster.env["AMQP_URI"]}, size=2, timeout=10,
                   liveness_ttl=0)
    yield pool
    pool.close()


def settle_and_check(checker, flow: Flow, fault: str) -> None:
    """Stop the flow, let every order finish, and find nothing wrong."""
    flow.stop()
    TALLY.faults.append(fault)
    # Inside pytest's own 120 s per test: a saga that does not settle is reported with
    # what is stuck, instead of the timeout killing the session.
    report = wait_until_clean(checker, timeout=75)
    TALLY.violations += len(report.violations)
    assert report.violations == [], f"after {fault}: {report.violations[:20]}"
    assert report.counts["in_flight"] == 0


def pytest_terminal_summary(terminalreporter):
    if not TALLY.faults:
        return
    terminalreporter.write_sep("=", "fault injection")
    terminalreporter.write_line(
        f"orders placed during faults: {TALLY.orders}; client retries (5xx or no answer): "
        f"{TALLY.retries}; faults injected: {len(TALLY.faults)}; "
        f"violations: {TALLY.violations}")
    terminalreporter.write_line("faults: " + ", ".join(TALLY.faults))

"""The whole cluster, started as `make run` starts it, on its own vhost and databases."""

import os
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from common.migrate import seed
from common.testing import (
    Process,
    free_port,
    gateway_process,
    migrated_role_database,
    service_process,
    temporary_vhost,
    wait_for,
)

ADMIN_EMAIL, ADMIN_PASSWORD = "root@example.com", "e2e-admin-password"


@dataclass
class Cluster:
    url: str
    env: dict
    mail_dir: Path
    processes: dict[str, Process] = field(default_factory=dict)
    metrics_ports: dict[str, int] = field(default_factory=dict)  # service -> port

    def get(self, path, **kwargs):
        return requests.get(self.url + path, timeout=10, **kwargs)

    def post(self, path, **kwargs):
        return requests.post(self.url + path, timeout=10, **kwargs)

    def delete(self, path, **kwargs):
        return requests.delete(self.url + path, timeout=10, **kwargs)

    def patch(self, path, **kwargs):
        return requests.patch(self.url + path, timeout=10, **kwargs)

    def ready(self) -> bool:
        return self.get("/ready").status_code == 200

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{p.log_tail()}" for name, p in self.processes.items())

    def wait_ready(self, timeout=60):
        try:
            wait_for(self.ready, timeout=timeout, interval=0.2, message="GET /ready = 200")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None


def mail_sink(port: int, mail_dir: Path, env: dict, log_dir: str) -> Process:
    """The SMTP server on loopback that `make run` uses too: mail lands in `mail_dir`."""
    return Process("mail", [sys.executable, "-m", "tools.mailsink", "--port", str(port),
                            "--dir", str(mail_dir)], env, log_dir)


@pytest.fixture(scope="session")
def cluster_env() -> dict:
    """Settings a test package adds to the cluster's environment (tests/faults does)."""
    return {}


@pytest.fixture(scope="session")
def broker(base_config) -> dict:
    """The cluster's broker settings: a vhost of its own on config's RabbitMQ (the
    cluster tier has three nodes of its own instead)."""
    management = base_config["RABBIT_MANAGEMENT_URI"]
    with temporary_vhost(management, base_config["AMQP_URI"]) as amqp:
        yield {"AMQP_URI": amqp, "RABBIT_MANAGEMENT_URI": management}


@pytest.fixture(scope="session")
def cluster(base_config, tmp_path_factory, cluster_env, broker):
    log_dir = str(tmp_path_factory.mktemp("cluster-logs"))
    mail_dir = tmp_path_factory.mktemp("mail")
    port, smtp_port = free_port(), free_port()
    env = {**os.environ, **broker, "GATEWAY_HOST": "127.0.0.1",
           "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port),
           "NOTIFY_RETRY_DELAYS_S": "[0.5, 1, 2]",
           "DELIVERY_SHIP_AFTER_S": "5", "DELIVERY_DELIVER_AFTER_S": "2",
           "GATEWAY_PORT": str(port), "BCRYPT_ROUNDS": "4", "ADMIN_EMAIL": ADMIN_EMAIL,
           "ADMIN_PASSWORD": ADMIN_PASSWORD, "PYTHONUNBUFFERED": "1",
           "JWT_SECRET": base_config["JWT_SECRET"],
           # Fast retries and short provider delays: the saga settles in seconds.
           "EVENT_RETRY_DELAYS_MS": "[200, 500, 1000]",
           "PAYMENT_RETRY_DELAYS_MS": "[50, 100, 200]", "PAYMENT_SLOW_S": "0.5",
           "EVENTLET_TESTS": "1",
           # The suite logs in and registers hundreds of times from 127.0.0.1, the
           # admin many times: generous limits here; test_ratelimits.py runs a gateway
           # of its own with small ones.
           "RATE_LIMIT_AUTH": "100000/minute", "RATE_LIMIT_ACCOUNT": "100000/minute",
           "RATE_LIMIT_ORDERS": "100000/minute", "SIGN_IN_FAILURES_PER_CLIENT": "100000/minute",
           "SIGN_IN_FAILURES_PER_ACCOUNT": "100000/minute",
           # Bursts of 20 concurrent orders (the oversell race) must all be taken;
           # test_overload.py runs a gateway of its own with a tiny admission limit.
           "GATEWAY_MAX_IN_FLIGHT": "64",
           **cluster_env}
    db_uris = {}
    for service in base_config["SERVICES"]:
        # Each service logs in as its own role, as with `make run` (common.dbroles).
        url = env[f"DATABASE_URL_{service.upper()}"] = migrated_role_database(service)
        db_uris[f"{service}:Base"] = url
    for service in base_config["SERVICES"]:
        seed(service, {**base_config, "DB_URIS": db_uris})  # as `make run` does
    # Each service's metrics on a free port (a `make run` may hold the default ones).
    metrics_ports = {service: free_port() for service in base_config["SERVICES"]}
    env.update({f"METRICS_PORT_{service.upper()}": str(metrics_port)
                for service, metrics_port in metrics_ports.items()})
    env.setdefault("METRICS_SAMPLE_INTERVAL_S", "0.5")
    cluster = Cluster(url=f"http://127.0.0.1:{port}", env=env, mail_dir=mail_dir,
                      metrics_ports=metrics_ports)
    cluster.processes["mail"] = mail_sink(smtp_port, mail_dir, env, log_dir).start()
    for service in base_config["SERVICES"]:
        cluster.processes[service] = service_process(service, env, log_dir).start()
    cluster.processes["gateway"] = gateway_process(env, log_dir).start()
    try:
        cluster.wait_ready()
        yield cluster
    finally:
        for process in cluster.processes.values():
            process.stop()


def login(cluster, email, password) -> dict:
    answer = cluster.post("/auth/login", json={"email": email, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.fixture
def customer(cluster):
    """Headers of a freshly registered customer."""
    email = f"c-{uuid.uuid4().hex[:10]}@example.com"
    assert cluster.post("/auth/register", json={"email": email, "password": "correct horse"}
                        ).status_code == 201
    return login(cluster, email, "correct horse")


@pytest.fixture
def admin(cluster):
    return login(cluster, ADMIN_EMAIL, ADMIN_PASSWORD)


@pytest.fixture
def admin_token(cluster):
    answer = cluster.post("/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


@pytest.fixture
def product(cluster, admin):
    """Makes a fresh product with `stock` units: its own sku, so tests don't share stock.
    `product(stock=10, price_cents=450)` -> the sku."""
    def make(stock=10, price_cents=450):
        sku = f"E2E-{uuid.uuid4().hex[:8].upper()}"
        answer = cluster.post("/products", headers=admin, json={
            "sku": sku, "name": f"Product {sku}", "price_cents": price_cents, "stock": stock})
        assert answer.status_code == 201, answer.text
        return sku
    return make

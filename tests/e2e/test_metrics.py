"""Metrics on the running cluster: the gateway's GET /metrics and every service's own
port answer the Prometheus text format, and after an order the series it moved are
there with sane values (README "Metrics" names them)."""

from __future__ import annotations

import re
import uuid

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from common.testing import wait_for
from tests.e2e.test_orders import place, settled

pytestmark = pytest.mark.e2e

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-", re.IGNORECASE)


def samples(text: str) -> list:
    """Every sample of a scrape: (name, labels, value)."""
    return [(s.name, s.labels, s.value)
            for family in text_string_to_metric_families(text) for s in family.samples]


def value(found: list, name: str, **labels) -> float | None:
    """The sum of the samples called `name` whose labels include `labels` (None: none)."""
    hits = [v for n, ls, v in found if n == name and labels.items() <= ls.items()]
    return sum(hits) if hits else None


def scrape_service(cluster, service: str) -> list:
    answer = requests.get(f"http://127.0.0.1:{cluster.metrics_ports[service]}/metrics",
                          timeout=5)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/plain")
    return samples(answer.text)


@pytest.fixture
def confirmed_order(cluster, admin, customer):
    sku = f"MET-{uuid.uuid4().hex[:8].upper()}"
    assert cluster.post("/products", headers=admin, json={
        "sku": sku, "name": f"Product {sku}", "price_cents": 700, "stock": 5}
    ).status_code == 201
    answer = place(cluster, customer, sku)
    assert answer.status_code == 201, answer.text
    return settled(cluster, customer, answer.json()["id"], "CONFIRMED")


def test_the_gateway_counts_requests_by_route_and_status(cluster, confirmed_order, customer):
    assert cluster.get(f"/orders/{uuid.uuid4()}", headers=customer).status_code == 404
    answer = cluster.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    found = samples(answer.text)
    assert value(found, "gateway_http_requests_total", method="POST", route="/orders",
                 status="201") >= 1
    assert value(found, "gateway_http_requests_total", method="GET",
                 route="/orders/<order_id>", status="404") >= 1
    count = value(found, "gateway_http_request_duration_seconds_count", method="POST",
                  route="/orders")
    total = value(found, "gateway_http_request_duration_seconds_sum", method="POST",
                  route="/orders")
    assert count >= 1 and 0 < total / count < 10
    assert value(found, "gateway_streams_open") >= 0
    # Labelled by the URL rule, never by the raw path: no order id in any label.
    assert not [ls for n, ls, _ in found if n.startswith("gateway_")
                and any(UUID.search(v) for v in ls.values())]


def test_every_service_has_metrics_on_its_own_port(cluster, confirmed_order, customer):
    # a failure to count: order_svc's get_order raises OrderNotFound
    assert cluster.get(f"/orders/{uuid.uuid4()}", headers=customer).status_code == 404
    steps = {"user_svc": ("login", "rpc"), "inventory_svc": ("reserve_stock", "event"),
             "order_svc": ("create_order", "rpc"), "payment_svc": ("charge", "event"),
             "notify_svc": ("on_order_confirmed", "event"),
             "delivery_svc": ("open_shipment", "event")}
    for service, (entrypoint, kind) in steps.items():
        def ready(service=service, entrypoint=entrypoint, kind=kind):
            found = scrape_service(cluster, service)
            calls = value(found, "service_entrypoint_calls_total", service=service,
                          entrypoint=entrypoint, kind=kind)
            sampled = [value(found, gauge, service=service)
                       for gauge in ("service_outbox_backlog", "service_dead_letters")]
            return found if calls and None not in sampled else None

        found = wait_for(ready, timeout=20, interval=0.25,
                         message=f"{service}: {entrypoint} counted, gauges sampled")
        labels = {"service": service, "entrypoint": entrypoint}
        count = value(found, "service_entrypoint_duration_seconds_count", **labels)
        seconds = value(found, "service_entrypoint_duration_seconds_sum", **labels)
        assert count >= 1 and 0 <= seconds / count < 10, (service, count, seconds)
        assert 0 <= value(found, "service_outbox_backlog", service=service) < 1000
        assert value(found, "service_dead_letters", service=service) >= 0
        assert value(found, "process_resident_memory_bytes") > 0

    orders = scrape_service(cluster, "order_svc")
    assert value(orders, "service_entrypoint_failures_total", service="order_svc",
                 entrypoint="get_order", exception="OrderNotFound") >= 1
    placed_to_confirmed = value(orders, "order_saga_step_duration_seconds_count",
                                status="CONFIRMED")
    seconds = value(orders, "order_saga_step_duration_seconds_sum", status="CONFIRMED")
    assert placed_to_confirmed >= 1 and 0 < seconds / placed_to_confirmed < 30

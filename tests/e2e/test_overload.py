"""Admission control through a real gateway process with a tiny in-flight limit.

An extra gateway (as in test_ratelimits.py) on the session's broker and services, with
GATEWAY_MAX_IN_FLIGHT_ORDER_SVC=1: of a burst of concurrent POST /orders, the ones
that find order_svc's one slot taken are shed at once with 503 + Retry-After and never
reach order_svc (no order is made for them); the same request sent again later with
the same Idempotency-Key places the order, and once more answers that same order.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from common.testing import wait_for
from tests.e2e.test_ratelimits import Gateway

pytestmark = pytest.mark.e2e
BURST = 12


@pytest.fixture(scope="module")
def small_gateway(cluster, tmp_path_factory):
    gateway = Gateway(cluster, tmp_path_factory.mktemp("overload-logs"), "gateway-overload",
                      GATEWAY_MAX_IN_FLIGHT_ORDER_SVC=1, GATEWAY_ADMISSION_WAIT_MS=0,
                      GATEWAY_SHED_RETRY_AFTER_S=2).start()
    try:
        yield gateway
    finally:
        gateway.process.stop()


@pytest.fixture
def sku(product):
    return product(stock=1000, price_cents=100)


def burst(gateway, headers, sku) -> list[tuple[str, object]]:
    """BURST orders sent at the same moment, each with its own key: [(key, answer)]."""
    start = threading.Barrier(BURST)
    body = {"items": [{"sku": sku, "quantity": 1}]}

    def place(_):
        key = uuid.uuid4().hex
        start.wait()
        return key, gateway.post("/orders", headers={**headers, "Idempotency-Key": key},
                                 json=body)

    with ThreadPoolExecutor(BURST) as pool:
        return list(pool.map(place, range(BURST)))


def orders_of(cluster, headers) -> set[str]:
    answer = cluster.get("/orders?limit=100", headers=headers)
    assert answer.status_code == 200, answer.text
    return {order["id"] for order in answer.json()["items"]}


def shed_total(gateway) -> float:
    text = gateway.get("/metrics").text
    return next(sample.value for family in text_string_to_metric_families(text)
                for sample in family.samples
                if sample.name == "gateway_shed_total" and sample.labels["service"] == "order_svc")


def test_the_excess_is_shed_with_retry_after_and_a_retry_places_the_order(
        cluster, small_gateway, customer, sku):
    answers: list = []
    placed: set[str] = set()  # by every burst

    def shed_and_placed():
        answers[:] = burst(small_gateway, customer, sku)
        assert {answer.status_code for _, answer in answers} <= {201, 503}, \
            [answer.text for _, answer in answers]
        placed.update(answer.json()["id"] for _, answer in answers
                      if answer.status_code == 201)
        # One burst may happen to run one at a time: then another.
        return {answer.status_code for _, answer in answers} == {201, 503}

    wait_for(shed_and_placed, timeout=60, interval=0.2,
             message="a burst with both placed and shed orders")
    shed = [(key, answer) for key, answer in answers if answer.status_code == 503]
    for _, answer in shed:
        assert answer.headers["Retry-After"] == "2"
        error = answer.json()["error"]
        assert error["code"] == "service_unavailable"
        assert error["details"] == {"service": "order_svc", "limit": 1, "retry_after_s": 2}
        assert answer.headers["X-Request-ID"]
    assert shed_total(small_gateway) >= len(shed)
    # A shed order never reached order_svc: the customer has the placed ones only.
    assert orders_of(cluster, customer) == placed

    key, _ = shed[0]
    before = orders_of(cluster, customer)
    body = {"items": [{"sku": sku, "quantity": 1}]}
    again = small_gateway.post("/orders", headers={**customer, "Idempotency-Key": key},
                               json=body)
    assert again.status_code == 201, again.text
    order_id = again.json()["id"]
    assert order_id not in before  # made now, by the retry
    same = small_gateway.post("/orders", headers={**customer, "Idempotency-Key": key},
                              json=body)
    assert same.status_code == 201 and same.json()["id"] == order_id
    assert orders_of(cluster, customer) == before | {order_id}


def test_nothing_is_held_once_the_burst_is_over(small_gateway):
    text = small_gateway.get("/metrics").text
    in_flight = {sample.labels["service"]: sample.value
                 for family in text_string_to_metric_families(text)
                 for sample in family.samples if sample.name == "gateway_rpc_in_flight"}
    assert in_flight and set(in_flight.values()) == {0}

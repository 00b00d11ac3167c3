"""Admission control: the per-service in-flight limit, its 503 answer and its metrics."""

from __future__ import annotations

import threading

import pytest
from prometheus_client.parser import text_string_to_metric_families

from common.errors import ServiceUnavailable
from gateway import create_app
from gateway.admission import Admission, Overloaded
from gateway.state import EXTENSION
from tests.unit.gateway.orders_support import NEW_ORDER, ORDER_ANSWER
from tests.unit.gateway.support import bearer, error_of

# Logic of gateway.admission.Admission


def test_admits_up_to_the_limit_then_sheds_without_running_the_call():
    admission = Admission(default=2)
    with admission.slot("order_svc"), admission.slot("order_svc"):
        assert admission.gate("order_svc").in_flight == 2
        with pytest.raises(Overloaded) as shed, admission.slot("order_svc"):
            pytest.fail("a shed call must not run")
    assert shed.value.retry_after_s == 1
    assert shed.value.details == {"service": "order_svc", "limit": 2, "retry_after_s": 1}
    assert isinstance(shed.value, ServiceUnavailable)  # so a 503 wherever it is mapped
    gate = admission.gate("order_svc")
    assert (gate.shed, gate.in_flight) == (1, 0)


def in_flight(admission) -> dict[str, int]:
    return {service: gate.in_flight for service, gate in admission.gates.items()}


def test_each_service_has_its_own_slots():
    admission = Admission(default=1, limits={"user_svc": 2})
    with admission.slot("order_svc"), admission.slot("user_svc"), admission.slot("user_svc"):
        for service in ("order_svc", "user_svc"):
            with pytest.raises(Overloaded), admission.slot(service):
                pass
        with admission.slot("inventory_svc"):
            assert in_flight(admission) == {"order_svc": 1, "user_svc": 2, "inventory_svc": 1}


def test_a_failing_call_gives_its_slot_back():
    admission = Admission(default=1)
    for _ in range(3):
        with pytest.raises(RuntimeError), admission.slot("order_svc"):
            raise RuntimeError("the call failed")
    with admission.slot("order_svc"):
        assert admission.gate("order_svc").in_flight == 1
    assert admission.gate("order_svc").shed == 0


def test_a_limit_of_zero_counts_but_never_sheds():
    admission = Admission(default=0, limits={"order_svc": 1})
    with admission.slot("user_svc"), admission.slot("user_svc"), admission.slot("user_svc"):
        assert admission.gate("user_svc").in_flight == 3
    assert admission.gate("user_svc").shed == 0


def test_a_call_waits_up_to_wait_s_for_a_slot_freed_meanwhile():
    admission = Admission(default=1, wait_s=5.0)
    holding, release, waited = threading.Event(), threading.Event(), []

    def holder():
        with admission.slot("order_svc"):
            holding.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    assert holding.wait(5)
    timer = threading.Timer(0.05, release.set)  # frees the slot while the next one waits
    timer.start()
    with admission.slot("order_svc"):
        waited.append(True)
    thread.join(5)
    assert waited and admission.gate("order_svc").shed == 0


def test_a_call_is_shed_once_its_wait_is_over():
    admission = Admission(default=1, wait_s=0.01, retry_after_s=3)
    with admission.slot("order_svc"), pytest.raises(Overloaded) as shed, \
            admission.slot("order_svc"):
        pass
    assert shed.value.retry_after_s == 3 and admission.gate("order_svc").shed == 1


def test_from_config_reads_defaults_overrides_and_services():
    admission = Admission.from_config({
        "GATEWAY_MAX_IN_FLIGHT": 6, "GATEWAY_ADMISSION_WAIT_MS": 20,
        "GATEWAY_SHED_RETRY_AFTER_S": 2, "SERVICES": ["order_svc", "user_svc"],
        "GATEWAY_MAX_IN_FLIGHT_SERVICES": {"order_svc": 3, "user_svc": None},
        "GATEWAY_LATENCY_TARGET_MS": 250})
    assert (admission.gate("order_svc").limit, admission.gate("user_svc").limit) == (3, 6)
    assert admission.wait_s == pytest.approx(0.02) and admission.retry_after_s == 2
    assert admission.gate("order_svc").target_s == pytest.approx(0.25)
    assert in_flight(admission) == {"order_svc": 0, "user_svc": 0}  # series from the start


def test_from_config_without_settings_uses_the_defaults():
    admission = Admission.from_config({"GATEWAY_MAX_IN_FLIGHT": ""})
    assert admission.gate("order_svc").ceiling == 8 and admission.wait_s == 0
    assert admission.retry_after_s == 1 and admission.target_s == 0


@pytest.mark.parametrize("settings", [{"GATEWAY_MAX_IN_FLIGHT": "eight"},
                                      {"GATEWAY_MAX_IN_FLIGHT_SERVICES": {"order_svc": "x"}}])
def test_from_config_refuses_a_limit_that_is_not_a_number(settings):
    with pytest.raises(ValueError, match="GATEWAY_MAX_IN_FLIGHT"):
        Admission.from_config(settings)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def timed_call(admission, clock, took_s, service="order_svc"):
    with admission.slot(service):
        clock.now += took_s


def test_an_adaptive_limit_shrinks_on_slow_calls_and_grows_back_on_fast_ones():
    clock = Clock()
    admission = Admission(default=8, target_s=0.5, clock=clock)
    gate = admission.gate("order_svc")
    for _ in range(30):
        timed_call(admission, clock, 2.0)  # the service is slow: fewer at once
    assert gate.limit == 1.0  # never below one: the service still gets calls
    with admission.slot("order_svc"), pytest.raises(Overloaded) as shed, \
            admission.slot("order_svc"):
        pass
    assert shed.value.details["limit"] == 1
    for _ in range(100):
        timed_call(admission, clock, 0.05)  # fast again: back up to the ceiling
    assert gate.limit == 8.0


def test_a_static_limit_does_not_move():
    clock = Clock()
    admission = Admission(default=4, clock=clock)
    for took_s in (5.0, 5.0, 0.01):
        timed_call(admission, clock, took_s)
    assert admission.gate("order_svc").limit == 4


# Through the app: the 503 answer and the metrics


@pytest.fixture
def small_app(config, rpc, broker, hub):
    config.update(GATEWAY_MAX_IN_FLIGHT=4, GATEWAY_SHED_RETRY_AFTER_S=2,
                  GATEWAY_MAX_IN_FLIGHT_SERVICES={"order_svc": 1},
                  SERVICES=["user_svc", "order_svc"])
    rpc.answers[("order_svc", "create_order")] = ORDER_ANSWER
    return create_app(config, rpc=rpc, broker_check=broker, stream_hub=hub)


def series(client) -> dict[tuple, float]:
    text = client.get("/metrics").get_data(as_text=True)
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_a_request_past_the_limit_is_a_503_with_retry_after(small_app, rpc, make_token):
    client, customer = small_app.test_client(), bearer(make_token())
    admission = small_app.extensions[EXTENSION].admission
    with admission.slot("order_svc"):  # another request's call, still running
        answer = client.post("/orders", json=NEW_ORDER, headers=customer)
        # Shed before the token or the body is looked at: no 401, no 400.
        early = client.post("/orders", data="not json", headers={"Idempotency-Key": "k"})
        metrics = series(client)
    assert early.status_code == 503 and error_of(early)["code"] == "service_unavailable"
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "2"
    error = error_of(answer)
    assert error["code"] == "service_unavailable"
    assert error["details"] == {"service": "order_svc", "limit": 1, "retry_after_s": 2}
    assert answer.headers["X-Request-ID"]
    assert rpc.calls == []  # order_svc was never asked
    key = ("service", "order_svc"),
    assert metrics[("gateway_shed_total", key)] == 2
    assert metrics[("gateway_rpc_in_flight", key)] == 1
    assert metrics[("gateway_rpc_in_flight_limit", key)] == 1
    assert metrics[("gateway_rpc_in_flight_limit", (("service", "user_svc"),))] == 4

    again = client.post("/orders", json=NEW_ORDER, headers=customer)  # the slot is free
    assert again.status_code == 201, again.data
    after = series(client)
    assert after[("gateway_rpc_in_flight", key)] == 0
    assert after[("gateway_shed_total", key)] == 2


def test_with_a_wait_the_call_decides(config, rpc, broker, hub, make_token):
    config.update(GATEWAY_MAX_IN_FLIGHT=1, GATEWAY_ADMISSION_WAIT_MS=5)
    app = create_app(config, rpc=rpc, broker_check=broker, stream_hub=hub)
    with app.extensions[EXTENSION].admission.slot("order_svc"):
        answer = app.test_client().post("/orders", data="not json",
                                        headers=bearer(make_token()))
    assert answer.status_code == 415  # no early shed: the body was checked, then no call


def test_every_503_says_when_to_retry(client, rpc, make_token):
    rpc.answers[("order_svc", "create_order")] = ServiceUnavailable("order_svc is not running")
    answer = client.post("/orders", json=NEW_ORDER, headers=bearer(make_token()))
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
    assert error_of(answer)["code"] == "service_unavailable"

"""common.breakers: what counts as a failure, and the breaker's states (no broker)."""

from __future__ import annotations

from contextlib import nullcontext

import eventlet
import pytest
from nameko.exceptions import RpcTimeout, UnknownService

from common.breakers import Breakers, ServiceBreaker, is_failure
from common.errors import (
    BreakerOpen,
    Conflict,
    NotFound,
    PriceChanged,
    ServiceUnavailable,
    UpstreamTimeout,
    ValidationError,
)
from common.rpc import PoolExhausted, call_service
from common.testing import wait_for

SVC = "inventory_svc"


@pytest.mark.parametrize("exc", [
    UpstreamTimeout("inventory_svc did not answer in time", {"service": SVC}),
    ServiceUnavailable("inventory_svc is not running", {"service": SVC}),
    ServiceUnavailable("message broker unreachable"),  # names no service: ours failed
    UpstreamTimeout("a service did not answer in time"),
    ConnectionResetError("reset by peer"),
    RpcTimeout("no reply"),
    UnknownService(SVC),
])
def test_unhealthy_failures_count(exc):
    assert is_failure(SVC, exc) is True


@pytest.mark.parametrize("exc", [
    NotFound("no product MUG-9"), Conflict("sku taken"), PriceChanged("prices moved"),
    ValidationError("bad cursor"), ValueError("a bug, not an outage"),
    KeyError("items"),
    # The service answered: it is about another service (order_svc passing on
    # inventory_svc's outage), or about a breaker, or the caller's own saturation.
    ServiceUnavailable("delivery_svc is not running", {"service": "delivery_svc"}),
    UpstreamTimeout("delivery_svc.cancel_shipment did not answer in time",
                    {"service": "delivery_svc"}),
    BreakerOpen("inventory_svc is unavailable", {"service": SVC, "retry_after_s": 3}),
    PoolExhausted("gateway RPC pool exhausted"),
])
def test_answers_and_other_services_troubles_do_not_count(exc):
    assert is_failure(SVC, exc) is False


class Service:
    """A callable service: `result` is returned or, if an exception, raised."""

    def __init__(self, result=None):
        self.result = result
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


DOWN = ServiceUnavailable("inventory_svc is not running", {"service": SVC})


def test_opens_after_a_run_of_failures_and_then_calls_nothing():
    breaker, service = ServiceBreaker(SVC, failures=3, reset_s=60), Service(DOWN)
    for _ in range(3):
        with pytest.raises(ServiceUnavailable) as raised:
            breaker.call(service)
        assert not isinstance(raised.value, BreakerOpen)
    assert breaker.state == "open"
    with pytest.raises(BreakerOpen) as raised:
        breaker.call(service)
    assert service.calls == 3 and breaker.rejected == 1
    assert raised.value.details == {"service": SVC, "breaker": "open", "retry_after_s": 60}
    assert raised.value.retry_after_s == 60


def test_an_answer_ends_the_run_even_an_error_answer():
    breaker = ServiceBreaker(SVC, failures=3, reset_s=60)
    for outcome in (DOWN, DOWN, NotFound("no such sku"), DOWN, DOWN, {"ok": 1}, DOWN, DOWN):
        with pytest.raises(Exception) if isinstance(outcome, Exception) else nullcontext():
            breaker.call(Service(outcome))
    assert breaker.state == "closed"
    for _ in range(20):  # the service's own errors, however many, never open it
        with pytest.raises(Conflict):
            breaker.call(Service(Conflict("sku taken")))
    assert breaker.state == "closed"


def test_the_callers_saturation_neither_counts_nor_ends_a_run():
    breaker = ServiceBreaker(SVC, failures=2, reset_s=60)
    for outcome in (DOWN, PoolExhausted("gateway RPC pool exhausted"), DOWN):
        with pytest.raises(ServiceUnavailable):
            breaker.call(Service(outcome))
    assert breaker.state == "open"


def test_half_open_lets_one_probe_through_and_its_success_closes():
    breaker = ServiceBreaker(SVC, failures=1, reset_s=0.1)
    with pytest.raises(ServiceUnavailable):
        breaker.call(Service(DOWN))
    wait_for(lambda: breaker.state == "half_open", timeout=2, message="half-open")
    release, answers = eventlet.Event(), []

    def slow_answer():
        release.wait()
        return "back"

    probe = eventlet.spawn(lambda: answers.append(breaker.call(slow_answer)))
    eventlet.sleep(0)  # the probe is out, waiting for its answer
    assert breaker.probing
    with pytest.raises(BreakerOpen) as raised:  # a second caller does not wait with it
        breaker.call(Service("unused"))
    assert raised.value.details["breaker"] == "half_open"
    release.send()
    probe.wait()
    assert answers == ["back"] and breaker.state == "closed" and not breaker.probing
    assert breaker.call(Service("served")) == "served"


def test_a_failed_probe_opens_it_again_for_another_reset_time():
    breaker = ServiceBreaker(SVC, failures=2, reset_s=0.1)
    for _ in range(2):
        with pytest.raises(ServiceUnavailable):
            breaker.call(Service(DOWN))
    wait_for(lambda: breaker.state == "half_open", timeout=2, message="half-open")
    service = Service(UpstreamTimeout("no reply", {"service": SVC}))
    with pytest.raises(UpstreamTimeout):
        breaker.call(service)  # one failure is enough: the probe
    assert breaker.state == "open"
    with pytest.raises(BreakerOpen):
        breaker.call(service)
    assert service.calls == 1


def test_an_interrupted_probe_gives_the_probe_to_the_next_caller():
    breaker = ServiceBreaker(SVC, failures=1, reset_s=0.05)
    with pytest.raises(ServiceUnavailable):
        breaker.call(Service(DOWN))
    wait_for(lambda: breaker.state == "half_open", timeout=2, message="half-open")
    probe = eventlet.spawn(breaker.call, eventlet.sleep, 30)
    eventlet.sleep(0)
    probe.kill()  # the client went away mid-call
    assert not breaker.probing and breaker.state == "half_open"
    assert breaker.call(Service("back")) == "back"
    assert breaker.state == "closed"


def test_breakers_one_per_service_from_config():
    breakers = Breakers.from_config({"BREAKER_FAILURES": "1", "BREAKER_RESET_S": "60"},
                                    ["user_svc", SVC])
    assert breakers.states() == {SVC: "closed", "user_svc": "closed"}
    with pytest.raises(ServiceUnavailable):
        breakers.call(SVC, Service(DOWN))
    assert breakers.call("user_svc", Service("fine")) == "fine"
    assert breakers.states() == {SVC: "open", "user_svc": "closed"}
    defaults = Breakers.from_config({"BREAKER_FAILURES": "", "BREAKER_RESET_S": None})
    assert (defaults.failures, defaults.reset_s) == (5, 5.0)


@pytest.mark.parametrize("settings", [{"BREAKER_FAILURES": "0"}, {"BREAKER_RESET_S": "0"},
                                      {"BREAKER_FAILURES": "many"},
                                      {"BREAKER_RESET_S": "soon"}])
def test_a_bad_setting_stops_the_start(settings):
    with pytest.raises(ValueError, match="BREAKER_"):
        Breakers.from_config(settings)


class HangingProxy:
    """A nameko RpcProxy whose service took the request and never answers."""

    service_name = SVC

    def __init__(self):
        self.calls = 0

    def get_products(self, skus):
        self.calls += 1
        eventlet.sleep(30)


def test_service_to_service_calls_go_through_the_callee_breaker():
    breakers, proxy = Breakers(failures=2, reset_s=60), HangingProxy()
    for _ in range(2):
        with pytest.raises(UpstreamTimeout) as raised:
            call_service(proxy, "get_products", ["TEA"], timeout=0.02, breakers=breakers)
        assert raised.value.details == {"service": SVC}
    # At once: no third wait for the timeout.
    with eventlet.Timeout(0.05), pytest.raises(BreakerOpen):
        call_service(proxy, "get_products", ["TEA"], timeout=0.02, breakers=breakers)
    assert proxy.calls == 2 and breakers.states() == {SVC: "open"}

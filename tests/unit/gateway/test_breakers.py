"""The views' circuit breakers, through the app over a fake RPC edge (StubRpc).

inventory_svc fails the way a stopped or hung service does; the breaker opens after
BREAKER_FAILURES of those in a row, answers 503 at once while open, probes once after
BREAKER_RESET_S and closes on the probe's success. /ready and /metrics report it.
"""

from __future__ import annotations

import time

import eventlet
import pytest

from common.errors import NotFound, ServiceUnavailable, UpstreamTimeout
from common.testing import wait_for
from gateway import create_app
from tests.unit.gateway.support import bearer, error_of
from tests.unit.gateway.test_metrics import series

INV = "inventory_svc"
PRODUCT = {"sku": "TEA-1", "name": "Tea", "description": "", "price_cents": 450,
           "currency": "USD", "available": 3, "category": None, "image_url": None}
TIMEOUT = UpstreamTimeout("inventory_svc did not answer in time", {"service": INV})


@pytest.fixture
def app(config, rpc, broker, hub):
    config.update(SERVICES=["user_svc", INV], BREAKER_FAILURES=3, BREAKER_RESET_S=0.2,
                  PRODUCT_CACHE_TTL_S=0)  # every GET reaches the RPC
    for service in config["SERVICES"]:  # /ready's checks go around the breakers
        rpc.answers[(service, "health")] = {"status": "ok"}
    return create_app(config, rpc=rpc, broker_check=broker, stream_hub=hub)


def breaker_state(client) -> str:
    return client.get("/ready").get_json()["breakers"][INV]


def product_calls(rpc) -> int:
    return sum(call.method == "get_product" for call in rpc.calls)


def trip(client, rpc, failure=TIMEOUT):
    rpc.answers[(INV, "get_product")] = failure
    for _ in range(3):
        assert client.get("/products/TEA-1").status_code in (503, 504)


def test_a_run_of_timeouts_opens_it_and_then_503_comes_at_once(client, rpc):
    trip(client, rpc)
    made = product_calls(rpc)
    started = time.monotonic()
    answer = client.get("/products/TEA-1")
    assert time.monotonic() - started < 0.05
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    error = error_of(answer)
    assert error["code"] == "service_unavailable"
    assert error["details"] == {"service": INV, "breaker": "open", "retry_after_s": 1}
    assert product_calls(rpc) == made  # no RPC went out
    # /ready's checks went around the breaker (the service is back): it is ready, and
    # reports the breaker beside them.
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.get_json()["breakers"] == {INV: "open", "user_svc": "closed"}


def test_the_services_own_errors_never_open_it(client, rpc):
    rpc.answers[(INV, "get_product")] = NotFound("no product TEA-1")
    for _ in range(10):
        assert client.get("/products/TEA-1").status_code == 404
    assert breaker_state(client) == "closed"


def test_an_error_about_another_service_does_not_open_the_callers_breaker(
        client, rpc, make_token):
    """order_svc answering 503 because inventory_svc is down: order_svc is fine."""
    rpc.answers[("order_svc", "list_orders")] = ServiceUnavailable(
        "inventory_svc is not running", {"service": INV})
    for _ in range(5):
        assert client.get("/orders", headers=bearer(make_token())).status_code == 503
    assert client.get("/ready").get_json()["breakers"]["order_svc"] == "closed"


def test_other_services_are_served_while_it_is_open(client, rpc, make_token):
    trip(client, rpc, ServiceUnavailable("inventory_svc is not running", {"service": INV}))
    rpc.answers[("user_svc", "get_user")] = {"id": "u-1", "email": "ann@example.com",
                                             "name": "Ann", "role": "customer",
                                             "email_verified": True}
    assert client.get("/products/TEA-1").status_code == 503
    me = client.get("/users/me", headers=bearer(make_token()))
    assert me.status_code == 200 and me.get_json()["email"] == "ann@example.com"


def test_after_the_reset_time_one_probe_goes_and_its_success_closes_it(app, client, rpc):
    trip(client, rpc)
    assert breaker_state(client) == "open"
    wait_for(lambda: breaker_state(client) == "half_open", timeout=3, message="half-open")
    release = eventlet.Event()

    def back_but_slow(**_):
        release.wait()
        return PRODUCT

    rpc.answers[(INV, "get_product")] = back_but_slow
    probe = eventlet.spawn(client.get, "/products/TEA-1")
    breaker = app.extensions["gateway"].breakers.breaker(INV)
    wait_for(lambda: breaker.probing, timeout=2, interval=0.001, message="the probe out")
    others = client.get("/products/TEA-1")  # the probe is out: no second call waits
    assert others.status_code == 503
    assert error_of(others)["details"]["breaker"] == "half_open"
    release.send()
    assert probe.wait().status_code == 200
    assert breaker_state(client) == "closed"
    rpc.answers[(INV, "get_product")] = PRODUCT
    assert client.get("/products/TEA-1").status_code == 200


def test_a_failed_probe_opens_it_again(client, rpc):
    trip(client, rpc)
    wait_for(lambda: breaker_state(client) == "half_open", timeout=3, message="half-open")
    made = product_calls(rpc)
    assert client.get("/products/TEA-1").status_code == 504  # the probe, timed out
    assert breaker_state(client) == "open"
    assert client.get("/products/TEA-1").status_code == 503
    assert product_calls(rpc) == made + 1


def test_metrics_give_each_breaker_state_and_its_refusals(client, rpc):
    trip(client, rpc)
    for _ in range(2):
        client.get("/products/TEA-1")
    found = series(client.get("/metrics"))
    assert found[("gateway_breaker_state", (("service", INV),))] == 2
    assert found[("gateway_breaker_state", (("service", "user_svc"),))] == 0
    assert found[("gateway_breaker_rejected_total", (("service", INV),))] == 2


def test_a_bad_breaker_setting_stops_the_gateway(config, rpc):
    config["BREAKER_FAILURES"] = "0"
    with pytest.raises(ValueError, match="BREAKER_FAILURES"):
        create_app(config, rpc=rpc)

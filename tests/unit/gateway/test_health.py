"""/health never touches the network; /ready names what failed."""

from __future__ import annotations

import time

import eventlet

from common.errors import ServiceUnavailable, UpstreamTimeout
from tests.unit.gateway.support import error_of


def test_health_is_ok_without_any_rpc(client, rpc):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert rpc.calls == []


def test_ready_when_everything_answers(client, rpc):
    rpc.answers[("user_svc", "health")] = {"status": "ok"}
    response = client.get("/ready", headers={"X-Request-ID": "probe-1"})
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready",
                                   "checks": {"rabbitmq": "ok", "user_svc": "ok"},
                                   "breakers": {"user_svc": "closed"}}
    assert rpc.last().correlation_id == "probe-1"


def test_not_ready_names_a_service_that_is_not_running(client, rpc):
    rpc.answers[("user_svc", "health")] = ServiceUnavailable("user_svc is not running",
                                                             {"service": "user_svc"})
    response = client.get("/ready")
    assert response.status_code == 503
    error = error_of(response)
    assert error["code"] == "service_unavailable"
    assert "user_svc" in error["message"]
    assert error["details"] == {"checks": {"rabbitmq": "ok", "user_svc": "not running"},
                                "breakers": {"user_svc": "closed"}}


def test_not_ready_on_timeout_and_on_errors(app, rpc, config):
    config["SERVICES"] = ["user_svc", "order_svc", "payment_svc"]
    rpc.answers[("user_svc", "health")] = UpstreamTimeout("slow")
    rpc.answers[("order_svc", "health")] = {"status": "degraded"}
    rpc.answers[("payment_svc", "health")] = RuntimeError("database down")
    response = app.test_client().get("/ready")
    assert response.status_code == 503
    checks = error_of(response)["details"]["checks"]
    assert checks == {"rabbitmq": "ok", "user_svc": "timeout",
                      "order_svc": "error: status degraded",
                      "payment_svc": "error: database down"}


def test_not_ready_when_the_broker_is_down(client, rpc, broker):
    broker.error = ServiceUnavailable("RabbitMQ unreachable (ConnectionRefusedError)")
    rpc.answers[("user_svc", "health")] = {"status": "ok"}
    response = client.get("/ready")
    assert response.status_code == 503
    checks = error_of(response)["details"]["checks"]
    assert checks["rabbitmq"].startswith("error: RabbitMQ unreachable")
    assert checks["user_svc"] == "ok"


def test_checks_run_in_parallel_and_are_bounded(app, rpc, config):
    config["SERVICES"] = ["user_svc", "order_svc"]

    def hang():
        eventlet.sleep(30)

    rpc.answers[("user_svc", "health")] = hang
    rpc.answers[("order_svc", "health")] = hang
    started = time.monotonic()
    response = app.test_client().get("/ready")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert error_of(response)["details"]["checks"] == {
        "rabbitmq": "ok", "user_svc": "timeout", "order_svc": "timeout"}
    # READY_TIMEOUT_S is 0.5 in these tests: both checks together, not one after another.
    assert elapsed < 1.5

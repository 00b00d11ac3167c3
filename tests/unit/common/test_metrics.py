"""common.metrics: entrypoint counts and times, ports, the saga histogram."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from nameko.rpc import Rpc
from nameko.timer import Timer
from prometheus_client import REGISTRY

from common.messaging import ReliableEventHandler
from common.metrics import Metrics, entrypoint_kind, listen, metrics_port, observe_saga_step


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_entrypoint_kinds():
    assert entrypoint_kind(Rpc()) == "rpc"
    assert entrypoint_kind(ReliableEventHandler("order_svc", "order.created")) == "event"
    assert entrypoint_kind(Timer(interval=1)) == "timer"
    assert entrypoint_kind(SimpleNamespace()) == "simplenamespace"


def test_ports_come_from_config_and_zero_turns_them_off():
    config = {"METRICS_PORTS": {"order_svc": 9103, "user_svc": 0}}
    assert metrics_port(config, "order_svc") == 9103
    assert metrics_port(config, "user_svc") == 0
    assert metrics_port(config, "delivery_svc") == 0
    assert metrics_port({}, "order_svc") == 0


def test_a_busy_port_falls_back_to_a_free_one():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        sock = listen("127.0.0.1", port)
        try:
            assert sock.getsockname()[1] not in (0, port)
        finally:
            sock.close()


class Worker:
    """A stand-in for nameko's WorkerContext (hashable, like it)."""

    def __init__(self, entrypoint):
        self.entrypoint = entrypoint


def test_worker_hooks_count_time_and_name_the_failure():
    metrics = Metrics()
    metrics.service = "unit_svc"
    entrypoint = Rpc()
    entrypoint.method_name = "do_thing"
    labels = {"service": "unit_svc", "entrypoint": "do_thing", "kind": "rpc"}
    calls = sample("service_entrypoint_calls_total", **labels)
    failures = sample("service_entrypoint_failures_total", exception="KeyError", **labels)
    for exc_info in (None, (KeyError, KeyError("x"), None)):
        worker = Worker(entrypoint)
        metrics.worker_setup(worker)
        metrics.worker_result(worker, None, exc_info)
        metrics.worker_teardown(worker)
    assert sample("service_entrypoint_calls_total", **labels) == calls + 2
    assert sample("service_entrypoint_failures_total", exception="KeyError",
                  **labels) == failures + 1
    assert sample("service_entrypoint_duration_seconds_count", **labels) >= 2
    assert metrics._started == {}


def test_saga_steps_are_observed_from_the_order_being_placed():
    before = sample("order_saga_step_duration_seconds_count", status="UNIT")
    total = sample("order_saga_step_duration_seconds_sum", status="UNIT")
    placed = datetime(2026, 1, 1, tzinfo=UTC)
    observe_saga_step(placed, "UNIT", now=placed + timedelta(seconds=1.5))
    observe_saga_step(placed, "UNIT", now=placed - timedelta(seconds=1))  # clock skew: 0
    assert sample("order_saga_step_duration_seconds_count", status="UNIT") == before + 2
    assert sample("order_saga_step_duration_seconds_sum", status="UNIT") == total + 1.5

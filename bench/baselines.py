"""Baselines of this machine: a bare nameko RPC round trip and a bare event hop."""

from __future__ import annotations

import statistics
import time

from nameko.containers import ServiceContainer
from nameko.events import event_handler
from nameko.standalone.events import event_dispatcher
from nameko.standalone.rpc import ClusterRpcProxy

from common.testing import wait_for

hops: dict = {}


class Driver:
    name = "bench_driver_listener"

    @event_handler("bench_echo", "pong.sent")
    def on_pong(self, payload):
        hops[payload["id"]] = payload["arrived"] - payload["sent"]


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def rpc_round_trip(amqp_uri: str, calls: int = 500) -> dict:
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=10) as cluster:
        cluster.bench_echo.ping(0)  # warm up: reply queue, connection
        took = []
        started = time.perf_counter()
        for n in range(calls):
            t = time.perf_counter()
            cluster.bench_echo.ping(n)
            took.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - started
    return {"calls": calls, "per_s": calls / elapsed, "p50_ms": 1000 * statistics.median(took),
            "p99_ms": 1000 * percentile(took, 99)}


def event_hop(amqp_uri: str, events: int = 500) -> dict:
    hops.clear()
    listener = ServiceContainer(Driver, {"AMQP_URI": amqp_uri})
    listener.start()
    try:
        dispatch = event_dispatcher({"AMQP_URI": amqp_uri})
        dispatch("bench_driver", "ping.sent", {"id": -1, "sent": time.time()})
        wait_for(lambda: -1 in hops, timeout=10, message="the echo answering")
        hops.clear()
        started = time.perf_counter()
        for n in range(events):
            dispatch("bench_driver", "ping.sent", {"id": n, "sent": time.time()})
        wait_for(lambda: len(hops) >= events, timeout=60, interval=0.01,
                 message="every pong")
        elapsed = time.perf_counter() - started
    finally:
        listener.stop()
    values = list(hops.values())
    return {"events": events, "per_s": events / elapsed,
            "p50_ms": 1000 * statistics.median(values), "p99_ms": 1000 * percentile(values, 99)}

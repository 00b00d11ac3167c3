"""Prometheus metrics of a nameko service, served on the service's own port.

    metrics = Metrics()       # declared on every service class, next to its OutboxRelay

Every service process exposes `GET http://METRICS_HOST:<port>/metrics` (text format)
with the port from `METRICS_PORTS[<service>]` in config.yml (`METRICS_PORT_<SERVICE>`;
0 turns the endpoint off). The series (all labelled with `service`):

* `service_entrypoint_calls_total{entrypoint, kind}`, `..._failures_total{entrypoint,
  kind, exception}` and `service_entrypoint_duration_seconds{entrypoint, kind}` for every
  RPC method, event handler and timer (`kind` = rpc, event, timer, ...);
* `service_outbox_backlog`: outbox rows not yet published, sampled every
  METRICS_SAMPLE_INTERVAL_S by a background thread (one COUNT on a partial index,
  through the service's OutboxRelay's engine: no database connections of its own);
* `service_dead_letters`: dead letters kept in the service's table (common.deadletters),
  sampled too;
* `GET /health` on the same port answers 200 `ok` at once, for a probe (Kubernetes:
  deploy/helm): the process is up and its container started.
* `order_saga_step_duration_seconds{status}` (order_svc only): from an order being
  placed to each status it reaches, observed by order_svc/workflow.py.

The metric objects live in prometheus_client's default registry: one process runs one
service, and the process collector's series (CPU, memory, open files) come along free.

A busy port does not stop the service: several processes of one service may run on
one host (scale-out), so the second one logs a warning and serves its metrics on a
free port the kernel picks, which it logs (give each process its own
METRICS_PORT_<SERVICE> to scrape them all).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

import eventlet
import eventlet.wsgi
from nameko.events import EventHandler
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc
from nameko.timer import Timer
from prometheus_client import Counter, Gauge, Histogram, make_wsgi_app
from sqlalchemy import func, select

from common.db import utc_now
from common.deadletters import DeadLetterStore
from common.logging import set_context
from common.outbox import OutboxRelay

log = logging.getLogger(__name__)

DEFAULT_SAMPLE_INTERVAL_S = 5.0
# Saga steps take from milliseconds (reserved) to minutes (delivered, expired).
SAGA_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)

ENTRYPOINT_CALLS = Counter(
    "service_entrypoint_calls", "Entrypoint calls finished (RPC, event, timer)",
    ["service", "entrypoint", "kind"])
ENTRYPOINT_FAILURES = Counter(
    "service_entrypoint_failures", "Entrypoint calls that raised, by exception class",
    ["service", "entrypoint", "kind", "exception"])
ENTRYPOINT_DURATION = Histogram(
    "service_entrypoint_duration_seconds", "Time spent in an entrypoint call",
    ["service", "entrypoint", "kind"])
OUTBOX_BACKLOG = Gauge(
    "service_outbox_backlog", "Outbox rows not yet published (sampled)", ["service"])
DEAD_LETTERS = Gauge(
    "service_dead_letters", "Messages in the service's dead-letter queue (sampled)",
    ["service"])
SAGA_STEP = Histogram(
    "order_saga_step_duration_seconds",
    "Time from an order being placed to it reaching a status", ["status"],
    buckets=SAGA_BUCKETS)


def observe_saga_step(created_at: datetime, status: str, now: datetime | None = None) -> None:
    """Record how long an order took from being placed to `status`."""
    elapsed = ((now or utc_now()) - created_at).total_seconds()
    SAGA_STEP.labels(status=status).observe(max(elapsed, 0.0))


def entrypoint_kind(entrypoint) -> str:
    """rpc, event, timer, or the entrypoint's class name for anything else."""
    for cls, kind in ((Rpc, "rpc"), (EventHandler, "event"), (Timer, "timer")):
        if isinstance(entrypoint, cls):
            return kind
    return type(entrypoint).__name__.lower()


def metrics_port(config: dict, service: str) -> int:
    """The configured metrics port of `service` (0: no endpoint)."""
    return int((config.get("METRICS_PORTS") or {}).get(service) or 0)


def listen(host: str, port: int):
    """A listening socket on `port`, or on a free port when that one is taken.

    reuse_port=False: with SO_REUSEPORT two processes would share the port and the
    kernel would hand each scrape to either, mixing two processes' counters.
    """
    try:
        return eventlet.listen((host, port), reuse_port=False)
    except OSError as exc:
        log.warning("metrics port %s:%s unavailable (%s): using a free port instead",
                    host, port, exc)
        return eventlet.listen((host, 0), reuse_port=False)


def with_health(metrics_app):
    """The metrics WSGI app, with `/health` answered without rendering any series."""
    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/health":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        return metrics_app(environ, start_response)
    return app


class Metrics(DependencyProvider):
    """Counts and times every entrypoint, samples the backlogs, serves /metrics."""

    def __init__(self):
        self._started: dict = {}
        self._threads: list = []
        self.port: int | None = None

    def setup(self):
        config = self.container.config
        self.service = self.container.service_name
        self.host = config.get("METRICS_HOST", "127.0.0.1")
        self.configured_port = metrics_port(config, self.service)
        self.interval = float(config.get("METRICS_SAMPLE_INTERVAL_S",
                                         DEFAULT_SAMPLE_INTERVAL_S))
        # The relay already holds a pool on the outbox's database: share it.
        self.relay = next((d for d in self.container.dependencies
                           if isinstance(d, OutboxRelay)), None)
        self.store = next((d for d in self.container.dependencies
                           if isinstance(d, DeadLetterStore)), None)

    def start(self):
        if self.configured_port:
            sock = listen(self.host, self.configured_port)
            self.port = sock.getsockname()[1]
            log.info("%s metrics on http://%s:%s/metrics", self.service, self.host, self.port)
            # log_output=False: a scrape every few seconds is not worth an access line.
            self._threads.append(self.container.spawn_managed_thread(
                lambda: eventlet.wsgi.server(sock, with_health(make_wsgi_app()),
                                             log_output=False),
                identifier="metrics_server"))
        self._threads.append(self.container.spawn_managed_thread(
            self._sample_forever, identifier="metrics_sampler"))

    def stop(self):
        # Killed, not left to end: a managed thread that raises (the server on a closed
        # socket would) kills the container. The server closes its socket on the way out.
        for thread in self._threads:
            thread.kill()
        self._threads = []

    kill = stop

    def get_dependency(self, worker_ctx):
        return self

    def worker_setup(self, worker_ctx):
        self._started[worker_ctx] = time.monotonic()

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        if exc_info is not None:
            entrypoint = worker_ctx.entrypoint
            ENTRYPOINT_FAILURES.labels(self.service, entrypoint.method_name,
                                       entrypoint_kind(entrypoint),
                                       type(exc_info[1]).__name__).inc()

    def worker_teardown(self, worker_ctx):
        started = self._started.pop(worker_ctx, None)
        entrypoint = worker_ctx.entrypoint
        labels = (self.service, entrypoint.method_name, entrypoint_kind(entrypoint))
        ENTRYPOINT_CALLS.labels(*labels).inc()
        if started is not None:
            ENTRYPOINT_DURATION.labels(*labels).observe(time.monotonic() - started)

    # ---- background work ---------------------------------------------------------------

    def _sample_forever(self):
        set_context(service=self.service, entrypoint="metrics_sampler")
        failing: set[str] = set()  # log a sampler's failure once, not every interval
        while True:
            for name, sample, gauge in (("outbox", self.outbox_backlog, OUTBOX_BACKLOG),
                                        ("dead letters", self.dead_letter_count, DEAD_LETTERS)):
                try:
                    gauge.labels(self.service).set(sample())
                    failing.discard(name)
                except Exception as exc:  # broker or database down: keep the last value
                    if name not in failing:
                        log.warning("cannot sample the %s gauge: %s", name, exc)
                    failing.add(name)
            eventlet.sleep(self.interval)

    def outbox_backlog(self) -> int:
        """Outbox rows not yet published (0 for a service without an outbox)."""
        if self.relay is None:
            return 0
        model = self.relay.model
        with self.relay.engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(model)
                               .where(model.published_at.is_(None)))

    def dead_letter_count(self) -> int:
        """Dead letters kept in the service's table (common.deadletters; 0 without one)."""
        return self.store.count() if self.store is not None else 0


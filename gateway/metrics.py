"""GET /metrics: the gateway's Prometheus metrics, for scrapers on this host only.

Series:

* `gateway_http_requests_total{method, route, status}`: answers, labelled by the URL
  rule (`/orders/<order_id>`), never the raw path, so ids do not explode the label
  set; a path no rule matches counts as `route="<unmatched>"`;
* `gateway_http_request_duration_seconds{method, route}`: from the first hook to the
  answer leaving the view (for the live stream: until its headers go out, not the
  whole stream);
* `gateway_streams_open`: live streams open on this process;
* `gateway_rpc_in_flight{service}`, `gateway_rpc_in_flight_limit{service}` (0 = none)
  and `gateway_shed_total{service}`: the views' RPCs running now per service, their
  admission limit now (it moves when adaptive), and the requests shed with a 503
  because it was reached
  (gateway/admission.py), read from the Admission at scrape time;
* `gateway_breaker_state{service}` (0 closed, 1 half-open, 2 open) and
  `gateway_breaker_rejected_total{service}`: each service's circuit breaker and the
  calls it failed at once (common/breakers.py), read at scrape time too;
* the process collector's `process_*` (CPU, memory, open files).

The contract says "anyone on the host": the endpoint answers clients whose address
is in METRICS_ALLOWED_NETWORKS (default loopback, 127.0.0.0/8 and ::1) and 403s the
rest, as the request counts and latencies describe traffic we do not publish. Behind
a reverse proxy every client looks local, so such a proxy must not forward /metrics.
"""

from __future__ import annotations

import ipaddress
import time

from flask import Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from common.breakers import STATE_VALUES
from common.errors import Forbidden
from gateway.proxies import PEER_KEY, parse_networks

EXTENSION = "gateway.metrics"
UNMATCHED = "<unmatched>"
DEFAULT_NETWORKS = "127.0.0.0/8,::1/128"


class GatewayMetrics:
    """One app's registry and series (per app, so tests can build several apps)."""

    def __init__(self, networks):
        self.registry = CollectorRegistry()
        self.networks = parse_networks(networks)
        self.requests = Counter("gateway_http_requests", "HTTP answers by route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("gateway_http_request_duration_seconds",
                                 "Time to answer an HTTP request", ["method", "route"],
                                 registry=self.registry)
        self.streams = Gauge("gateway_streams_open", "Live event streams open",
                             registry=self.registry)
        ProcessCollector(registry=self.registry)

    def allows(self, address: str | None) -> bool:
        """Whether a client at `address` may read the metrics."""
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 from a dual-stack socket
        return any(ip in network for network in self.networks)


class AdmissionCollector:
    """The admission counts (gateway.admission.Admission) as series, read per scrape."""

    def __init__(self, admission):
        self.admission = admission

    def collect(self):
        admission = self.admission
        in_flight = GaugeMetricFamily("gateway_rpc_in_flight",
                                      "Views' RPCs running now, per service", labels=["service"])
        limit = GaugeMetricFamily("gateway_rpc_in_flight_limit",
                                  "Admission limit of RPCs in flight now (0 = none)",
                                  labels=["service"])
        shed = CounterMetricFamily("gateway_shed", "Requests shed with a 503 at the limit",
                                   labels=["service"])
        for service, gate in sorted(admission.gates.items()):
            in_flight.add_metric([service], gate.in_flight)
            limit.add_metric([service], gate.limit)
            shed.add_metric([service], gate.shed)
        yield from (in_flight, limit, shed)


class BreakerCollector:
    """The circuit breakers' states (common.breakers.Breakers) as series, per scrape."""

    def __init__(self, breakers):
        self.breakers = breakers

    def collect(self):
        state = GaugeMetricFamily("gateway_breaker_state", "Circuit breaker of each service: "
                                  "0 closed, 1 half-open, 2 open", labels=["service"])
        rejected = CounterMetricFamily("gateway_breaker_rejected",
                                       "Calls failed at once by an open circuit breaker",
                                       labels=["service"])
        for service, breaker in sorted(self.breakers.breakers.items()):
            state.add_metric([service], STATE_VALUES[breaker.state])
            rejected.add_metric([service], breaker.rejected)
        yield from (state, rejected)


def _route() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED


def record(response: Response) -> Response:
    """after_request hook: count the answer and time it."""
    metrics: GatewayMetrics = current_app.extensions[EXTENSION]
    started = g.get("started")  # set by gateway.context.begin_request
    route = _route()
    metrics.requests.labels(request.method, route, str(response.status_code)).inc()
    if started is not None:
        metrics.latency.labels(request.method, route).observe(time.monotonic() - started)
    return response


def metrics_view():
    """The Prometheus text format; 403 for a client outside METRICS_ALLOWED_NETWORKS."""
    metrics: GatewayMetrics = current_app.extensions[EXTENSION]
    # The peer itself, not a client named by X-Forwarded-For (gateway/proxies.py).
    if not metrics.allows(request.environ.get(PEER_KEY, request.remote_addr)):
        raise Forbidden("metrics are served to this host only")
    return Response(generate_latest(metrics.registry), content_type=CONTENT_TYPE_LATEST)


def install(app: Flask, config: dict, stream_hub=None, admission=None,
            breakers=None) -> GatewayMetrics:
    """Create the app's metrics, count every answer, and route GET /metrics."""
    metrics = GatewayMetrics(config.get("METRICS_ALLOWED_NETWORKS", DEFAULT_NETWORKS))
    if stream_hub is not None:
        metrics.streams.set_function(stream_hub.subscriber_count)
    if admission is not None:
        metrics.registry.register(AdmissionCollector(admission))
    if breakers is not None:
        metrics.registry.register(BreakerCollector(breakers))
    app.extensions[EXTENSION] = metrics
    app.after_request(record)
    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])
    return metrics

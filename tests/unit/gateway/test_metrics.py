"""GET /metrics of the gateway: loopback only, requests by URL rule and status."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway import create_app
from gateway.metrics import GatewayMetrics
from gateway.proxies import parse_networks


def series(response) -> dict[tuple, float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for s in family.samples}


def test_answers_loopback_in_prometheus_text_format(client):
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=")
    assert "gateway_streams_open 0.0" in answer.get_data(as_text=True)


@pytest.mark.parametrize("address", ["10.1.2.3", "192.168.0.7", "2001:db8::1", "bogus"])
def test_refuses_other_hosts(client, address):
    answer = client.get("/metrics", environ_base={"REMOTE_ADDR": address})
    assert answer.status_code == 403
    assert answer.get_json()["error"]["code"] == "forbidden"


def test_counts_by_url_rule_never_by_raw_path(client):
    order = "0b5f1c2e-1111-4111-8111-111111111111"
    client.get(f"/orders/{order}")  # 401: no token
    client.get("/no/such/path")
    found = series(client.get("/metrics"))
    key = ("gateway_http_requests_total",
           (("method", "GET"), ("route", "/orders/<order_id>"), ("status", "401")))
    assert found[key] == 1
    assert found[("gateway_http_requests_total", (("method", "GET"), ("route", "<unmatched>"),
                                                  ("status", "404")))] == 1
    assert found[("gateway_http_request_duration_seconds_count",
                  (("method", "GET"), ("route", "/orders/<order_id>")))] == 1
    assert not [labels for _, labels in found if any(order in v for _, v in labels)]


def test_each_app_counts_alone(config, rpc, broker, hub):
    first = create_app(config, rpc=rpc, broker_check=broker, stream_hub=hub).test_client()
    second = create_app(config, rpc=rpc, broker_check=broker, stream_hub=hub).test_client()
    first.get("/health")
    key = ("gateway_http_requests_total",
           (("method", "GET"), ("route", "/health"), ("status", "200")))
    assert series(first.get("/metrics"))[key] == 1
    assert key not in series(second.get("/metrics"))


def test_allowed_networks_are_configurable():
    metrics = GatewayMetrics(["10.0.0.0/8", "::1"])
    assert metrics.allows("10.9.8.7") and metrics.allows("::1")
    assert not metrics.allows("127.0.0.1")
    loopback = GatewayMetrics("127.0.0.0/8,::1/128")
    assert loopback.allows("::ffff:127.0.0.1")  # IPv4-mapped, from a dual-stack socket
    assert [str(n) for n in parse_networks(" 127.0.0.1/8 , ")] == ["127.0.0.0/8"]

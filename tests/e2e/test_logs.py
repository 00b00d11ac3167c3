"""One order's X-Request-ID through every service's log.

The cluster writes each process's output to its own file (common.testing.Process),
as `make run` writes them to .run/run.log: JSON lines with `service`, `entrypoint` and
`correlation_id`. The request id a client sends on POST /orders is the correlation id
of everything the order causes, so each process on its path logs it.
"""

from __future__ import annotations

import json
import uuid

import pytest

from common.testing import wait_for
from tests.e2e.test_orders import place, settled

pytestmark = pytest.mark.e2e

PATH = ("gateway", "order_svc", "inventory_svc", "payment_svc", "notify_svc", "delivery_svc")


def json_lines(path: str) -> list[dict]:
    records = []
    with open(path, errors="replace") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a process may print something else (a traceback, a notice)
            if isinstance(record, dict):
                records.append(record)
    return records


def test_one_order_can_be_followed_through_every_service_log(cluster, admin, customer):
    sku = f"LOG-{uuid.uuid4().hex[:8].upper()}"
    assert cluster.post("/products", headers=admin, json={
        "sku": sku, "name": f"Product {sku}", "price_cents": 900, "stock": 5}
    ).status_code == 201
    request_id = f"trace-{uuid.uuid4()}"
    answer = place(cluster, {**customer, "X-Request-ID": request_id}, sku)
    assert answer.status_code == 201, answer.text
    assert answer.headers["X-Request-ID"] == request_id
    settled(cluster, customer, answer.json()["id"], "CONFIRMED")

    def traced() -> dict[str, list[dict]] | None:
        seen = {name: [r for r in json_lines(cluster.processes[name].log_path)
                       if r.get("correlation_id") == request_id] for name in PATH}
        return seen if all(seen.values()) else None

    try:
        seen = wait_for(traced, timeout=20, interval=0.25,
                        message=f"a log line with {request_id} in each of {PATH}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{cluster.logs()}") from None
    for name, records in seen.items():
        assert {r["service"] for r in records} == {name}, records
        assert all(r.get("entrypoint") for r in records), records
        assert all({"ts", "level", "logger", "message"} <= r.keys() for r in records)
    access = [r for r in seen["gateway"] if r["logger"] == "gateway.access"]
    assert [(r["method"], r["path"], r["status"]) for r in access] == [("POST", "/orders", 201)]
    assert any("placed" in r["message"] for r in seen["order_svc"])

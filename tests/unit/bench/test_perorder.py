"""bench.perorder: the arithmetic behind make bench's counts per finished order."""

from __future__ import annotations

import pytest

from bench import perorder


@pytest.mark.parametrize(("query", "kind"), [
    ("BEGIN", "begin"), ("begin", "begin"), ("START TRANSACTION", "begin"),
    ("COMMIT", "commit"), ("ROLLBACK", "rollback"),
    ("ROLLBACK TO SAVEPOINT sa_savepoint_1", "savepoint"), ("SAVEPOINT sa_1", "savepoint"),
    ("RELEASE SAVEPOINT sa_1", "savepoint"),
    ("SELECT $1", "ping"), ("SELECT 1", "ping"), ("select 1;", "ping"),
    ("SELECT $1 FROM orders WHERE id = $2", "statement"),
    ("UPDATE outbox SET published_at = now() WHERE id = ANY($1)", "statement"),
])
def test_each_entry_is_classified(query, kind):
    assert perorder.classify(query) == kind


def test_every_call_is_a_round_trip_and_work_is_counted_apart():
    rows = [{"service": "order_svc", "query": "BEGIN", "calls": 10},
            {"service": "order_svc", "query": "SELECT $1", "calls": 10},
            {"service": "order_svc", "query": "UPDATE orders SET status = $1", "calls": 7},
            {"service": "order_svc", "query": "COMMIT", "calls": 9},
            {"service": "order_svc", "query": "ROLLBACK", "calls": 1},
            {"service": "user_svc", "query": "SELECT id FROM users", "calls": 2}]
    by = perorder.pg_by_service(rows)
    assert by["order_svc"] == {"round_trips": 37, "statements": 7, "begin": 10, "commit": 9,
                               "rollback": 1, "savepoint": 0, "ping": 10}
    assert by["user_svc"]["round_trips"] == 2 and by["user_svc"]["statements"] == 2


@pytest.mark.parametrize(("queue", "owner"), [
    ("evt-order_svc-order.created--inventory_svc.on_order_created", "inventory_svc"),
    ("evt-order_svc-order.created--inventory_svc.on_order_created.retry.250ms", "inventory_svc"),
    ("rpc-order_svc", "order_svc"),
    ("rpc.reply-notify_svc-0b6a1f7e-2c1d-4a55-9d43-6f0e3b1c2a10", "notify_svc"),
    ("rpc.reply-standalone_rpc_proxy-0b6a1f7e-2c1d-4a55-9d43-6f0e3b1c2a10", "gateway/clients"),
    ("gateway-stream-0b6a1f7e-2c1d-4a55-9d43-6f0e3b1c2a10", "gateway"),
    ("payment_svc.dead-letters", "payment_svc"),
    ("something-else", "other"),
])
def test_queues_belong_to_their_consumer(queue, owner):
    assert perorder.queue_owner(queue) == owner


def test_exchanges_belong_to_their_publisher():
    assert perorder.exchange_owner("order_svc.events") == "order_svc"
    assert perorder.exchange_owner("notify_svc.dlx") == "notify_svc"
    assert perorder.exchange_owner("nameko-rpc").startswith("rpc")


def test_queues_are_summed_by_owner():
    grouped = perorder.group({"rpc-order_svc": {"ack": 3}, "evt-a-b--order_svc.x": {"ack": 4},
                              "rpc-user_svc": {"ack": None}}, perorder.queue_owner)
    assert grouped == {"order_svc": {"ack": 7}, "user_svc": {"ack": 0}}


def test_subtract_keeps_new_keys_drops_gone_ones_and_refuses_a_reset_counter():
    before = {"a": {"x": 5, "gone": 1}, "b": 10, "c": None}
    after = {"a": {"x": 8, "new": 2}, "b": 4, "c": 3}
    assert perorder.subtract(after, before) == {"a": {"x": 3, "new": 2}, "b": None, "c": None}
    assert perorder.subtract({"smtp": None}, {"smtp": {"messages": 1}}) == {"smtp": None}
    assert perorder.subtract({"amqp": {"publish": 4}}, {"amqp": None}) == {"amqp": None}


def test_net_per_order_takes_the_resting_activity_out():
    raw = {"pg": {"order_svc": {"round_trips": 1000, "statements": None}}, "smtp": None}
    idle = {"pg": {"order_svc": {"round_trips": 2.0}}}  # per second
    net = perorder.net_per_order(raw, idle, window_s=50, orders=90)
    assert net == {"pg": {"order_svc": {"round_trips": 10.0, "statements": None}},
                   "smtp": None}
    assert perorder.net_per_order({"x": 5}, {}, 10, 0) == {"x": None}
    assert perorder.net_per_order({"x": 5}, {"x": 1.0}, 10, 1) == {"x": 0}  # never negative


def test_totals_add_the_services_and_say_none_when_not_measured():
    per_order = {"pg": {"a": {"round_trips": 30, "statements": 12, "xact_commit": 8,
                              "xact_rollback": 1},
                        "b": {"round_trips": 20, "statements": None, "xact_commit": 5,
                              "xact_rollback": 0}},
                 "amqp": {"vhost": {"publish": 16, "deliver_get": 20, "ack": 19}},
                 "smtp": None}
    t = perorder.totals(per_order)
    assert t["pg_round_trips"] == 50 and t["pg_statements"] is None
    assert t["pg_commits"] == 13 and t["pg_rollbacks"] == 1
    assert (t["amqp_publishes"], t["amqp_deliveries"], t["amqp_acks"]) == (16, 20, 19)
    assert t["smtp_connections"] is None


def test_top_statements_are_per_order_and_ranked():
    rows = [{"service": "a", "query": "SELECT\n  x", "calls": 10},
            {"service": "b", "query": "BEGIN", "calls": 40}]
    top = perorder.top_statements(rows, orders=10, limit=1)
    assert top == [{"service": "b", "per_order": 4.0, "query": "BEGIN"}]
    assert perorder.top_statements(rows, orders=0) == []

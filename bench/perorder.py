"""Counts per finished order: pure arithmetic on the counters bench/counters.py reads.

A counter tree is nested dicts whose leaves are numbers or None (not measured, e.g.
pg_stat_statements not loaded, or no mail sink statistics); every function here keeps
None as None rather than guessing a zero.
"""

from __future__ import annotations

import re

# pg_stat_statements normalises constants: a pre-ping `SELECT 1` reads `SELECT $1`.
_PING = re.compile(r"select\s+(\$\d+|\d+)\s*;?", re.I)
TOP_STATEMENTS = 15


def classify(query: str) -> str:
    """What a pg_stat_statements entry is: begin, commit, rollback, savepoint, ping (a
    pool pre-ping) or statement (everything that does work)."""
    words = query.strip().lower().split()
    head = words[0] if words else ""
    if head == "begin" or words[:2] == ["start", "transaction"]:
        return "begin"
    if head in ("commit", "end"):
        return "commit"
    if head == "rollback":
        return "savepoint" if "to" in words[1:3] else "rollback"
    if head in ("savepoint", "release"):
        return "savepoint"
    if _PING.fullmatch(query.strip()):
        return "ping"
    return "statement"


def pg_by_service(rows: list[dict]) -> dict:
    """pg_stat_statements rows ({service, query, calls}) -> {service: {round_trips,
    statements, begin, commit, rollback, savepoint, ping}}; every call of every entry is
    one round trip (the services use the simple protocol: one message, one answer)."""
    out: dict[str, dict] = {}
    for row in rows:
        counts = out.setdefault(row["service"], {
            "round_trips": 0, "statements": 0, "begin": 0, "commit": 0, "rollback": 0,
            "savepoint": 0, "ping": 0})
        kind = classify(row["query"])
        counts["round_trips"] += row["calls"]
        counts[kind if kind != "statement" else "statements"] += row["calls"]
    return out


def top_statements(rows: list[dict], orders: int, limit: int = TOP_STATEMENTS) -> list:
    """The most called statements, per order (idle activity included), for the JSON."""
    if not orders:
        return []
    ranked = sorted(rows, key=lambda row: row["calls"], reverse=True)[:limit]
    return [{"service": row["service"], "per_order": round(row["calls"] / orders, 2),
             "query": " ".join(row["query"].split())[:200]} for row in ranked]


def queue_owner(name: str) -> str:
    """The service consuming a queue, from nameko's and our names: evt-<src>-<type>--
    <service>.<method>, rpc-<service>, rpc.reply-<service>-<uuid>, <service>.dead-letters,
    <queue>.retry.<n>ms (its queue's owner), gateway-stream-<uuid>."""
    if ".retry." in name:
        name = name.split(".retry.")[0]
    if name.startswith("evt-") and "--" in name:
        return name.split("--", 1)[1].split(".", 1)[0]
    if name.startswith("rpc.reply-"):
        owner = name[len("rpc.reply-"):].rsplit("-", 5)[0]
        return "gateway/clients" if owner == "standalone_rpc_proxy" else owner
    if name.startswith("rpc-"):
        return name[len("rpc-"):]
    if name.startswith("gateway-"):
        return "gateway"
    if name.endswith(".dead-letters"):
        return name.removesuffix(".dead-letters")
    return "other"


def exchange_owner(name: str) -> str:
    """The service publishing to an exchange: <service>.events (its events),
    <service>.dlx (its dead letters); nameko-rpc carries every RPC request and reply."""
    for suffix in (".events", ".dlx"):
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return {"nameko-rpc": "rpc (requests and replies)", "": "default exchange"}.get(name, name)


def group(per_name: dict, owner) -> dict:
    """{name: {counter: n}} -> {owner(name): {counter: sum}}."""
    out: dict[str, dict] = {}
    for name, counts in per_name.items():
        into = out.setdefault(owner(name), {})
        for key, value in counts.items():
            into[key] = into.get(key, 0) + (value or 0)
    return out


def subtract(after, before):
    """after - before, leaf by leaf over after's keys (a key new in `after` counts from
    0; one gone from it, e.g. a deleted queue, is left out). A counter that went down
    (a restarted process) gives None."""
    if after is None or before is None:
        return None
    if isinstance(after, dict):
        before = before if isinstance(before, dict) else {}
        return {key: subtract(value, before.get(key, 0 if not isinstance(value, dict)
                                                 else {})) for key, value in after.items()}
    delta = after - before
    return delta if delta >= 0 else None


def net_per_order(raw, idle_per_s, window_s: float, orders: int, digits: int = 2):
    """(raw - idle rate x window) / orders, leaf by leaf: what one order cost, the
    cluster's resting activity (timers, relay polls) over the window taken out. A leaf
    with no idle figure is taken whole; orders == 0 gives None."""
    if raw is None:
        return None
    if isinstance(raw, dict):
        idle_per_s = idle_per_s if isinstance(idle_per_s, dict) else {}
        return {key: net_per_order(value, idle_per_s.get(key), window_s, orders, digits)
                for key, value in raw.items()}
    if not orders:
        return None
    idle = (idle_per_s or 0) * window_s
    return round(max(raw - idle, 0) / orders, digits)


def rates(raw, seconds: float):
    """Counts over `seconds` -> per second, leaf by leaf."""
    if raw is None:
        return None
    if isinstance(raw, dict):
        return {key: rates(value, seconds) for key, value in raw.items()}
    return raw / seconds if seconds > 0 else None


def totals(per_order: dict) -> dict:
    """The headline figures of a phase's per-order tree (None where not measured)."""
    pg, amqp, smtp = per_order.get("pg") or {}, per_order.get("amqp") or {}, per_order.get("smtp")

    def pg_sum(key):
        values = [counts.get(key) for counts in pg.values()]
        return None if not values or None in values else round(sum(values), 2)

    vhost = amqp.get("vhost") or {}
    return {"pg_round_trips": pg_sum("round_trips"), "pg_statements": pg_sum("statements"),
            "pg_commits": pg_sum("xact_commit"), "pg_rollbacks": pg_sum("xact_rollback"),
            "amqp_publishes": vhost.get("publish"), "amqp_deliveries": vhost.get("deliver_get"),
            "amqp_acks": vhost.get("ack"),
            "smtp_connections": smtp.get("connections") if smtp else None,
            "smtp_messages": smtp.get("messages") if smtp else None}

"""Tables and the latency-against-load plot of a bench run."""

from __future__ import annotations


def fmt(value, digits=0):
    return "-" if value is None else f"{value:.{digits}f}"


HEADER = ("| phase | offered/s | accepted/s | errors | POST p50 | POST p95 | POST p99 "
          "| confirmed/s | placed->CONFIRMED p50 | p99 |")
COUNTS_HEADER = ("| phase | finished | PG round trips | statements | BEGIN | pings "
                 "| commits | rollbacks | AMQP publishes | deliveries | acks "
                 "| SMTP connections | mails | CPU ms all | CPU ms net of rest |")
SERVICE_HEADER = ("| service | PG round trips | statements | BEGIN | COMMIT | ROLLBACK | pings "
                  "| commits | rollbacks | deliveries to it | acks by it | publishes (exchange) |")


def row(p: dict) -> str:
    return (f"| {p['phase']} | {fmt(p['offered_per_s'])} | {fmt(p['accepted_per_s'], 1)} | "
            f"{p['errors']} | {fmt(p['post_p50_ms'], 1)} ms | {fmt(p['post_p95_ms'], 1)} ms | "
            f"{fmt(p['post_p99_ms'], 1)} ms | {fmt(p['confirmed_per_s'], 1)} | "
            f"{fmt(p['confirm_p50_ms'])} ms | {fmt(p['confirm_p99_ms'])} ms |")


def counts_row(p: dict) -> str:
    t, pg = p["totals_per_order"], (p["per_order"] or {}).get("pg") or {}

    def pg_sum(key):
        values = [c.get(key) for c in pg.values()]
        return None if not values or None in values else sum(values)

    cpu = sum(v for v in p["cpu_ms_per_order"].values() if v is not None)
    cells = [p["finished"], t["pg_round_trips"], t["pg_statements"], pg_sum("begin"),
             pg_sum("ping"), t["pg_commits"], t["pg_rollbacks"], t["amqp_publishes"],
             t["amqp_deliveries"], t["amqp_acks"], t["smtp_connections"], t["smtp_messages"]]
    return (f"| {p['phase']} | " + " | ".join(fmt(c, 0 if i == 0 else 1)
                                              for i, c in enumerate(cells))
            + f" | {fmt(cpu, 1)} | {fmt(p['cpu_ms_per_order_net'], 1)} |")


def service_rows(p: dict) -> list[str]:
    per = p["per_order"] or {}
    pg, amqp = per.get("pg") or {}, per.get("amqp") or {}
    queues, exchanges = amqp.get("queues") or {}, amqp.get("exchanges") or {}
    lines = []
    for name in sorted(set(pg) | set(queues) | set(exchanges)):
        c, q = pg.get(name) or {}, queues.get(name) or {}
        cells = [c.get("round_trips"), c.get("statements"), c.get("begin"), c.get("commit"),
                 c.get("rollback"), c.get("ping"), c.get("xact_commit"), c.get("xact_rollback"),
                 q.get("deliver_get"), q.get("ack"), (exchanges.get(name) or {}).get("publish_in")]
        if any(cells):  # leave out the broker's own exchanges, never used
            lines.append(f"| {name} | " + " | ".join(fmt(v, 1) for v in cells) + " |")
    return lines


def overload_lines(p: dict) -> list[str]:
    o = p["overload"]
    return [f"Overload ({p['phase']} offered for {fmt(p['duration_s'])} s, separate clients, "
            f"30 s client timeout): answers {o['codes']}; accepted POST p50 "
            f"{fmt(o['accepted_p50_ms'], 1)} ms, p99 {fmt(o['accepted_p99_ms'], 1)} ms; "
            f"shed (503) {o['shed']}, p50 {fmt(o['shed_p50_ms'], 1)} ms, p99 "
            f"{fmt(o['shed_p99_ms'], 1)} ms; Retry-After seen {o['retry_after'] or 'none'}; "
            f"client timeouts {o['client_timeouts']}, connection errors "
            f"{o['connection_errors']}; 5xx other than 503: {o['other_5xx']}; an order "
            f"accepted within {fmt(o['recovered_within_ms'])} ms again "
            + (f"{o['recovery_s']:.1f} s after the load stopped" if o["recovery_s"] is not None
               else "not within 120 s of the load stopping"), ""]


def markdown(results: dict) -> str:
    base, products, phases = results["baselines"], results["get_products"], results["phases"]
    lines = [f"Bench run {results['when']} {results['label']}".rstrip(), "",
             f"Machine: {results['machine']['cpus']} CPUs, Python "
             f"{results['machine']['python']}, processes "
             f"{results['machine']['processes']}", ""]
    lines += [f"Note: {note}" for note in results.get("notes", [])]
    lines += [HEADER, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [row(p) for p in phases]
    lines += ["", "CPU ms per accepted order, by process (all in: the cluster's resting "
              "consumption over each phase's window included):", "",
              "| phase | " + " | ".join(sorted(phases[0]["cpu_ms_per_order"])) + " | all |",
              "|---|" + "---:|" * (len(phases[0]["cpu_ms_per_order"]) + 1)]
    for p in phases:
        cpu = p["cpu_ms_per_order"]
        lines.append(f"| {p['phase']} | " + " | ".join(fmt(cpu[k], 1) for k in sorted(cpu))
                     + f" | {fmt(sum(v for v in cpu.values() if v is not None), 1)} |")
    if "per_order" in phases[0]:
        idle = results.get("idle") or {}
        lines += ["", "Per finished (DELIVERED) order, net of the cluster's resting activity "
                  f"(measured over {fmt(idle.get('seconds'))} s at rest: "
                  f"{fmt(sum((idle.get('cpu_ms_per_s') or {}).values()))} CPU ms/s). PG round "
                  "trips: every statement call (BEGIN, COMMIT, ROLLBACK and pre-ping SELECT 1 "
                  "included); commits/rollbacks: pg_stat_database; '-': not measured:", "",
                  COUNTS_HEADER, "|---|" + "---:|" * 14]
        lines += [counts_row(p) for p in phases]
        lines += [""]
        for p in phases:
            lines += [f"By service, {p['phase']} (per finished order):", "", SERVICE_HEADER,
                      "|---|" + "---:|" * 11, *service_rows(p), ""]
    lines += [line for p in phases if "overload" in p for line in overload_lines(p)]
    if products:
        lines += ["", f"GET /products: {products['per_s']:.0f} req/s with "
                  f"{products['clients']} clients (p50 {products['p50_ms']:.1f} ms, p99 "
                  f"{products['p99_ms']:.1f} ms, {products['errors']} errors; client: "
                  f"{products.get('tool', 'python')})"]
    if base:
        lines += ["", f"Baselines: bare nameko RPC round trip {base['rpc']['per_s']:.0f} "
                  f"calls/s sequential (p50 {base['rpc']['p50_ms']:.2f} ms); bare event hop "
                  f"{base['event_hop']['per_s']:.0f} events/s (p50 "
                  f"{base['event_hop']['p50_ms']:.1f} ms one way)"]
    lines += ["", f"Invariant checker: {len(results['checker']['violations'])} violations "
              f"({results['checker']['counts']})"]
    return "\n".join(lines) + "\n"


def plot(results: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fixed = [p for p in results["phases"] if p["offered_per_s"] and "overload" not in p]
    rates = [p["offered_per_s"] for p in fixed]
    fig, axis = plt.subplots(figsize=(7, 4.2), dpi=110)
    for key, label in (("post_p50_ms", "POST /orders p50"), ("post_p99_ms", "POST /orders p99"),
                       ("confirm_p50_ms", "placed -> CONFIRMED p50"),
                       ("confirm_p99_ms", "placed -> CONFIRMED p99")):
        axis.plot(rates, [p[key] for p in fixed], marker="o", label=label)
    axis.set_xlabel("offered orders/s")
    axis.set_ylabel("latency (ms)")
    axis.set_yscale("log")
    axis.set_title("Order latency against load (2-core machine, everything on it)")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

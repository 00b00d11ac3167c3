"""`make bench`: the whole saga under load, on this machine, with its baselines.

    .venv/bin/python -m bench.saga [--rates 5 10 25 50 100 200] [--duration 20]
                                   [--clients 32] [--overload 60] [--out PREFIX]

Against the gateway at BENCH_URL (default http://127.0.0.1:$GATEWAY_PORT): places
orders at fixed offered rates (open loop), at saturation (closed loop) and at ~4x the
saturation rate (overload: many separate clients, then the time to recover), follows
every order to DELIVERED over the live stream, and counts per finished order and by
service: CPU by process, PostgreSQL round trips (pg_stat_statements) and transactions,
AMQP publishes, deliveries and acks (management API), SMTP connections and messages
(the mail sink's statistics). Then GET /products throughput, a bare nameko RPC round
trip and event hop, and the invariant checker. Writes PREFIX.{json,md,png} (default
bench/results/latest) and prints the tables.
"""

from __future__ import annotations

import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

import requests  # noqa: E402

from bench import baselines, load, overload, perorder, report  # noqa: E402
from bench.counters import STATS_SETTLE_S, Counters, phase_counts  # noqa: E402
from bench.procs import cluster_processes, cpu_seconds, infra_processes, wait_quiet  # noqa: E402
from common.config import load_config  # noqa: E402
from common.rpc import RpcPool  # noqa: E402
from common.testing import Process, wait_for  # noqa: E402
from tools.check import wait_until_clean  # noqa: E402

RESULTS = Path(__file__).parent / "results"
# How long a phase's orders may take to be delivered after it (make bench's own cluster
# ships and delivers at once; a cluster with the default delays takes 30 s more).
FINAL_TIMEOUT_S = 600


def setup_shop(url: str, config: dict, users: int) -> load.Shop:
    admin = requests.post(f"{url}/auth/login", json={
        "email": config["ADMIN_EMAIL"], "password": str(config["ADMIN_PASSWORD"])}, timeout=30)
    admin.raise_for_status()
    headers = {"Authorization": f"Bearer {admin.json()['access_token']}"}
    skus = []
    for n in range(4):
        sku = f"BENCH-{uuid.uuid4().hex[:6].upper()}-{n}"
        requests.post(f"{url}/products", headers=headers, timeout=30, json={
            "sku": sku, "name": f"Bench item {n}", "price_cents": 500 + n,
            "stock": 100_000_000}).raise_for_status()
        skus.append(sku)
    accounts = []
    for _ in range(users):
        email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
        requests.post(f"{url}/auth/register", json={"email": email, "password": "bench-pass-1"},
                      timeout=30).raise_for_status()
        token = requests.post(f"{url}/auth/login", json={
            "email": email, "password": "bench-pass-1"}, timeout=30).json()["access_token"]
        accounts.append({"email": email, "token": token})
    return load.Shop(url, accounts, skus)


def measure_idle(processes: dict, counters: Counters, seconds: float) -> dict:
    """The cluster at rest over `seconds`: CPU ms/s by process and every counter per
    second, taken out of each phase's per-order figures (timers and relay polls)."""
    counters.reset()
    counts_before, cpu_before = counters.snapshot(), cpu_seconds(processes)
    time.sleep(seconds)
    cpu_after, counts_after = cpu_seconds(processes), counters.snapshot()
    window = counts_after["at"] - counts_before["at"]
    counts = phase_counts(counts_before, counts_after, counters.statement_rows())
    return {"seconds": round(window, 1),
            "cpu_ms_per_s": {name: round(1000 * (cpu_after[name] - cpu_before.get(name, 0))
                                         / window, 2) for name in cpu_after},
            "counts_per_s": perorder.rates(counts, window)}


def measured(run, processes: dict, shop: load.Shop, counters: Counters, idle: dict,
             *args) -> dict:
    """Run a phase and summarise it. Its CPU is counted until every order it placed is
    DELIVERED (or CANCELLED) and the cluster is at rest again, so each order's whole saga
    is in it; its other counters are read STATS_SETTLE_S later, when RabbitMQ's and
    PostgreSQL's statistics have caught up, and are given per finished order, net of
    the cluster's resting activity over the window."""
    counters.reset()
    counts_before, cpu_before = counters.snapshot(), cpu_seconds(processes)
    phase = run(shop, *args)
    shop.settle(load.accepted_ids(phase), timeout=FINAL_TIMEOUT_S)
    wait_quiet(processes, timeout=FINAL_TIMEOUT_S)
    cpu_after, cpu_window = cpu_seconds(processes), time.time() - counts_before["at"]
    time.sleep(STATS_SETTLE_S)
    counts_after, rows = counters.snapshot(), counters.statement_rows()
    phase.cpu_s = {name: cpu_after[name] - cpu_before.get(name, 0) for name in cpu_after}
    result = phase.summary(shop.confirmed_at, shop.delivered)
    finished, window = result["finished"], counts_after["at"] - counts_before["at"]
    counts = phase_counts(counts_before, counts_after, rows)
    idle_cpu_s = sum(idle["cpu_ms_per_s"].values()) / 1000 * cpu_window
    result.update({
        "window_s": round(window, 1),
        "cpu_ms_per_order_net": round(1000 * max(sum(phase.cpu_s.values()) - idle_cpu_s, 0)
                                      / finished, 1) if finished else None,
        "counts": counts,
        "per_order": perorder.net_per_order(counts, idle["counts_per_s"], window, finished),
        "top_statements": perorder.top_statements(rows or [], finished)})
    result["totals_per_order"] = perorder.totals(result["per_order"])
    if phase.recovery is not None:
        result["overload"] = overload.summary(phase.samples, phase.recovery)
    return result


def run_baselines(config: dict) -> dict:
    echo = Process("bench_echo", [str(Path(sys.executable).with_name("nameko")), "run",
                                  "--config", "config.yml", "bench.echo"],
                   {**os.environ, "EVENTLET_TESTS": "1"}, str(RESULTS.parent / ".."))
    echo.log_path = "/tmp/bench_echo.log"
    echo.start()
    try:
        pool = RpcPool(config, size=2, timeout=10)
        wait_for(lambda: pool.ensure_running("bench_echo") is None, timeout=30,
                 message="the echo service")
        pool.close()
        return {"rpc": baselines.rpc_round_trip(config["AMQP_URI"]),
                "event_hop": baselines.event_hop(config["AMQP_URI"])}
    finally:
        echo.stop()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="*", default=[5, 10, 25, 50, 100, 200],
                        help="offered rates (none: saturation only)")
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--saturation", type=float, default=None,
                        help="seconds of the saturation phase (default: --duration)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--warmup", type=float, default=8,
                        help="seconds of orders at 5/s first, not measured (fresh "
                             "connections, caches, the new users' welcome mails)")
    parser.add_argument("--idle", type=float, default=15,
                        help="seconds of the cluster at rest measured after the warm-up")
    parser.add_argument("--overload", type=float, default=60,
                        help="seconds of the overload phase after saturation (0: none)")
    parser.add_argument("--overload-x", type=float, default=4,
                        help="the overload rate as a multiple of saturation's accepted/s")
    parser.add_argument("--overload-rate", type=float, default=None,
                        help="the overload rate in orders/s (instead of --overload-x)")
    parser.add_argument("--recovered-ms", type=float, default=None,
                        help="an order answered within this is 'fast again' (default: "
                             "the first fixed rate's POST p99, at least 50 ms)")
    parser.add_argument("--products", type=float, default=5,
                        help="seconds of GET /products (0: none)")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--label", default="")
    parser.add_argument("--out", default=str(RESULTS / "latest"),
                        help="where to write PREFIX.json, .md and .png")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    config = load_config()
    url = os.environ.get("BENCH_URL", f"http://127.0.0.1:{config['GATEWAY_PORT']}")
    requests.get(f"{url}/ready", timeout=5).raise_for_status()

    processes = {**cluster_processes(config["AMQP_URI"]), **infra_processes()}
    wait_quiet(processes)
    base = None if args.no_baselines else run_baselines(config)
    print(f"baselines: {json.dumps(base)}", flush=True)
    mail = processes.get("mail")
    counters = Counters(config, Path(mail[0].cwd()) if mail else None)

    shop = setup_shop(url, config, args.users)
    shop.open_streams()
    counter = [0]
    if args.warmup > 0:
        warm = load.fixed_rate(shop, 5, args.warmup, counter)
        shop.settle(load.accepted_ids(warm), timeout=FINAL_TIMEOUT_S)
    wait_quiet(processes)
    time.sleep(STATS_SETTLE_S)
    idle = measure_idle(processes, counters, args.idle)
    print(f"at rest: {json.dumps(idle['cpu_ms_per_s'])} CPU ms/s", flush=True)
    phases = []
    for rate in args.rates:
        phases.append(measured(load.fixed_rate, processes, shop, counters, idle, rate,
                               args.duration, counter))
        print(report.row(phases[-1]), flush=True)
    phases.append(measured(load.saturation, processes, shop, counters, idle, args.clients,
                           args.saturation or args.duration, counter))
    print(report.row(phases[-1]), flush=True)
    if args.overload > 0:
        rate = args.overload_rate or max(1.0, args.overload_x * phases[-1]["accepted_per_s"])
        first_p99 = phases[0]["post_p99_ms"] if args.rates and phases[0]["post_p99_ms"] else 0
        fast_ms = args.recovered_ms or max(50.0, first_p99)
        phases.append(measured(overload.run, processes, shop, counters, idle, rate,
                               args.overload, counter, fast_ms / 1000))
        print(report.row(phases[-1]), flush=True)
    shop.close()
    checker = RpcPool(config, size=2, timeout=30)
    try:
        verdict = wait_until_clean(checker, timeout=120)
    finally:
        checker.close()
    counters.close()
    wait_quiet(processes)
    products = load.products_throughput(url, duration=args.products) if args.products else None
    results = {
        "label": args.label, "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "processes": {k: len(v) for k, v in processes.items()},
                    "load_average": os.getloadavg()},
        "notes": counters.notes, "idle": idle,
        "baselines": base, "phases": phases, "get_products": products,
        "checker": {"violations": verdict.violations, "counts": verdict.counts},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{out}.json").write_text(json.dumps(results, indent=2))
    Path(f"{out}.md").write_text(report.markdown(results))
    report.plot(results, Path(f"{out}.png"))
    print(report.markdown(results))
    return 0 if not verdict.violations else 1


if __name__ == "__main__":
    sys.exit(main())

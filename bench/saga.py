"""`make bench`: the whole saga under load, on this machine, with its baselines.

    .venv/bin/python -m bench.saga [--rates 25 50 100 200] [--duration 20] [--clients 32]

Against the gateway at BENCH_URL (default http://127.0.0.1:$GATEWAY_PORT): places
orders at fixed offered rates (open loop) and at saturation (closed loop), follows
every order to CONFIRMED over the live stream, measures CPU per order by process,
GET /products throughput, a bare nameko RPC round trip and event hop, then runs the
invariant checker. Writes bench/results/latest.{json,md,png} and prints the table.
"""

from __future__ import annotations

import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

import psutil  # noqa: E402
import requests  # noqa: E402

from bench import baselines, load, report  # noqa: E402
from common.config import load_config  # noqa: E402
from common.rpc import RpcPool  # noqa: E402
from common.testing import Process, wait_for  # noqa: E402
from tools.check import wait_until_clean  # noqa: E402

RESULTS = Path(__file__).parent / "results"
# How long a phase's orders may take to be delivered after it (make bench's own cluster
# ships and delivers at once; a cluster with the default delays takes 30 s more).
FINAL_TIMEOUT_S = 600


def cluster_processes(amqp_uri: str) -> dict[str, list[psutil.Process]]:
    """The benched cluster's processes by name: services and gateways on our broker
    (test clusters running meanwhile use vhosts of their own, and are left out)."""
    found: dict[str, list[psutil.Process]] = {}
    default = load_config()["AMQP_URI"]
    for proc in psutil.process_iter(["cmdline", "name"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if (proc.info["name"] or "") in ("sh", "dash", "bash"):
            continue  # honcho's `sh -c` wrappers carry the same command line
        try:
            if proc.environ().get("AMQP_URI", default) != amqp_uri:
                continue
        except (psutil.AccessDenied, psutil.NoSuchProcess):
            continue
        if "nameko run" in cmd and ".service" in cmd:
            name = cmd.split()[-1].removesuffix(".service")
        elif "gateway.server" in cmd:
            name = "gateway"
        elif "tools.mailsink" in cmd:
            name = "mail"  # make run's SMTP sink: the cluster's mail server
        else:
            continue
        found.setdefault(name, []).append(proc)
    return found


def infra_processes() -> dict[str, list[psutil.Process]]:
    """RabbitMQ's Erlang VM and PostgreSQL's postmaster (whose backends come and go:
    their CPU is counted through it, see cpu_seconds). Shared with anything else using
    them on this machine, hence a quiet machine for the bench."""
    found: dict[str, list[psutil.Process]] = {}
    procs = list(psutil.process_iter(["name", "ppid"]))
    postgres = {proc.pid for proc in procs if proc.info["name"] == "postgres"}
    for proc in procs:
        if proc.info["name"] == "beam.smp":
            found.setdefault("rabbitmq", []).append(proc)
        elif proc.pid in postgres and proc.info["ppid"] not in postgres:  # the postmaster
            found.setdefault("postgres", []).append(proc)
    return found


def cpu_seconds(processes: dict) -> dict[str, float]:
    """CPU seconds so far by name; a postmaster also counts its ended backends
    (children_*) and its live ones."""
    totals = {}
    for name, procs in processes.items():
        total = 0.0
        for proc in procs:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
                if name == "postgres":
                    total += times.children_user + times.children_system
                    for child in proc.children():
                        with contextlib.suppress(psutil.Error):
                            child_times = child.cpu_times()
                            total += child_times.user + child_times.system
            except psutil.NoSuchProcess:
                pass
        totals[name] = total
    return totals


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


def wait_quiet(processes: dict, cores: float = 0.2, timeout: float = 90.0) -> float:
    """Wait until the cluster uses under `cores` of CPU over a second (start-up, a
    finished phase's last mails), so what is measured next has the machine to itself.
    Returns the last reading."""
    deadline = time.monotonic() + timeout
    last = sum(cpu_seconds(processes).values())
    while True:
        time.sleep(1.0)
        now = sum(cpu_seconds(processes).values())
        used, last = now - last, now
        if used < cores or time.monotonic() > deadline:
            return used


def measured(phase_fn, processes, shop: load.Shop, *args) -> load.Phase:
    """Run a phase; its CPU is counted until every order it placed is DELIVERED (or
    CANCELLED) and the cluster is at rest again, so each order's whole saga is in it:
    shipping, delivery, and the mails a busy notify_svc sends after the last delivery."""
    before = cpu_seconds(processes)
    phase = phase_fn(shop, *args)
    shop.settle(load.accepted_ids(phase), timeout=FINAL_TIMEOUT_S)
    wait_quiet(processes, timeout=FINAL_TIMEOUT_S)
    after = cpu_seconds(processes)
    phase.cpu_s = {name: after[name] - before.get(name, 0) for name in after}
    return phase


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="*", default=[5, 10, 25, 50, 100, 200],
                        help="offered rates (none: saturation only)")
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--warmup", type=float, default=8,
                        help="seconds of orders at 5/s first, not measured (fresh "
                             "connections, caches, the new users' welcome mails)")
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    config = load_config()
    url = os.environ.get("BENCH_URL", f"http://127.0.0.1:{config['GATEWAY_PORT']}")
    requests.get(f"{url}/ready", timeout=5).raise_for_status()

    processes = {**cluster_processes(config["AMQP_URI"]), **infra_processes()}
    wait_quiet(processes)
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
        base = {"rpc": baselines.rpc_round_trip(config["AMQP_URI"]),
                "event_hop": baselines.event_hop(config["AMQP_URI"])}
    finally:
        echo.stop()
    print(f"baselines: {json.dumps(base)}", flush=True)

    shop = setup_shop(url, config, args.users)
    shop.open_streams()
    counter = [0]
    if args.warmup > 0:
        warm = load.fixed_rate(shop, 5, args.warmup, counter)
        shop.settle(load.accepted_ids(warm), timeout=FINAL_TIMEOUT_S)
    phases = []
    for rate in args.rates:
        phase = measured(load.fixed_rate, processes, shop, rate, args.duration, counter)
        phases.append(phase.summary(shop.confirmed_at))
        print(report.row(phases[-1]), flush=True)
    phase = measured(load.saturation, processes, shop, args.clients, args.duration, counter)
    phases.append(phase.summary(shop.confirmed_at))
    print(report.row(phases[-1]), flush=True)
    shop.close()
    checker = RpcPool(config, size=2, timeout=30)
    try:
        verdict = wait_until_clean(checker, timeout=120)
    finally:
        checker.close()
    wait_quiet(processes)
    products = load.products_throughput(url)
    results = {
        "label": args.label, "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "processes": {k: len(v) for k, v in processes.items()}},
        "baselines": base, "phases": phases, "get_products": products,
        "checker": {"violations": verdict.violations, "counts": verdict.counts},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2))
    (RESULTS / "latest.md").write_text(report.markdown(results))
    report.plot(results, RESULTS / "latest.png")
    print(report.markdown(results))
    return 0 if not verdict.violations else 1


if __name__ == "__main__":
    sys.exit(main())

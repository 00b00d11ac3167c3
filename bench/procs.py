"""The benched cluster's processes and their CPU time (psutil)."""

from __future__ import annotations

import contextlib
import os
import time

import psutil

from common.config import load_config


def cluster_processes(amqp_uri: str) -> dict[str, list[psutil.Process]]:
    """The benched cluster's processes by name: services and gateways on our broker
    (test clusters running meanwhile use vhosts of their own, and are left out; so are
    other nameko services, e.g. nameko-examples run beside for comparison)."""
    found: dict[str, list[psutil.Process]] = {}
    default, services = _default_amqp_uri(), set(load_config()["SERVICES"])
    for proc in psutil.process_iter(["cmdline", "name"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if (proc.info["name"] or "") in ("sh", "dash", "bash"):
            continue  # a process manager's `sh -c` wrapper carries the same command line
        try:
            if proc.environ().get("AMQP_URI", default) != amqp_uri:
                continue
        except (psutil.AccessDenied, psutil.NoSuchProcess):
            continue
        if "nameko run" in cmd and cmd.split()[-1].removesuffix(".service") in services:
            name = cmd.split()[-1].removesuffix(".service")
        elif "gateway.server" in cmd:
            name = "gateway"
        elif "tools.mailsink" in cmd:
            name = "mail"  # make run's SMTP sink: the cluster's mail server
        else:
            continue
        found.setdefault(name, []).append(proc)
    return found


def _default_amqp_uri() -> str:
    """config.yml's AMQP_URI for a process with none in its environment. Not ours: the
    bench itself often runs with AMQP_URI set (make bench's vhost), and a process of
    something else on this machine (no AMQP_URI at all) must not pass for the cluster."""
    saved = os.environ.pop("AMQP_URI", None)
    try:
        return load_config()["AMQP_URI"]
    finally:
        if saved is not None:
            os.environ["AMQP_URI"] = saved


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

"""CPU time by process group from /proc, for `make bench-peer` (bench/peer.py).

Groups: the peer's own services (pids given), its PostgreSQL backends (connected to its
database), PostgreSQL's shared processes (postmaster, checkpointer, walwriter, ...),
RabbitMQ's Erlang VM and Redis. Backends come and go: every scan remembers each
process's last reading, so one that ends between two scans loses at most a scan
interval of CPU. The postmaster's whole family (ended children included) is kept
apart as `postgres_whole_cluster`, the method make bench uses (bench/procs.py): on a
machine shared with other PostgreSQL users it counts their backends too.
"""

from __future__ import annotations

import os
import re

TICK = os.sysconf("SC_CLK_TCK")
# "postgres: [cluster: ]USER DB HOST(PORT) STATE"; the shared processes have no client
# address ("postgres: 15/main: logical replication launcher").
_BACKEND = re.compile(r"^postgres: (?:\S+: )?(\S+) (\S+) (\S+\(\d+\)|\[local\])")
SHARED_POSTGRES = "postgres_shared"


def parse_stat(text: str) -> dict:
    """One /proc/PID/stat line -> {"ppid", "cpu_s", "children_cpu_s", "start"}: CPU in
    seconds (user+system; of its waited-for children apart), start in clock ticks
    after boot (with the pid, it names a process: pids are reused)."""
    fields = text.rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return {"ppid": int(fields[1]), "cpu_s": (utime + stime) / TICK,
            "children_cpu_s": (cutime + cstime) / TICK, "start": int(fields[19])}


def classify(comm: str, cmdline: str, database: str) -> str | None:
    """The group of one process, or None for a process not counted (another
    database's backend, anything unrelated). `comm` is /proc/PID/comm, `cmdline` the
    command line with spaces."""
    if comm == "beam.smp" and "rabbit" in cmdline:
        return "rabbitmq"
    if comm == "redis-server":
        return "redis"
    if comm != "postgres":
        return None
    backend = _BACKEND.match(cmdline)
    if backend:
        return "postgres_backends" if backend.group(2) == database else None
    return SHARED_POSTGRES  # the postmaster itself, or an auxiliary process


def group_deltas(base: dict, last: dict) -> dict[str, float]:
    """CPU seconds by group between two readings {(pid, start): (group, cpu_s)}: a
    process absent from `base` started in between and counts whole."""
    out: dict[str, float] = {}
    for key, (group, cpu) in last.items():
        before = base.get(key, (group, 0.0))[1]
        out[group] = out.get(group, 0.0) + max(cpu - before, 0.0)
    return out


def busy_cores_s() -> float:
    """Non-idle CPU seconds of the whole machine so far (/proc/stat, every core)."""
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = cpu[:8]
    return (user + nice + system + irq + softirq + steal) / TICK


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return None


class Tracker:
    """Scans /proc; keeps the last CPU reading of every counted process."""

    def __init__(self, own: dict[str, list[int]], database: str):
        self.own = {pid: name for name, pids in own.items() for pid in pids}
        self.database = database
        self.last: dict[tuple[int, int], tuple[str, float]] = {}
        self._kind: dict[tuple[int, int], tuple[str | None, bool]] = {}  # group, a postgres
        self.postmaster_family = 0.0  # postgres_whole_cluster at the last scan

    def scan(self) -> dict:
        """Read every process once; returns a copy of the readings so far. Also sets
        postmaster_family: every live PostgreSQL process plus the postmaster's ended
        children, whichever database they served."""
        postgres: dict[int, dict] = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            pid = int(name)
            text = _read(f"/proc/{pid}/stat")
            if text is None:
                continue
            stat = parse_stat(text)
            key = (pid, stat["start"])
            if key not in self._kind:
                self._kind[key] = self._classify(pid)
            group, is_postgres = self._kind[key]
            if is_postgres:
                postgres[pid] = stat
            if group is not None:
                self.last[key] = (group, stat["cpu_s"])
        self.postmaster_family = sum(
            s["cpu_s"] + (s["children_cpu_s"] if s["ppid"] not in postgres else 0.0)
            for s in postgres.values())
        return dict(self.last)

    def _classify(self, pid: int) -> tuple[str | None, bool]:
        if pid in self.own:
            return self.own[pid], False
        comm = (_read(f"/proc/{pid}/comm") or "").strip()
        if comm not in ("beam.smp", "redis-server", "postgres"):
            return None, False
        cmdline = (_read(f"/proc/{pid}/cmdline") or "").replace("\0", " ").strip()
        return classify(comm, cmdline, self.database), comm == "postgres"

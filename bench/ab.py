"""A/B helpers for scripts/ab.sh: fresh databases and vhost, a check that a cluster runs
the code of the tree it was started from, and the A/B table of the runs' JSON.

    python -m bench.ab fresh                     # drop bench_* databases, new vhost
    python -m bench.ab check-tree DIR            # the running cluster runs DIR's code
    python -m bench.ab table OUT.md A_NAME B_NAME a1.json b1.json a2.json b2.json ...

The runs' files are named <name>-<n>.json; `table` sorts them by name.
"""

from __future__ import annotations

import os
import statistics
import sys
import urllib.parse
from pathlib import Path

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from common.config import database_url, load_config
from common.dbroles import admin_url

PHASE_METRICS = (  # (label, key in the phase summary), besides CPU by process
    ("accepted/s", "accepted_per_s"), ("confirmed/s", "confirmed_per_s"),
    ("POST p99 ms", "post_p99_ms"), ("placed->CONFIRMED p99 ms", "confirm_p99_ms"),
    ("CPU ms/order, net of rest", "cpu_ms_per_order_net"))
TOTALS = (("PG round trips/order", "pg_round_trips"), ("PG commits/order", "pg_commits"),
          ("AMQP publishes/order", "amqp_publishes"),
          ("AMQP deliveries/order", "amqp_deliveries"), ("SMTP connections/order",
                                                         "smtp_connections"))


def rows_of(phase: dict) -> dict[str, float | None]:
    """The figures an A/B compares for one phase, by label."""
    out = {label: phase.get(key) for label, key in PHASE_METRICS}
    for label, key in TOTALS:
        out[label] = (phase.get("totals_per_order") or {}).get(key)
    cpu = phase.get("cpu_ms_per_order") or {}
    for name in sorted(cpu):
        out[f"CPU ms/order {name}"] = cpu[name]
    out["CPU ms/order all"] = sum(v for v in cpu.values() if v is not None) if cpu else None
    return out


def _mean(values):
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def _fmt(value):
    if value is None:
        return "-"
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}"


def table(runs: dict[str, list[dict]], a: str, b: str) -> str:
    """Markdown: for each phase, each figure's mean and every run of A and of B, and
    B against A in percent."""
    lines = [f"{len(runs[a])} runs of {a} and {len(runs[b])} of {b}, alternated; each cell "
             "is a mean, then every run in order", ""]
    phases = [p["phase"] for p in runs[a][0]["phases"]]
    for name in phases:
        per_run = {side: [rows_of(next((p for p in r["phases"] if p["phase"] == name), {}))
                          for r in runs[side]] for side in (a, b)}
        labels = list(dict.fromkeys(label for side in per_run.values() for rows in side
                                    for label in rows))
        lines += [f"Phase {name}:", "", f"| figure | {a} mean | {a} runs | {b} mean | {b} runs "
                  f"| {b} vs {a} |",
                  "|---|---:|---|---:|---|---:|"]
        for label in labels:
            values = {side: [rows.get(label) for rows in per_run[side]] for side in (a, b)}
            mean_a, mean_b = _mean(values[a]), _mean(values[b])
            change = (f"{100 * (mean_b - mean_a) / mean_a:+.0f}%"
                      if mean_a and mean_b is not None else "-")
            lines.append(f"| {label} | {_fmt(mean_a)} | {', '.join(map(_fmt, values[a]))} | "
                         f"{_fmt(mean_b)} | {', '.join(map(_fmt, values[b]))} | {change} |")
        lines.append("")
    return "\n".join(lines)


def fresh(config: dict) -> None:
    """Drop the services' databases (as the superuser; the cluster's start migrates them
    again) and give the cluster's vhost a clean slate (no queue of the other tree's)."""
    engine = create_engine(admin_url(config), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for service in config["SERVICES"]:
                name = make_url(database_url(config, service)).database
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()
    uri = urllib.parse.urlparse(config["AMQP_URI"])
    vhost = urllib.parse.unquote(uri.path[1:]) if len(uri.path) > 1 else "/"
    if vhost == "/":
        raise SystemExit("[ab] refusing to empty the default vhost '/': set AMQP_URI to a "
                         "vhost of the bench's own")
    api = str(config["RABBIT_MANAGEMENT_URI"]).rstrip("/")
    quoted = urllib.parse.quote(vhost, safe="")
    requests.delete(f"{api}/api/vhosts/{quoted}", timeout=30)
    requests.put(f"{api}/api/vhosts/{quoted}", timeout=30).raise_for_status()
    requests.put(f"{api}/api/permissions/{quoted}/{uri.username or 'guest'}", timeout=30,
                 json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()


def check_tree(config: dict, directory: Path) -> list[str]:
    """Problems showing the running cluster does not run `directory`'s code: each
    process's working directory must be it (nameko run and python -m put the working
    directory first on sys.path, ahead of the editable install's finder), and the
    modules only the running processes import must have been compiled there since the
    worktree was made (PYTHONDONTWRITEBYTECODE unset for the cluster)."""
    from bench.procs import cluster_processes

    directory = directory.resolve()
    problems, tag = [], f"cpython-{sys.version_info.major}{sys.version_info.minor}"
    # A worktree's .git is a file written when it was made; in a main checkout (a .git
    # directory) the editable install points here anyway: only where they run is checked.
    worktree = (directory / ".git").is_file()
    since = (directory / ".git").stat().st_mtime if worktree else 0
    processes = cluster_processes(config["AMQP_URI"])
    if not processes:
        return ["no cluster process found on this AMQP_URI"]
    for name, procs in processes.items():
        for proc in procs:
            if Path(proc.cwd()).resolve() != directory:
                problems.append(f"{name} (pid {proc.pid}) runs in {proc.cwd()}")
        if not worktree:
            continue
        module = {"gateway": "gateway/__pycache__/app", "mail": "tools/__pycache__/__init__"}.get(
            name, f"{name}/__pycache__/service")
        compiled = directory / f"{module}.{tag}.pyc"
        if not compiled.exists() or compiled.stat().st_mtime < since:
            problems.append(f"{name}: no {compiled} compiled since the worktree was made")
    return problems


def main(argv: list[str]) -> int:
    config = load_config()
    if argv[:1] == ["fresh"]:
        fresh(config)
        return 0
    if argv[:1] == ["check-tree"]:
        problems = check_tree(config, Path(argv[1]))
        for problem in problems:
            print(f"[ab] {problem}", file=sys.stderr)
        if not problems:
            print(f"[ab] every cluster process runs {Path(argv[1]).resolve()}'s code")
        return 1 if problems else 0
    if argv[:1] == ["table"]:
        import json

        out, a, b, files = Path(argv[1]), argv[2], argv[3], argv[4:]
        runs = {side: [json.loads(Path(f).read_text()) for f in sorted(files)
                       if os.path.basename(f).startswith(f"{side}-")] for side in (a, b)}
        out.write_text(table(runs, a, b))
        print(out.read_text())
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

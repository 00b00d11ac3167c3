"""Profile every process of a running cluster with py-spy, at once, and summarise.

    .venv/bin/python -m bench.profile [--seconds 15] [--top 40] [--out bench/results/profiles]

Run it while the cluster is under load (`make bench` in another terminal, say). For
each service and the gateway it writes `<name>.txt`: the functions with the most
samples of their own ("self") and with the most samples under them ("inclusive"), as
a share of that process's samples, plus `<name>.raw` (py-spy's collapsed stacks, which
flamegraph tools read). py-spy needs ptrace rights over the processes (root, or
`kernel.yama.ptrace_scope=0`).
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
from pathlib import Path

from bench.procs import cluster_processes
from common.config import load_config

OUT = Path(__file__).parent / "results" / "profiles"


def summarise(raw: Path, top: int) -> str:
    """Self and inclusive shares of the functions in py-spy's collapsed stacks."""
    own, under, total = collections.Counter(), collections.Counter(), 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames, samples = stack.split(";"), int(count)
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):  # a recursive frame counts once per sample
            under[frame] += samples
    if not total:
        return "no samples (was the process busy?)\n"
    lines = [f"samples: {total}", "", "self:"]
    lines += [f"{100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    lines += ["", "inclusive:"]
    lines += [f"{100 * n / total:5.1f}%  {frame}" for frame, n in under.most_common(top)]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    processes = cluster_processes(load_config()["AMQP_URI"])
    if not processes:
        print("no cluster processes found: start one (make run) and load it (make bench)")
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    recorders = {}
    for name, procs in processes.items():
        for n, proc in enumerate(procs):
            label = name if len(procs) == 1 else f"{name}-{n + 1}"
            recorders[label] = subprocess.Popen(
                [py_spy, "record", "--pid", str(proc.pid), "--duration", str(args.seconds),
                 "--format", "raw", "--output", str(args.out / f"{label}.raw"), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for label, recorder in recorders.items():
        _, err = recorder.communicate(timeout=args.seconds + 60)
        raw = args.out / f"{label}.raw"
        if recorder.returncode != 0 or not raw.exists():
            print(f"{label}: py-spy failed: {err.decode(errors='replace').strip()[-300:]}")
            continue
        (args.out / f"{label}.txt").write_text(summarise(raw, args.top))
        print(f"{label}: {args.out / (label + '.txt')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make run`'s process manager: supervisord runs the Procfile, and a crash is restarted.

    python -m tools.supervise [--scale order_svc=2,gateway=2]    # foreground; SIGTERM stops

Every Procfile line becomes a supervisord program: a process that exits unexpectedly
(a crash, a SIGKILL) is started again, at once if it had run a while, with a growing
delay (1 s, 2 s, ...) while it keeps failing at start, and after `START_RETRIES` such
failures left stopped (FATAL) and said so; the others keep running. supervisord
(a well-kept process manager) does the supervising; this module writes its
configuration (`.run/supervisord.conf`) and runs, as a supervisord event listener
(`--listen`), what honcho gave `make run` before: every process's output on one stream,
each line prefixed `HH:MM:SS <process> | `, and a line for each unexpected exit with
its count, also kept in `.run/restarts.json`. A process that crashes after it had
started is restarted at once, every time: supervisord's growing delay is for failed
starts only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

from supervisor import childutils

ROOT = Path(__file__).resolve().parents[1]
RUN_DIR = ROOT / ".run"
START_SECS = 3  # a process up this long has started; exiting before is a failed start
START_RETRIES = 10  # failed starts in a row before giving up (FATAL)
STOP_WAIT_S = 15  # SIGTERM, then SIGKILL after this long (nameko finishes its workers)
PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")


def procfile(path: Path) -> dict[str, str]:
    """`name -> command` of a Procfile, in order."""
    return dict(m.groups() for line in path.read_text().splitlines()
                if (m := PROCFILE_LINE.match(line.strip())))


def parse_scale(text: str) -> dict[str, int]:
    """`"order_svc=2,gateway=2"` -> `{"order_svc": 2, "gateway": 2}`."""
    return {name: int(count) for name, _, count in
            (part.partition("=") for part in text.split(",") if part.strip())}


def supervisord_conf(processes: dict[str, str], scale: dict[str, int], run_dir: Path,
                     python: str, directory: Path = ROOT) -> str:
    """The supervisord configuration for `processes`, run in `directory` (module doc)."""
    sections = [
        "[supervisord]", "nodaemon=true", f"logfile={run_dir / 'supervisord.log'}",
        f"pidfile={run_dir / 'supervisord.pid'}", f"directory={directory}",
        "logfile_maxbytes=10MB", "logfile_backups=2", "",
        f"[unix_http_server]\nfile={run_dir / 'supervisor.sock'}\nchmod=0700", "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "", f"[supervisorctl]\nserverurl=unix://{run_dir / 'supervisor.sock'}", "",
        "[eventlistener:output]",
        f"command={python} -m tools.supervise --listen --run-dir {run_dir}",
        f"directory={ROOT}",
        "events=PROCESS_LOG,PROCESS_STATE_EXITED,PROCESS_STATE_BACKOFF,PROCESS_STATE_FATAL",
        # Its stdout is supervisord's protocol; what it writes for you goes to stderr,
        # which supervisord opens again: a pipe or a terminal (make run pipes into tee).
        "stderr_logfile=/dev/stderr", "stderr_logfile_maxbytes=0",
        "buffer_size=10000", "autorestart=true", "priority=1", "",
    ]
    for name, command in processes.items():
        count = scale.get(name, 1)
        sections += [
            f"[program:{name}]", f"command={command}", f"directory={directory}",
            f"numprocs={count}",
            "process_name=%(program_name)s" + (".%(process_num)d" if count > 1 else ""),
            "autorestart=unexpected", "exitcodes=0", f"startsecs={START_SECS}",
            f"startretries={START_RETRIES}", f"stopwaitsecs={STOP_WAIT_S}",
            "stopsignal=TERM", "stopasgroup=true", "killasgroup=true",
            "stdout_logfile=NONE", "stderr_logfile=NONE",
            "stdout_events_enabled=true", "stderr_events_enabled=true",
            "stdout_capture_maxbytes=0", "",
        ]
    return "\n".join(sections)


def listen(restarts_file: Path) -> None:
    """The event listener: print output with prefixes, count unexpected exits."""
    # Counts so far (this listener may itself have been restarted).
    try:
        restarts: dict[str, int] = json.loads(restarts_file.read_text())
    except (OSError, ValueError):
        restarts = {}
    partial: dict[str, str] = {}
    while True:
        headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
        event = headers["eventname"]
        fields, _, data = payload.partition("\n")
        meta = dict(token.split(":", 1) for token in fields.split())
        name = meta.get("processname", "?")
        if event.startswith("PROCESS_LOG"):
            lines = (partial.pop(name, "") + data).split("\n")
            partial[name] = lines.pop()  # an unfinished line waits for its end
            for line in lines:
                say(name, line)
        elif event == "PROCESS_STATE_EXITED" and partial.get(name):
            say(name, partial.pop(name))  # its last words had no newline
        if event == "PROCESS_STATE_EXITED" and meta.get("expected") == "0":
            restarts[name] = restarts.get(name, 0) + 1
            say("supervise", f"{name} exited unexpectedly (pid {meta.get('pid')}): "
                             f"restarting it, restart #{restarts[name]}")
            restarts_file.write_text(json.dumps(restarts, indent=1) + "\n")
        elif event == "PROCESS_STATE_BACKOFF":
            say("supervise", f"{name} exited within {START_SECS} s of its start: "
                             f"starting it again after a growing delay")
        elif event == "PROCESS_STATE_FATAL":
            say("supervise", f"{name} failed to start {START_RETRIES} times in a row: "
                             f"left stopped (the rest keep running); see its output above")
        childutils.listener.ok(sys.stdout)


def say(name: str, line: str) -> None:
    sys.stderr.write(f"{time.strftime('%H:%M:%S')} {name:<14} | {line}\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procfile", default=str(ROOT / "Procfile"))
    parser.add_argument("--scale", default="", help="name=count,... (SCALE_<NAME> in run.sh)")
    parser.add_argument("--run-dir", default=str(RUN_DIR),
                        help="configuration, socket, restarts.json (default .run)")
    parser.add_argument("--listen", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    run_dir = Path(args.run_dir).resolve()
    if args.listen:
        listen(run_dir / "restarts.json")
        return
    procfile_path = Path(args.procfile).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "restarts.json").write_text("{}\n")
    conf = run_dir / "supervisord.conf"
    conf.write_text(supervisord_conf(procfile(procfile_path), parse_scale(args.scale), run_dir,
                                     sys.executable, directory=procfile_path.parent))
    supervisord = str(Path(sys.executable).parent / "supervisord")
    os.execv(supervisord, [supervisord, "-c", str(conf)])


if __name__ == "__main__":
    main()

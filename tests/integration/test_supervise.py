"""tools.supervise, `make run`'s process manager, with real processes under supervisord."""

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from common.testing import wait_for

ROOT = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not alive: supervisord reaps its children, so this is brief.
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def copy(stream, path: Path) -> None:
    with path.open("ab") as sink:
        for line in stream:
            sink.write(line)
            sink.flush()


@pytest.fixture
def supervised(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text("steady: sleep 600\nvictim: sh -c 'echo hello from the victim; "
                        "exec sleep 600'\n")
    run_dir, output = tmp_path / "run", tmp_path / "output.log"
    # Through a pipe, as `make run` (into tee) does: supervisord opens /dev/stderr again
    # for the listener's lines, which on a regular file would write from offset 0.
    manager = subprocess.Popen(
        [sys.executable, "-m", "tools.supervise", "--procfile", str(procfile),
         "--run-dir", str(run_dir)], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    copier = threading.Thread(target=copy, args=(manager.stdout, output), daemon=True)
    copier.start()

    def pid(name: str) -> int:
        done = subprocess.run([str(Path(sys.executable).parent / "supervisorctl"), "-c",
                               str(run_dir / "supervisord.conf"), "pid", name],
                              capture_output=True, text=True, timeout=10)
        return int(done.stdout.strip()) if done.stdout.strip().isdigit() else 0

    try:
        # RUNNING (up START_SECS): an exit before that is a failed start, not a crash.
        wait_for(lambda: "victim entered RUNNING state" in output.read_text(), timeout=20,
                 message="both processes running")
        yield pid, output, run_dir, manager
    finally:
        manager.send_signal(signal.SIGTERM)
        manager.wait(timeout=30)


def test_a_killed_process_is_restarted_and_the_others_keep_running(supervised):
    pid, output, run_dir, manager = supervised
    steady, victim = pid("steady"), pid("victim")

    os.kill(victim, signal.SIGKILL)

    wait_for(lambda: pid("victim") not in (0, victim), timeout=20,
             message="the victim started again")
    assert alive(pid("victim"))
    assert pid("steady") == steady and alive(steady)
    assert manager.poll() is None
    wait_for(lambda: "restart #1" in output.read_text(), timeout=10,
             message="the restart said")
    log = output.read_text()
    assert f"victim exited unexpectedly (pid {victim})" in log
    assert log.count("victim         | hello from the victim") == 2  # prefixed, twice
    assert json.loads((run_dir / "restarts.json").read_text()) == {"victim": 1}


def test_sigterm_stops_every_process(supervised):
    pid, _output, _run_dir, manager = supervised
    pids = [pid("steady"), pid("victim")]
    manager.send_signal(signal.SIGTERM)
    assert manager.wait(timeout=30) == 0
    wait_for(lambda: not any(alive(p) for p in pids), timeout=10,
             message="every process stopped")

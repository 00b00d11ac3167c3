"""schemathesis against the live gateway: no 5xx and no answer outside /openapi.json.

Two runs of the schemathesis CLI (the same a developer would type), each with the
examples, coverage and fuzzing phases and a fixed seed, checking every answer with
not_a_server_error, status_code_conformance, content_type_conformance and
response_schema_conformance:

1. every operation but GET /events/stream (it never ends) as a fresh customer: the
   customer's own routes for real, the admin routes for their 403s;
2. the admin and catalog operations as the admin, except replaying and purging dead
   letters (other tests of this cluster inspect those queues).

Both print their counts: test cases (one HTTP call each) that schemathesis made and
the failures it found, and the calls the gateway logged meanwhile. FUZZ_MAX_EXAMPLES
(default 8 per operation and phase) and FUZZ_SEED make a deeper or another run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance")
MAX_EXAMPLES = os.environ.get("FUZZ_MAX_EXAMPLES", "8")
SEED = os.environ.get("FUZZ_SEED", "1")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def access_lines(cluster) -> int:
    """How many requests the gateway has logged so far."""
    with open(cluster.processes["gateway"].log_path, errors="replace") as handle:
        return sum('"logger": "gateway.access"' in line for line in handle)


def schemathesis(cluster, token: str, report: Path, *selection: str) -> tuple[dict, str]:
    argv = [str(SCHEMATHESIS), "run", f"{cluster.url}/openapi.json", "--checks", CHECKS,
            "--phases", "examples,coverage,fuzzing", "--max-examples", MAX_EXAMPLES,
            # One worker: hypothesis parses lambdas with ast.parse, and CPython 3.11.7's
            # ast is not thread-safe ("AST constructor recursion depth mismatch").
            "--seed", SEED, "--workers", "1", "--request-timeout", "15",
            "-H", f"Authorization: Bearer {token}",
            "--report", "json", "--report-json-path", str(report), *selection]
    env = {**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"}
    # cwd: schemathesis keeps a .schemathesis/ cache where it runs; not in the checkout.
    done = subprocess.run(argv, capture_output=True, text=True, timeout=240, env=env,
                          cwd=report.parent)
    assert report.exists(), done.stdout[-4000:] + done.stderr[-4000:]
    return json.loads(report.read_text()), done.stdout


def run_and_report(capsys, cluster, name: str, token: str, report: Path,
                   *selection: str) -> None:
    before = access_lines(cluster)
    result, output = schemathesis(cluster, token, report, *selection)
    calls = access_lines(cluster) - before
    cases = result["test_cases"]
    with capsys.disabled():
        print(f"\n[fuzz] {name}: {result['operations']['tested']} operations, "
              f"{cases['generated']} test cases (calls) made, "
              f"{cases['with_failures']} with failures, {cases['unique_failures']} unique "
              f"failures, {len(result['errors'])} errors; the gateway logged {calls} "
              f"requests; {result['running_time']:.0f} s")
    assert cases["generated"] > 0 and result["operations"]["tested"] > 0
    assert (cases["with_failures"], result["failures"], result["errors"]) == (0, [], []), \
        output[-8000:]
    assert result["exit_code"] == 0, output[-8000:]


def test_fuzz_every_operation_as_a_customer(cluster, customer, capsys, tmp_path):
    token = customer["Authorization"].split(" ", 1)[1]
    run_and_report(capsys, cluster, "customer", token, tmp_path / "customer.json",
                   "--exclude-path", "/events/stream")


def test_fuzz_admin_and_catalog_operations_as_the_admin(cluster, admin_token, capsys,
                                                        tmp_path):
    run_and_report(capsys, cluster, "admin", admin_token, tmp_path / "admin.json",
                   "--include-tag", "admin", "--include-tag", "catalog",
                   "--exclude-path-regex", "^/admin/dead-letters/")

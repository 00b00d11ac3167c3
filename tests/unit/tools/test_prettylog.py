"""tools.prettylog: `make logs` turns make run's prefixed JSON lines into readable ones."""

from __future__ import annotations

import json

from tools.prettylog import follow, pretty

RECORD = {"ts": "2026-11-21 23:07:28,841", "level": "INFO", "logger": "order_svc.workflow",
          "message": "order 1a2b: PENDING -> RESERVED", "service": "order_svc",
          "entrypoint": "on_inventory_reserved", "correlation_id": "44c8d251-2d49-46e7",
          "status": 201}


def prefixed(record, proc="order_svc.1") -> str:
    return f"12:00:01 {proc:<15} | {json.dumps(record)}"


def test_a_json_line_becomes_one_readable_line():
    line = pretty(prefixed(RECORD))
    assert line.startswith("12:00:01 order_svc.1")
    assert "INFO" in line and "order 1a2b: PENDING -> RESERVED" in line
    assert "status=201" in line and line.endswith("[on_inventory_reserved 44c8d251]")


def test_a_traceback_follows_indented():
    line = pretty(prefixed({**RECORD, "level": "ERROR", "exc_info": "Traceback\n  boom"}))
    assert line.splitlines()[1:] == ["    Traceback", "      boom"]


def test_other_lines_pass_unchanged():
    for line in ("12:00:02 system  | supervisord started", "plain text", "[1, 2]"):
        assert pretty(line) == line


def test_follow_keeps_one_request_and_raw_only_filters():
    lines = [prefixed(RECORD) + "\n", prefixed({**RECORD, "correlation_id": "other"}) + "\n"]
    assert len(list(follow(lines, request_id="44c8d251-2d49"))) == 1
    assert list(follow(lines, raw=True)) == [line.rstrip("\n") for line in lines]

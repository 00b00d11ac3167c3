"""`make logs`: follow a running `make run`'s output (.run/run.log), made readable.

    tail -F .run/run.log | python -m tools.prettylog [--id REQUEST_ID] [--raw]

`make run` (tools/supervise.py) prefixes every line with the time and the process
(`12:00:01 order_svc.1 | ...`);
the services and the gateway write one JSON object per line. Each JSON line becomes

    12:00:01 order_svc.1     INFO  order 1a2b: PENDING -> RESERVED  [on_inventory_reserved 5f3e9c1a]

(entrypoint, then the first 8 characters of the correlation id); an exception's
traceback follows, indented. Other lines pass unchanged. `--id` keeps only the lines
that mention one request id: one order's path through every service. `--raw` only
filters. No jq needed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Iterator

# "12:00:01 order_svc.1 | payload" (the process name padded to align the bars)
HONCHO = re.compile(r"^(?P<time>\d\d:\d\d:\d\d) (?P<proc>\S+)\s*\| ?(?P<rest>.*)$")
SHOWN = ("ts", "level", "logger", "message", "service", "entrypoint", "correlation_id",
         "exc_info", "taskName")


def pretty(line: str) -> str:
    """One log line, readable; lines that are not JSON objects come back as they were."""
    match = HONCHO.match(line)
    time, proc, payload = (match["time"], match["proc"], match["rest"]) if match \
        else ("", "", line)
    try:
        record = json.loads(payload)
    except ValueError:
        return line
    if not isinstance(record, dict) or "message" not in record:
        return line
    context = " ".join(filter(None, (record.get("entrypoint"),
                                     (record.get("correlation_id") or "")[:8])))
    extras = {k: v for k, v in record.items() if k not in SHOWN and v is not None}
    text = (f"{time or record.get('ts', '')} {proc or record.get('service') or '':<15} "
            f"{record.get('level', ''):<7} {record['message']}")
    if extras:
        text += " " + " ".join(f"{k}={v}" for k, v in extras.items())
    if context:
        text += f"  [{context}]"
    if record.get("exc_info"):
        text += "\n" + "\n".join("    " + part for part in str(record["exc_info"]).splitlines())
    return text


def follow(lines: Iterable[str], request_id: str | None = None, raw: bool = False
           ) -> Iterator[str]:
    """The lines to print: those mentioning `request_id` (all if None), prettified."""
    for line in lines:
        line = line.rstrip("\n")
        if request_id and request_id not in line:
            continue
        yield line if raw else pretty(line)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--id", dest="request_id", help="only lines with this request id")
    parser.add_argument("--raw", action="store_true", help="print lines as they are")
    args = parser.parse_args(argv)
    try:
        for text in follow(sys.stdin, args.request_id, args.raw):
            print(text, flush=True)
    except (KeyboardInterrupt, BrokenPipeError):
        pass


if __name__ == "__main__":
    main()

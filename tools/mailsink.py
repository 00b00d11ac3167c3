"""A local SMTP server that keeps every message as a file: `make run`'s mailbox.

    python -m tools.mailsink --port 1025 --dir .run/mail [--stats-file PATH]

Each message lands in DIR as `<time>-<n>.eml` (open it with any mail client, or read
it: it is text), and one line per message is printed: who it is for and its subject,
`[mail] to ann@example.com: Order 1a2b3c4d confirmed (.run/mail/...eml)`. The subject
is read straight from the header bytes; the message is not parsed.

It counts, and writes as JSON to the stats file (default `DIR/../mailsink-stats.json`,
replaced atomically after every message and at the end of every SMTP session):
`{"connections": n, "messages": m}`, the SMTP connections accepted and the messages
kept since it started (the bench reads it). The file appears once the server accepts
connections: wait for it rather than probing the port (a probe counts).

It listens on loopback only and never relays anything. Tests start it as a process of
its own (it runs asyncio, the services run eventlet) and stop it to make SMTP "down".
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import signal
import sys
import threading
import time
from email.header import decode_header, make_header
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

_SUBJECT = re.compile(rb"^subject:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)
_FOLD = re.compile(rb"\r?\n(?=[ \t])")


def subject_of(data: bytes) -> str:
    """The decoded Subject header of a raw message ('' when it has none)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        end = data.find(b"\n\n")
    match = _SUBJECT.search(data, 0, end if end >= 0 else len(data))
    if match is None:
        return ""
    text = _FOLD.sub(b"", match.group(1)).strip().decode("utf-8", "replace")
    if "=?" in text:                         # RFC 2047 encoded words
        with contextlib.suppress(ValueError, LookupError):   # malformed: shown raw
            text = str(make_header(decode_header(text)))
    return text


class Stats:
    """Connection and message counters, kept in a JSON file replaced atomically.
    Used on the server's event loop thread only; counting starts with `open()`."""

    def __init__(self, path: Path):
        self.path, self.connections, self.messages = path, 0, 0
        self.counting = False
        self._tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")

    def open(self) -> None:
        self.counting = True
        self.write()

    def write(self) -> None:
        self._tmp.write_text(json.dumps({"connections": self.connections,
                                         "messages": self.messages}))
        os.replace(self._tmp, self.path)


class KeepToFiles:
    """aiosmtpd handler: write each message to a file, say so, count it."""

    def __init__(self, directory: Path, stats: Stats):
        self.directory, self.stats = directory, stats
        self.counter = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        data = envelope.original_content or envelope.content
        path = self.directory / f"{time.strftime('%Y%m%d-%H%M%S')}-{next(self.counter):05d}.eml"
        path.write_bytes(data)
        print(f"[mail] to {', '.join(envelope.rcpt_tos)}: {subject_of(data)} ({path})",
              flush=True)
        self.stats.messages += 1
        self.stats.write()
        return "250 Message accepted for delivery"


class CountingSMTP(SMTP):
    """aiosmtpd's SMTP session, counted in its handler's stats."""

    def connection_made(self, transport):
        stats = self.event_handler.stats
        if self.transport is None and stats.counting:   # not STARTTLS's second call
            stats.connections += 1
        super().connection_made(transport)

    def connection_lost(self, error):
        super().connection_lost(error)
        if self.event_handler.stats.counting:
            self.event_handler.stats.write()


class CountingController(Controller):
    def factory(self):
        return CountingSMTP(self.handler, **self.SMTP_kwargs)


def main(argv: list[str] | None = None, handler_class: type = KeepToFiles) -> int:
    """Run until SIGINT/SIGTERM; `handler_class(directory, stats)` handles the mail."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", default=".run/mail")
    parser.add_argument("--stats-file", default=None,
                        help="where the counters go (default: DIR/../mailsink-stats.json)")
    args = parser.parse_args(argv)
    directory = Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    stats = Stats(Path(args.stats_file) if args.stats_file
                  else directory.resolve().parent / "mailsink-stats.json")
    controller = CountingController(handler_class(directory, stats), hostname=args.host,
                                    port=args.port)
    controller.start()
    # Count from here (the controller's own check that the server is up is not a
    # client), on the loop's thread like every other write; the file appears now.
    controller.loop.call_soon_threadsafe(stats.open)
    print(f"[mail] SMTP sink on {args.host}:{args.port}, keeping mail in {directory}/, "
          f"counting in {stats.path}", flush=True)
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

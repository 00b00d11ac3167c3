"""A local SMTP server that keeps every message as a file: `make run`'s mailbox.

    python -m tools.mailsink --port 1025 --dir .run/mail

Each message lands in DIR as `<time>-<n>.eml` (open it with any mail client, or read
it: it is text), and one line per message is printed: who it is for and its subject.
It listens on loopback only and never relays anything. Tests start it as a process of
its own (it runs asyncio, the services run eventlet) and stop it to make SMTP "down".
"""

from __future__ import annotations

import argparse
import email
import email.policy
import itertools
import signal
import sys
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller


class KeepToFiles:
    """aiosmtpd handler: write each message to a file and say so."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.counter = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{next(self.counter):05d}.eml"
        path = self.directory / name
        path.write_bytes(envelope.original_content or envelope.content)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        print(f"[mail] to {', '.join(envelope.rcpt_tos)}: {message['subject']} ({path})",
              flush=True)
        return "250 Message accepted for delivery"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", default=".run/mail")
    args = parser.parse_args(argv)
    directory = Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    controller = Controller(KeepToFiles(directory), hostname=args.host, port=args.port)
    controller.start()
    print(f"[mail] SMTP sink on {args.host}:{args.port}, keeping mail in {directory}/",
          flush=True)
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

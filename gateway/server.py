"""`python -m gateway.server`: serve the gateway with eventlet.wsgi.

Listens on GATEWAY_HOST:GATEWAY_PORT. SIGTERM and SIGINT stop accepting, let the
requests in flight finish, close the RPC pools and exit 0 (a second signal stops
without waiting).
"""

import eventlet

# First statement: sockets, threads and time must be green before anything imports them.
eventlet.monkey_patch()

import logging  # noqa: E402
import logging.config  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402

import eventlet.wsgi  # noqa: E402
from eventlet.hubs import get_hub, trampoline  # noqa: E402

from common.config import load_config  # noqa: E402
from common.logging import set_process_service  # noqa: E402
from gateway import create_app  # noqa: E402
from gateway.state import EXTENSION  # noqa: E402

log = logging.getLogger("gateway.server")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _stop_on_signals(server, received: list[str]) -> None:
    """On SIGTERM/SIGINT, throw SystemExit into the `server` greenlet.

    eventlet.wsgi.server ends its accept loop on SystemExit and waits for the
    requests in flight; a second signal during that wait cuts it short. A Python
    signal handler would run in whatever green thread the signal lands in (a
    request, or the hub inside its poll), and the hub would not wake for work it
    schedules. So the handlers do nothing, and the interpreter's wakeup fd carries
    each signal number to a green thread that is woken like any socket reader.
    """
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end)
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda *_: None)

    def watch() -> None:
        while True:
            trampoline(read_end, read=True)
            for signum in os.read(read_end, 64):
                if signum in STOP_SIGNALS:
                    received.append(signal.Signals(signum).name)
                    get_hub().schedule_call_global(0, server.throw, SystemExit(0))

    eventlet.spawn_n(watch)


def main() -> None:
    """Load config, set up logging, and serve until SIGTERM/SIGINT."""
    config = load_config()
    logging.config.dictConfig(config["LOGGING"])
    set_process_service("gateway")
    app = create_app(config)
    host, port = config["GATEWAY_HOST"], int(config["GATEWAY_PORT"])
    sock = eventlet.listen((host, port), reuse_port=True)
    received: list[str] = []
    _stop_on_signals(eventlet.getcurrent(), received)
    log.info("gateway listening on http://%s:%s", host, port)
    try:
        # log_output=False: context.py writes a JSON access line per request instead.
        # Header names go out as the app spells them (X-Request-ID, WWW-Authenticate).
        # socket_timeout drops idle keep-alive connections and stalled clients.
        eventlet.wsgi.server(sock, app, log_output=False, socket_timeout=60,
                             capitalize_response_headers=False)
    except SystemExit:
        pass  # a second signal while in-flight requests were finishing
    finally:
        app.extensions[EXTENSION].close()
        log.info("gateway stopped", extra={"signal": ",".join(received) or None})


if __name__ == "__main__":
    main()

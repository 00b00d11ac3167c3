"""`python -m gateway.server`: serve the gateway with eventlet.wsgi.

Listens on GATEWAY_HOST:GATEWAY_PORT. Every connection is served by a green thread,
at most GATEWAY_MAX_CONNECTIONS (default 2000) at once: open live streams
(GET /events/stream) hold one each but cost next to nothing while they wait, so they
do not keep ordinary requests waiting. The live stream's broker feed starts with the
server. SIGTERM and SIGINT stop accepting, end the open streams, let the requests in
flight finish, close the RPC pools and exit 0 (a second signal stops without waiting).
"""

import eventlet

# First statement: sockets, threads and time must be green before anything imports them.
eventlet.monkey_patch()

import logging  # noqa: E402
import logging.config  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
from collections.abc import Callable  # noqa: E402

import eventlet.wsgi  # noqa: E402
from eventlet.hubs import get_hub, trampoline  # noqa: E402

from common.config import load_config  # noqa: E402
from common.logging import set_process_service  # noqa: E402
from gateway import create_app  # noqa: E402
from gateway.protocol import GatewayProtocol  # noqa: E402
from gateway.revocations import DEFAULT_POLL_S  # noqa: E402
from gateway.state import EXTENSION  # noqa: E402

log = logging.getLogger("gateway.server")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
DEFAULT_MAX_CONNECTIONS = 2000
# File descriptors beyond the client connections: RPC proxies, the stream feed, logs.
SPARE_FDS = 256


def _raise_fd_limit(connections: int) -> None:
    """Lift the soft open-files limit (often 1024) to what `connections` need, if the
    hard limit allows; a warning otherwise."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + SPARE_FDS
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            target = soft
        if target < wanted:
            log.warning("open-files limit %s is below the %s that %s connections need",
                        target, wanted, connections)


def _stop_on_signals(server, received: list[str],
                     on_stop: Callable[[], None] | None = None) -> None:
    """On SIGTERM/SIGINT, call `on_stop` and throw SystemExit into the `server` greenlet.

    eventlet.wsgi.server ends its accept loop on SystemExit and waits for the
    requests in flight; a second signal during that wait cuts it short. A Python
    signal handler would run in whatever green thread the signal lands in (a
    request, or the hub inside its poll), and the hub would not wake for work it
    schedules. So the handlers do nothing, and the interpreter's wakeup fd carries
    each signal number to a green thread that is woken like any socket reader.
    `on_stop` ends the open live streams: they would otherwise never finish.
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
                    if on_stop is not None:
                        try:
                            on_stop()
                        except Exception:
                            log.exception("stopping the live streams failed")

    eventlet.spawn_n(watch)


def main() -> None:
    """Load config, set up logging, and serve until SIGTERM/SIGINT."""
    config = load_config()
    logging.config.dictConfig(config["LOGGING"])
    set_process_service("gateway")
    app = create_app(config)
    gateway = app.extensions[EXTENSION]
    host, port = config["GATEWAY_HOST"], int(config["GATEWAY_PORT"])
    max_connections = int(config.get("GATEWAY_MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS))
    _raise_fd_limit(max_connections)
    sock = eventlet.listen((host, port), reuse_port=True)
    received: list[str] = []
    _stop_on_signals(eventlet.getcurrent(), received, on_stop=gateway.stream.close)
    gateway.stream.start()  # subscribed before the first stream: nothing is missed
    # Revoked sessions and clients, asked of user_svc every REVOCATION_POLL_S; a revoked
    # session's open streams end at once. Through /ready's pool, not the requests' one:
    # while user_svc is away, each look would renew that pool's cached "not running" and
    # turn the first requests after its return into 503s.
    eventlet.spawn_n(gateway.revocations.poll_forever,
                     lambda since: gateway.ready_rpc.call("user_svc", "revocations", since),
                     float(config.get("REVOCATION_POLL_S", DEFAULT_POLL_S)),
                     gateway.stream.close_sessions)
    log.info("gateway listening on http://%s:%s", host, port)
    try:
        # log_output=False: context.py writes a JSON access line per request instead.
        # Header names go out as the app spells them (X-Request-ID, WWW-Authenticate).
        # socket_timeout drops idle keep-alive connections and stalled clients (a live
        # stream only writes, so it is not idle in this sense). max_size bounds the
        # connections served at once, live streams included (routes/events.py keeps
        # STREAM_MAX_OPEN below it, so ordinary requests always find room).
        # protocol: eventlet's own refusals (URL or headers too long) in the error format.
        eventlet.wsgi.server(sock, app, log_output=False, socket_timeout=60,
                             capitalize_response_headers=False, max_size=max_connections,
                             protocol=GatewayProtocol)
    except SystemExit:
        pass  # a second signal while in-flight requests were finishing
    finally:
        gateway.close()
        log.info("gateway stopped", extra={"signal": ",".join(received) or None})


if __name__ == "__main__":
    main()

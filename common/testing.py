"""Helpers for the project's tests and for anyone extending it with pytest.

Databases: every tier (`TEST_TIER`: unit, integration, e2e) gets its own databases,
`test_<tier>_<name>`, built from the service's Alembic migrations, so the tiers run
in parallel without sharing state. RabbitMQ isolation comes from a vhost per test
(nameko's `rabbit_config` fixture) or per e2e session (`temporary_vhost`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager, suppress
from urllib.parse import quote, urlparse

import psycopg2.extensions
import requests
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from common import events, queues
from common.broker import addresses
from common.config import ROOT, load_config
from common.dbroles import admin_url
from common.migrate import create_database, drop_database, migrate, upgrade


def tier() -> str:
    return os.environ.get("TEST_TIER", "local")


def test_database_url(name: str) -> str:
    """URL of this tier's test database `name` on the configured server."""
    base = load_config()["POSTGRES_URL"].rstrip("/")
    return f"{base}/test_{tier()}_{name}"


def migrated_database(service: str) -> str:
    """A fresh database for `service`, brought to head by its migrations."""
    url = test_database_url(service)
    drop_database(url)
    create_database(url)
    upgrade(service, url)
    return url


def role_database_url(service: str) -> str:
    """This tier's database for `service`, reached as the service's own role (user =
    service name, password DB_PASSWORD_<SERVICE> if set), as the services run in production."""
    password = os.environ.get(f"DB_PASSWORD_{service.upper()}") or None
    url = make_url(test_database_url(service)).set(username=service, password=password)
    return url.render_as_string(hide_password=False)


def migrated_role_database(service: str) -> str:
    """Like migrated_database, but owned by the service's role, which alone may connect
    (common.dbroles, as `make run` does); returns the role's URL."""
    drop_database(test_database_url(service))
    url = role_database_url(service)
    migrate(service, url, admin_url(load_config()))
    return url


def fresh_database(name: str, metadata=None) -> str:
    """This tier's database `name`, made anew; with the tables of `metadata` if given
    (test-only models, which have no migrations)."""
    url = test_database_url(name)
    drop_database(url)
    create_database(url)
    if metadata is not None:
        engine = create_engine(url)
        try:
            metadata.create_all(engine)
        finally:
            engine.dispose()
    return url


def truncate_all(url: str) -> None:
    """Empty every table but Alembic's, between tests."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            tables = conn.scalars(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'")).all()
            if tables:
                conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)
                                  + " RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


@contextmanager
def clean_session(url: str):
    """A session on the database at `url`, emptied first (the unit tiers' fixture)."""
    truncate_all(url)
    engine = create_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield session
    finally:
        engine.dispose()


def wait_for(condition: Callable[[], object], timeout: float = 10.0,
             interval: float = 0.05, message: str = "condition") -> object:
    """Poll `condition` until it returns something truthy; AssertionError at `timeout`."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as exc:  # not ready yet: keep the last reason for the report
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}"
                         + (f" (last error: {last_error!r})" if last_error else ""))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def temporary_vhost(management_uri: str, amqp_uri: str):
    """A RabbitMQ vhost for one test session, prepared as `make migrate` prepares one
    (common.queues); yields its AMQP URI (every address of a `;`-separated list, on
    the new vhost) and deletes it after."""
    api = urlparse(management_uri)
    auth = (api.username or "guest", api.password or "guest")
    base = f"{api.scheme}://{api.hostname}:{api.port or 15672}/api"
    name = f"test_{tier()}_{uuid.uuid4().hex[:8]}"
    nodes = [urlparse(address) for address in addresses(amqp_uri)]
    requests.put(f"{base}/vhosts/{quote(name, safe='')}", auth=auth, timeout=10).raise_for_status()
    requests.put(f"{base}/permissions/{quote(name, safe='')}/{nodes[0].username or 'guest'}",
                 json={"configure": ".*", "write": ".*", "read": ".*"}, auth=auth,
                 timeout=10).raise_for_status()
    uri = ";".join(f"{node.scheme}://{node.netloc}/{quote(name, safe='')}" for node in nodes)
    try:
        queues.prepare({**load_config(), "AMQP_URI": uri,
                        "RABBIT_MANAGEMENT_URI": management_uri})
        yield uri
    finally:
        requests.delete(f"{base}/vhosts/{quote(name, safe='')}", auth=auth, timeout=10)


class Process:
    """A cluster process (service or gateway) started as `make run` would start it."""

    def __init__(self, name: str, argv: list[str], env: dict, log_dir: str):
        self.name, self.argv, self.env = name, argv, env
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.popen: subprocess.Popen | None = None

    def start(self) -> Process:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps writing to it
        self.popen = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=log,
                                      stderr=subprocess.STDOUT)
        return self

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.popen is None or self.popen.poll() is not None:
            return self.popen.returncode if self.popen else None
        self.popen.terminate()
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait(5)

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(5)

    def log_tail(self, lines: int = 40) -> str:
        try:
            with open(self.log_path, errors="replace") as handle:
                return "".join(handle.readlines()[-lines:])
        except OSError:
            return ""


def service_process(service: str, env: dict, log_dir: str) -> Process:
    bin_dir = os.path.dirname(sys.executable)
    return Process(service, [os.path.join(bin_dir, "nameko"), "run", "--config", "config.yml",
                             f"{service}.service"], env, log_dir)


def gateway_process(env: dict, log_dir: str) -> Process:
    return Process("gateway", [sys.executable, "-m", "gateway.server"], env, log_dir)


class TcpProxy:
    """A loopback TCP proxy whose link can be cut and restored: a real outage.

    Point a client at `proxy.port` instead of the server's; `cut()` drops every
    connection and refuses new ones until `restore()`. Needs the eventlet hub (the
    test process is monkey-patched).
    """

    def __init__(self, upstream_host: str, upstream_port: int):
        import eventlet

        self._eventlet = eventlet
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self.refused = 0
        self._sockets: list = []
        self._pipes: list = []
        self._server = None
        self._acceptor = None

    def start(self) -> TcpProxy:
        self._server = self._eventlet.listen(("127.0.0.1", self.port))
        self._acceptor = self._eventlet.spawn(self._accept, self._server)
        return self

    def _accept(self, server):
        while True:
            try:
                client, _ = server.accept()
            except (OSError, EOFError):
                return
            try:
                upstream = self._eventlet.connect(self.upstream)
            except OSError:
                client.close()
                continue
            self._sockets += [client, upstream]
            self._pipes += [self._eventlet.spawn(self._pipe, client, upstream),
                            self._eventlet.spawn(self._pipe, upstream, client)]

    @staticmethod
    def _pipe(source, target):
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except (OSError, EOFError):
            pass
        finally:
            for sock in (source, target):
                with suppress(OSError):
                    sock.close()

    def cut(self) -> None:
        """Drop every open connection and close the port (new connects are refused)."""
        if self._acceptor is not None:
            self._acceptor.kill()
        if self._server is not None:
            self._server.close()
        # shutdown, not close: the pipes blocked on these sockets see EOF and close them.
        for sock in self._sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._sockets = []

    def restore(self) -> None:
        self.start()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Cut for good and stop every green thread: nothing may keep reading a file
        descriptor that the OS will hand to someone else next (eventlet refuses two
        readers of one descriptor)."""
        self.cut()
        for thread in self._pipes:
            thread.kill()
        self._pipes = []

    def can_connect(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            return True
        except OSError:
            return False


def order_event(kind: type[events.OrderSnapshot], **fields) -> events.OrderSnapshot:
    """An `order.*` event of `kind` with a plausible snapshot (one line of two teas at
    450 cents, status the one `kind` announces); `fields` override any of it."""
    status = next((status for status, announce in events.ORDER_TRANSITIONS.items()
                   if announce is kind), "PENDING")
    snapshot = {"order_id": "o1", "user_id": "u1", "user_email": "ann@example.com",
                "status": status,
                "items": [{"sku": "TEA", "name": "Tea", "quantity": 2, "unit_price_cents": 450}],
                "total_cents": 900, "currency": "USD"}
    if kind is events.OrderCreated:
        snapshot["payment_token"] = "tok_ok"
    return kind(**{**snapshot, **fields})


# ---- round trips -----------------------------------------------------------------------

class RoundTrips:
    """What `round_trips` counted: statements, and transactions (each a BEGIN that
    psycopg2 sends before its first statement, and a COMMIT or ROLLBACK after)."""

    statements = 0
    transactions = 0

    @property
    def total(self) -> int:
        return self.statements + 2 * self.transactions


@contextmanager
def round_trips(session: Session):
    """A block's PostgreSQL round trips through `session`, counted as pg_stat_statements
    counts them: `with round_trips(session) as count: ...`, then `count.total`. A
    statement in autocommit (common.db.one_statement) opens no transaction. The session
    must have no transaction under way when the block starts (commit it first)."""
    count, engine = RoundTrips(), session.get_bind()

    def before_execute(conn, cursor, statement, parameters, context, executemany):
        dbapi_connection = conn.connection.dbapi_connection
        count.statements += 1
        if (not dbapi_connection.autocommit
                and dbapi_connection.status == psycopg2.extensions.STATUS_READY):
            count.transactions += 1

    event.listen(engine, "before_cursor_execute", before_execute)
    try:
        yield count
    finally:
        event.remove(engine, "before_cursor_execute", before_execute)

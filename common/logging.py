"""JSON log lines that carry the service, the entrypoint and the correlation id.

The correlation id is the gateway's request id (`X-Request-ID`). It travels in the
nameko context (`correlation_id`) through RPC and event headers, and in every event
envelope, so one request can be followed through every service's log.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextlib import contextmanager

from eventlet.corolocal import local
from nameko.extensions import DependencyProvider
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

CORRELATION_KEY = "correlation_id"

# `scheme://user:password@`: libraries log broker and database URLs, and nameko hides
# only the first password of a `;`-separated failover list.
URL_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s;\"]*:)[^@\s;/\"]+@")

# Greenlet-local: every nameko worker and every gateway request is its own greenlet.
_current = local()


def set_context(correlation_id: str | None = None, service: str | None = None,
                entrypoint: str | None = None) -> None:
    """Bind the log context of the current greenlet."""
    _current.correlation_id = correlation_id
    _current.service = service
    _current.entrypoint = entrypoint


@contextmanager
def correlated(correlation_id: str | None):
    """Log under `correlation_id` for a while (a timer working for many requests)."""
    previous = getattr(_current, "correlation_id", None)
    _current.correlation_id = correlation_id or previous
    try:
        yield
    finally:
        _current.correlation_id = previous


def clear_context() -> None:
    set_context(None, None, None)


def current_correlation_id() -> str | None:
    return getattr(_current, "correlation_id", None)


def new_correlation_id() -> str:
    return str(uuid.uuid4())


class ContextFilter(logging.Filter):
    """Adds `service`, `entrypoint` and `correlation_id` to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = getattr(_current, "correlation_id", None)
        record.service = getattr(_current, "service", None) or _process_service
        record.entrypoint = getattr(_current, "entrypoint", None)
        return True


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: time, level, logger, message and the context."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "fmt", "%(asctime)s %(levelname)s %(name)s %(message)s "
                   "%(service)s %(entrypoint)s %(correlation_id)s")
        kwargs.setdefault("rename_fields", {"asctime": "ts", "levelname": "level",
                                            "name": "logger"})
        super().__init__(*args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        return hide_passwords(super().format(record))


def hide_passwords(text: str) -> str:
    """`text` with the password of every `scheme://user:password@` URL in it as `***`."""
    return URL_PASSWORD.sub(r"\1***@", text)


_process_service: str | None = None


def set_process_service(name: str) -> None:
    """Name the process in log lines written outside any worker (start-up, relays)."""
    global _process_service
    _process_service = name


class LogContext(DependencyProvider):
    """Declare on every service: binds the log context for each worker.

    A worker without a correlation id (a timer, a start-up hook) gets a fresh one,
    which is also put in its nameko context so its RPC calls and events carry it.
    """

    def setup(self):
        set_process_service(self.container.service_name)

    def worker_setup(self, worker_ctx):
        correlation_id = worker_ctx.data.get(CORRELATION_KEY)
        if not correlation_id:
            correlation_id = new_correlation_id()
            worker_ctx.data[CORRELATION_KEY] = correlation_id
        set_context(correlation_id, self.container.service_name,
                    worker_ctx.entrypoint.method_name)

    def worker_teardown(self, worker_ctx):
        clear_context()

    def get_dependency(self, worker_ctx):
        return worker_ctx.data.get(CORRELATION_KEY)

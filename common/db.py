"""Database plumbing shared by the services.

Each service declares its own `Base` in models.py and `db = DatabaseSession(Base)` on
its nameko class; nameko-sqlalchemy finds the URL under `DB_URIS["<service>:Base"]`.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from datetime import UTC, datetime

import nameko_sqlalchemy
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

# pre_ping: a pooled connection that died with a PostgreSQL restart is replaced,
# not handed to a worker.
ENGINE_OPTIONS = {"pool_pre_ping": True}
# Workers: up to MAX_WORKERS (10) at once, but only a few connections kept open: six
# services (and their test clusters) share one PostgreSQL's 100 connection slots.
WORKER_POOL = {"pool_size": 4, "max_overflow": 8}
# Background threads (outbox relay, metrics sampling) need one connection at a time.
BACKGROUND_POOL = {"pool_size": 1, "max_overflow": 2}


class DatabaseSession(nameko_sqlalchemy.DatabaseSession):
    """nameko-sqlalchemy's per-worker session, with engine defaults that survive restarts.

    Objects stay readable after commit (`expire_on_commit=False`): entrypoints commit,
    then serialise what they wrote.
    """

    def __init__(self, declarative_base, session_options=None, engine_options=None):
        super().__init__(
            declarative_base,
            session_options={"expire_on_commit": False, **(session_options or {})},
            engine_options={**ENGINE_OPTIONS, **WORKER_POOL, **(engine_options or {})},
        )


    def worker_teardown(self, worker_ctx):
        # Closing rolls back; on a connection the database just dropped (a restart)
        # that raises, and nameko kills the whole service for an error in a teardown.
        session = self.sessions.pop(worker_ctx, None)
        if session is None:
            return
        try:
            session.close()
        except SQLAlchemyError as exc:
            log.warning("database connection lost while closing a session: %s", exc)
            with contextlib.suppress(SQLAlchemyError):
                session.invalidate()


def engine_for(config: dict, service: str, declarative_base) -> Engine:
    """An engine on the same URL the service's DatabaseSession uses."""
    url = config["DB_URIS"][f"{service}:{declarative_base.__name__}"]
    return create_engine(url, **ENGINE_OPTIONS, **BACKGROUND_POOL)


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())

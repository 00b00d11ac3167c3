"""Database plumbing shared by the services.

Each service declares its own `Base` in models.py and `db = DatabaseSession(Base)` on
its nameko class; nameko-sqlalchemy finds the URL under `DB_URIS["<service>:Base"]`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import nameko_sqlalchemy
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

# pre_ping: a pooled connection that died with a PostgreSQL restart is replaced,
# not handed to a worker.
ENGINE_OPTIONS = {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10}


class DatabaseSession(nameko_sqlalchemy.DatabaseSession):
    """nameko-sqlalchemy's per-worker session, with engine defaults that survive restarts.

    Objects stay readable after commit (`expire_on_commit=False`): entrypoints commit,
    then serialise what they wrote.
    """

    def __init__(self, declarative_base, session_options=None, engine_options=None):
        super().__init__(
            declarative_base,
            session_options={"expire_on_commit": False, **(session_options or {})},
            engine_options={**ENGINE_OPTIONS, **(engine_options or {})},
        )


def engine_for(config: dict, service: str, declarative_base) -> Engine:
    """An engine on the same URL the service's DatabaseSession uses."""
    url = config["DB_URIS"][f"{service}:{declarative_base.__name__}"]
    return create_engine(url, **ENGINE_OPTIONS)


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())

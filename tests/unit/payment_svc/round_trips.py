"""A handler's PostgreSQL round trips, counted as pg_stat_statements counts them.

Every statement is one; so are the BEGIN psycopg2 sends before the first statement of
a transaction and the COMMIT (or ROLLBACK) that ends it. A statement run in autocommit
(common.db.one_statement) opens no transaction. Shared by the services' unit tests.
"""

from __future__ import annotations

import contextlib

import psycopg2.extensions
from sqlalchemy import event
from sqlalchemy.orm import Session


class Count:
    statements = 0
    transactions = 0

    @property
    def total(self) -> int:
        return self.statements + 2 * self.transactions


@contextlib.contextmanager
def round_trips(session: Session):
    """`with round_trips(session) as count: ...`; then `count.total`. The session must
    have no transaction under way when the block starts (commit it first)."""
    count, engine = Count(), session.get_bind()

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

"""One PostgreSQL role per service, which alone may connect to the service's database.

    provision(admin_url(config), database_url(config, "user_svc"))

Run as the superuser of POSTGRES_URL (common.migrate does, at every `make run`), for a
service URL such as `postgresql://user_svc@127.0.0.1:5432/user_svc`:

1. the role named by the URL's user exists, with LOGIN and the URL's password (a new
   role gets none when the URL has none: trust auth, as on a developer's machine and
   in compose);
2. the database exists and that role owns it, and every table, sequence, view and type
   in its `public` schema (a database migrated as the superuser before is handed over);
3. `CONNECT` and `TEMPORARY` are revoked from PUBLIC: no other role, another service's
   included, can even open a session there (superusers always can).

Then the migrations run as the role, so what they create is the role's. Everything
is idempotent and safe to run concurrently with another migrate. A URL that logs in
as the admin user itself is left alone (only the database is created): the test tiers'
own databases work that way.
"""

from __future__ import annotations

import re

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError

# Quoted anyway, but a role or database name outside this is a typo worth refusing.
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_DUPLICATE_OBJECT = "42710"
_OWNED_RELATIONS = """
    SELECT c.relkind, c.relname FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
      AND pg_get_userbyid(c.relowner) <> :role
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid
                      AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))
"""
_OWNED_TYPES = """
    SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'r')
      AND pg_get_userbyid(t.typowner) <> :role
"""
_ALTER = {"r": "TABLE", "p": "TABLE", "f": "FOREIGN TABLE", "v": "VIEW",
          "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}


def admin_url(config: dict, database: str = "postgres") -> URL:
    """The superuser connection of POSTGRES_URL, on `database`."""
    return make_url(str(config["POSTGRES_URL"]).rstrip("/") + "/" + database)


def _name(value: str | None, what: str) -> str:
    if value is None or _NAME.fullmatch(value) is None:
        raise ValueError(f"{what} {value!r} is not a plain PostgreSQL name "
                         "(lower-case letters, digits, underscores)")
    return value


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(name)


def provision(admin: str | URL, service_url: str | URL) -> str | None:
    """Role, ownership and CONNECT rights for `service_url` (see the module docstring).

    Returns the role's name, or None when the URL logs in as the admin user.
    """
    admin, target = make_url(admin), make_url(service_url)
    database = _name(target.database, "database")
    role = target.username
    server = create_engine(admin.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            if role in (None, admin.username):
                _create_database(conn, database, owner=None)
                return None
            _ensure_role(conn, _name(role, "role"), target.password)
            _create_database(conn, database, owner=role)
            q_db, q_role = _quote(conn, database), _quote(conn, role)
            conn.execute(text(f"ALTER DATABASE {q_db} OWNER TO {q_role}"))
            conn.execute(text(f"REVOKE ALL ON DATABASE {q_db} FROM PUBLIC"))
            conn.execute(text(f"GRANT CONNECT, TEMPORARY ON DATABASE {q_db} TO {q_role}"))
    finally:
        server.dispose()
    _hand_over_objects(admin.set(database=database), role)
    return role


def _ensure_role(conn: Connection, role: str, password: str | None) -> None:
    q_role = _quote(conn, role)
    exists = conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
    if not exists:
        try:
            conn.execute(text(f"CREATE ROLE {q_role} LOGIN"))
        except DBAPIError as exc:  # another migrate created it between our check and now
            if getattr(exc.orig, "pgcode", None) != _DUPLICATE_OBJECT:
                raise
    # psycopg2 interpolates parameters on the client, so a bound password works in DDL.
    # No password in the URL leaves the role's as it is (none, for a new role): the
    # service may get one from PGPASSWORD or ~/.pgpass, which we must not break.
    if password:
        conn.execute(text(f"ALTER ROLE {q_role} WITH LOGIN PASSWORD :p"), {"p": password})


def _create_database(conn: Connection, database: str, owner: str | None) -> bool:
    if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": database}):
        return False
    owned = f" OWNER {_quote(conn, owner)}" if owner else ""
    conn.execute(text(f"CREATE DATABASE {_quote(conn, database)}{owned}"))
    return True


def _hand_over_objects(url: URL, role: str) -> None:
    """ALTER ... OWNER TO role for what others own in `public` (REASSIGN OWNED cannot
    take objects from the bootstrap superuser). Sequences that belong to a column move
    with their table, so they are skipped."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            q_role = _quote(conn, role)
            for kind, name in conn.execute(text(_OWNED_RELATIONS), {"role": role}).all():
                conn.execute(text(f"ALTER {_ALTER[kind]} public.{_quote(conn, name)} "
                                  f"OWNER TO {q_role}"))
            for (name,) in conn.execute(text(_OWNED_TYPES), {"role": role}).all():
                conn.execute(text(f"ALTER TYPE public.{_quote(conn, name)} OWNER TO {q_role}"))
    finally:
        engine.dispose()

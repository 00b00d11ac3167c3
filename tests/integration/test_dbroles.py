"""common.dbroles on the real PostgreSQL: a role per service, owner of its database,
the only role that may connect to it; migrations run as that role."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

from common import testing
from common.dbroles import admin_url, provision
from common.migrate import drop_database, migrate, upgrade


def _names(suffix: str) -> tuple[str, str]:
    """A role and database name of this tier (roles are cluster-wide, so tiers differ)."""
    name = f"test_{testing.tier()}_dbrole_{suffix}"
    return name, name


def _url(role: str, database: str, password: str | None = None) -> str:
    url = make_url(testing.test_database_url(database)).set(database=database, username=role,
                                                    password=password)
    return url.render_as_string(hide_password=False)


def _scalar(url: str, sql: str, **params):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).all()
    finally:
        engine.dispose()


@pytest.fixture
def admin(base_config):
    return admin_url(base_config)


@pytest.fixture
def roles(admin):
    """Two service-like roles and databases, dropped afterwards."""
    made = [_names("a"), _names("b")]
    yield made
    for role, database in made:
        drop_database(str(admin.set(database=database)))
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        engine.dispose()


def test_each_role_reaches_only_its_own_database(admin, roles):
    (role_a, db_a), (role_b, db_b) = roles
    for role, database in roles:
        migrate("user_svc", _url(role, database), admin)
    assert _scalar(_url(role_a, db_a), "SELECT current_user") == [(role_a,)]
    with pytest.raises(OperationalError, match="permission denied for database"):
        _scalar(_url(role_a, db_b), "SELECT 1")
    with pytest.raises(OperationalError, match="permission denied for database"):
        _scalar(_url(role_b, db_a), "SELECT 1")
    # The migrations ran as the role: it owns the database and every table.
    owners = _scalar(str(admin.set(database=db_a)),
                     "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")
    assert owners == [(role_a,)]
    assert _scalar(str(admin), "SELECT pg_get_userbyid(datdba) FROM pg_database "
                               "WHERE datname = :d", d=db_a) == [(role_a,)]


def test_a_database_migrated_as_the_superuser_is_handed_over(admin, roles):
    (role, database), _ = roles
    superuser_url = str(admin.set(database=database))
    drop_database(superuser_url)
    migrate("user_svc", superuser_url)  # as before: tables owned by the superuser
    assert provision(admin, _url(role, database)) == role
    assert provision(admin, _url(role, database)) == role  # idempotent
    owners = _scalar(superuser_url, """
        SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S', 'v')""")
    assert owners == [(role,)]
    upgrade("user_svc", _url(role, database))  # the role can run later migrations
    assert _scalar(_url(role, database), "SELECT count(*) FROM users") == [(0,)]


def test_a_password_in_the_url_is_set_on_the_role(admin, roles):
    (role, database), _ = roles
    provision(admin, _url(role, database, password="pw-for-test"))
    stored = _scalar(str(admin), "SELECT rolpassword FROM pg_authid WHERE rolname = :r", r=role)
    assert stored[0][0] and stored[0][0] != "pw-for-test"  # kept hashed (SCRAM)


def test_the_admin_user_itself_gets_no_role(admin, roles):
    (_, database), _ = roles
    assert provision(admin, str(admin.set(database=database))) is None
    assert _scalar(str(admin), "SELECT 1 FROM pg_database WHERE datname = :d",
                   d=database) == [(1,)]


@pytest.mark.parametrize("name", ["Robert'); DROP TABLE x;--", "UPPER", "has space", ""])
def test_names_that_are_not_plain_are_refused(admin, name):
    for url in (URL.create("postgresql", username="plain", host="127.0.0.1", database=name),
                URL.create("postgresql", username=name, host="127.0.0.1", database="plain")):
        with pytest.raises(ValueError, match="plain PostgreSQL name"):
            provision(admin, url)

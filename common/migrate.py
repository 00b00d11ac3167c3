"""Create each service's database and bring its schema to head with Alembic.

    python -m common.migrate                          # every service in config SERVICES
    python -m common.migrate user_svc                 # one service
    python -m common.migrate --seed                   # ... and load each service's demo data
    python -m common.migrate --revision user_svc -m "add column"   # autogenerate
    python -m common.migrate --no-broker              # the databases only

Each service keeps its migrations in `<service>/migrations/`; its env.py calls
`run_env(Base.metadata)`. Run as the superuser of POSTGRES_URL: each service gets its
own login role (the user of its DB_URIS URL) that owns its database and is the only
role allowed to connect (common.dbroles), and its migrations run as that role. Safe
to run again: existing databases are kept and an up-to-date schema is left alone.
A service with a `seed` module (exposing `seed_from_config(config)`) gets its demo data
with `--seed`; seeding is idempotent too. The broker's part follows the databases
(common.queues: policies, the unrouted-event queue, queues moved to AMQP_QUEUE_TYPE).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from common import queues
from common.config import ROOT, database_url, load_config
from common.dbroles import admin_url, provision

log = logging.getLogger("migrate")


def alembic_config(service: str, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / service / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def create_database(url: str) -> bool:
    """CREATE DATABASE for `url` unless it exists; True if it was created."""
    target = make_url(url)
    server = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                 {"n": target.database})
            if exists:
                return False
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
            return True
    finally:
        server.dispose()


def drop_database(url: str) -> None:
    """DROP DATABASE for `url`, disconnecting its sessions (tests only)."""
    target = make_url(url)
    server = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    finally:
        server.dispose()


def upgrade(service: str, url: str) -> None:
    command.upgrade(alembic_config(service, url), "head")


def migrate(service: str, url: str, admin: str | URL | None = None) -> None:
    """Bring `service`'s database at `url` to head.

    With `admin` (the superuser connection, see common.dbroles), first make the URL's
    role, give it the database and lock everyone else out; the migrations then run as
    that role, so it owns what they create.
    """
    if admin is None:
        created = create_database(url)
        upgrade(service, url)
        log.info("%s: database %s, schema at head", service, "created" if created else "kept")
        return
    role = provision(admin, url)
    upgrade(service, url)
    log.info("%s: schema at head, owned by %s", service,
             f"role {role} (only it may connect)" if role else "the admin user")


def seed(service: str, config: dict) -> bool:
    """Load `service`'s demo data if it has any (a `<service>.seed` module); True if so."""
    if importlib.util.find_spec(f"{service}.seed") is None:
        return False
    importlib.import_module(f"{service}.seed").seed_from_config(config)
    return True


def run_env(target_metadata) -> None:
    """The body of every service's migrations/env.py (online mode only)."""
    from alembic import context

    engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("services", nargs="*", help="default: config SERVICES")
    parser.add_argument("--revision", action="store_true",
                        help="autogenerate a new revision for the one service named")
    parser.add_argument("-m", "--message", default="change")
    parser.add_argument("--seed", action="store_true", help="also load demo data")
    parser.add_argument("--no-broker", action="store_true",
                        help="skip the broker's part (policies, queue types)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[migrate] %(message)s")
    config = load_config()
    services = args.services or config["SERVICES"]
    if args.revision:
        (service,) = services
        url = database_url(config, service)
        migrate(service, url, admin_url(config))
        command.revision(alembic_config(service, url), message=args.message,
                         autogenerate=True)
        return
    for service in services:
        migrate(service, database_url(config, service), admin_url(config))
        if args.seed:
            seed(service, config)
    if not args.no_broker:
        try:
            queues.setup(config)
        except queues.QueueInUse as exc:
            raise SystemExit(f"[migrate] broker: {exc}") from None


if __name__ == "__main__":
    main()

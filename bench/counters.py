"""What a phase cost besides CPU, read from the outside: PostgreSQL (pg_stat_statements,
pg_stat_database), RabbitMQ (the management API) and the mail sink's statistics file.

Counters is made once per run; `reset()` before a phase, `snapshot()` around it. The
arithmetic (differences, per order, grouping) is in bench/perorder.py.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from pathlib import Path

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import perorder
from common.config import database_url
from common.dbroles import admin_url

# RabbitMQ's management statistics are refreshed every collect_statistics_interval
# (5 s by default); PostgreSQL backends flush pg_stat_database at most every 10 s when
# idle (PGSTAT_IDLE_INTERVAL, PostgreSQL 15). A reading after this much rest is fresh.
STATS_SETTLE_S = 11.0
PSS_FIX = ("pg_stat_statements is not loaded: run, as the PostgreSQL superuser, "
           "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'; then restart "
           "PostgreSQL (e.g. pg_ctlcluster 15 main restart). Statements and round trips "
           "are left out of this run.")


class Counters:
    """The benched cluster's counters: `databases` maps each service to its database."""

    def __init__(self, config: dict, mail_dir: Path | None):
        self.databases = {service: make_url(database_url(config, service)).database
                          for service in config["SERVICES"]}
        self.engine = create_engine(admin_url(config, next(iter(self.databases.values()))),
                                    isolation_level="AUTOCOMMIT", pool_size=1)
        uri = urllib.parse.urlparse(config["AMQP_URI"])
        self.vhost = urllib.parse.unquote(uri.path[1:]) if len(uri.path) > 1 else "/"
        self.management = str(config["RABBIT_MANAGEMENT_URI"]).rstrip("/")
        self.mail_stats = (mail_dir / ".run" / "mailsink-stats.json") if mail_dir else None
        self.notes: list[str] = []
        self.statements = self._enable_statements(config)
        if not self.statements and not self.notes:
            self.notes.append(PSS_FIX)

    def _enable_statements(self, config: dict) -> bool:
        """CREATE EXTENSION pg_stat_statements in each service database (superuser);
        False when the library is not preloaded (the view then refuses to answer)."""
        try:
            for database in self.databases.values():
                engine = create_engine(admin_url(config, database), isolation_level="AUTOCOMMIT")
                try:
                    with engine.connect() as conn:
                        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
                finally:
                    engine.dispose()
            with self.engine.connect() as conn:
                conn.execute(text("SELECT count(*) FROM pg_stat_statements"))
            return True
        except Exception as exc:  # noqa: BLE001 - any failure means: no statement figures
            why = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
            if "shared_preload_libraries" not in str(exc):
                self.notes.append(f"pg_stat_statements unusable ({why}): statements and "
                                  "round trips are left out of this run.")
            print(f"[bench] {PSS_FIX if not self.notes else self.notes[-1]} ({why})",
                  flush=True)
            return False

    def reset(self) -> None:
        """Forget the statements of our databases only (other databases' entries stay)."""
        if self.statements:
            with self.engine.connect() as conn:
                conn.execute(text(
                    "SELECT pg_stat_statements_reset(0, oid, 0) FROM pg_database "
                    "WHERE datname = ANY(:names)"), {"names": list(self.databases.values())})

    def statement_rows(self) -> list[dict] | None:
        """The services' statements since the reset: [{service, query, calls}]. The
        bench's own queries are left out by their text (they read pg_stat_* views; the
        services never do): make bench's services log in as the same superuser."""
        if not self.statements:
            return None
        service_of = {db: service for service, db in self.databases.items()}
        with self.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT d.datname, s.query, s.calls FROM pg_stat_statements s "
                "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = ANY(:names) "
                "AND s.query NOT LIKE '%pg_stat_%' AND s.query NOT ILIKE 'create extension%'"),
                {"names": list(service_of)}).all()
        return [{"service": service_of[db], "query": query, "calls": calls}
                for db, query, calls in rows]

    def snapshot(self) -> dict:
        """The cumulative counters now: {"pg": {service: {xact_commit, xact_rollback}},
        "amqp": {"vhost": {...}, "queues": {name: {...}}, "exchanges": {name: {...}}},
        "smtp": {connections, messages} | None, "at": time}."""
        service_of = {db: service for service, db in self.databases.items()}
        with self.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT datname, xact_commit, xact_rollback FROM pg_stat_database "
                "WHERE datname = ANY(:names)"), {"names": list(service_of)}).all()
        pg = {service_of[db]: {"xact_commit": commit, "xact_rollback": rollback}
              for db, commit, rollback in rows}
        return {"pg": pg, "amqp": self._amqp(), "smtp": self._smtp(), "at": time.time()}

    def _amqp(self) -> dict | None:
        vhost = urllib.parse.quote(self.vhost, safe="")
        keys = ("publish", "deliver_get", "ack", "redeliver")
        try:
            overview = self._get(f"/api/vhosts/{vhost}")
            queues = self._get(f"/api/queues/{vhost}?columns=name,message_stats")
            exchanges = self._get(f"/api/exchanges/{vhost}?columns=name,message_stats")
        except (requests.RequestException, ValueError) as exc:
            print(f"[bench] RabbitMQ management API: {exc}", flush=True)
            return None
        stats = overview.get("message_stats") or {}
        return {"vhost": {key: stats.get(key, 0) for key in keys},
                "queues": {q["name"]: {key: (q.get("message_stats") or {}).get(key, 0)
                                       for key in ("publish", "deliver_get", "ack")}
                           for q in queues},
                "exchanges": {x["name"]: {"publish_in": (x.get("message_stats") or {})
                                          .get("publish_in", 0)} for x in exchanges}}

    def _get(self, path: str):
        answer = requests.get(self.management + path, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def _smtp(self) -> dict | None:
        if self.mail_stats is None or not self.mail_stats.exists():
            return None
        try:
            stats = json.loads(self.mail_stats.read_text())
            return {"connections": int(stats["connections"]), "messages": int(stats["messages"])}
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def close(self) -> None:
        self.engine.dispose()


def phase_counts(before: dict, after: dict, statements: list[dict] | None) -> dict:
    """One phase's counts, by service: pg (statements and transactions), amqp (the
    vhost, queues grouped by consumer, exchanges grouped by publisher), smtp."""
    delta = perorder.subtract({k: v for k, v in after.items() if k != "at"},
                              {k: v for k, v in before.items() if k != "at"})
    pg = {service: dict(counts) for service, counts in (delta.get("pg") or {}).items()}
    by_service = perorder.pg_by_service(statements) if statements is not None else None
    for service, counts in pg.items():
        counts.update((by_service or {}).get(service) or dict.fromkeys(
            ("round_trips", "statements", "begin", "commit", "rollback", "savepoint", "ping"),
            0 if by_service is not None else None))
    amqp = delta.get("amqp")
    if amqp is not None:
        amqp = {"vhost": amqp["vhost"],
                "queues": perorder.group(amqp["queues"], perorder.queue_owner),
                "exchanges": perorder.group(amqp["exchanges"], perorder.exchange_owner)}
    return {"pg": pg, "amqp": amqp, "smtp": delta.get("smtp")}

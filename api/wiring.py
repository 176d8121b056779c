"""Wiring: turn the settings into the eventsourcing environment, the SQLAlchemy engine for the
views and the evidence store, in one place. Nothing else reads the configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from api.evidence_store import EvidenceStore
from api.settings import Settings
from domain.application import Ledger
from projections.event_log import EventLog
from projections.registry import MAINTENANCE, VIEWS
from projections.runtime import Runtime

# SQLite: how long the views' connections wait for the one write lock (sqlite3's `timeout`,
# SQLite's busy timeout) before a statement fails with "database is locked".
SQLITE_LOCK_WAIT_S = 10


class ConfigurationError(Exception):
    """Bad configuration or an unreachable database: a one-line reason for the operator."""


@dataclass
class Container:
    settings: Settings
    ledger: Ledger
    engine: sa.Engine
    event_log: EventLog
    views: Runtime
    evidence: EvidenceStore
    store_kind: str  # "sqlite" | "postgresql"

    def close(self) -> None:
        self.views.stop()
        self.ledger.close()
        self.engine.dispose()


def eventsourcing_env(settings: Settings) -> tuple[str, dict[str, str], str]:
    """(store kind, eventsourcing env, SQLAlchemy URL for the views)."""
    if not settings.database_url or settings.database_url.startswith("sqlite"):
        path = Path(settings.sqlite_path)
        if settings.database_url:
            path = Path(make_url(settings.database_url).database or path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # The library's SQLite recorders, with a datastore that can run a command at once
        # without waiting for the write lock (ADR 0023).
        env = {"PERSISTENCE_MODULE": "domain.sqlite_store:NowSQLiteFactory",
               "SQLITE_DBNAME": str(path),
               "SQLITE_LOCK_TIMEOUT": "10"}
        return "sqlite", env, f"sqlite:///{path}"
    try:
        url = make_url(settings.database_url)
    except Exception:
        raise ConfigurationError("KEMITRAAN_DATABASE_URL is not a valid database URL") from None
    if url.get_backend_name() != "postgresql":
        raise ConfigurationError("KEMITRAAN_DATABASE_URL must be sqlite:/// or "
                                 "postgresql+psycopg://")
    if not url.database:
        raise ConfigurationError("KEMITRAAN_DATABASE_URL names no database")
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.database, "POSTGRES_HOST": url.host or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432), "POSTGRES_USER": url.username or "postgres",
        "POSTGRES_PASSWORD": url.password or "", "POSTGRES_CONNECT_TIMEOUT": "5",
        # The library waits forever for its table lock by default; a stuck writer must fail.
        "POSTGRES_LOCK_TIMEOUT": "5",
        # Pools open their minimum up front (psycopg_pool's min_size) and grow on demand to
        # pool + overflow. Commands: up to 16 as before. Reads (ADR 0022): up to 8, one kept
        # open. Per process idle: 2 + 1, where it used to hold 8 (2 servers, `kemitraan
        # project` and its lane process fit PostgreSQL's default 100 with room).
        "POSTGRES_POOL_SIZE": "2", "POSTGRES_MAX_OVERFLOW": "14",
        "READS_POSTGRES_POOL_SIZE": "1", "READS_POSTGRES_MAX_OVERFLOW": "7",
        "POSTGRES_SCHEMA": url.query.get("schema", "public") if url.query else "public",
    }
    return "postgresql", env, url.set(drivername="postgresql+psycopg").render_as_string(
        hide_password=False)


def build(settings: Settings | None = None, prepare: bool = True) -> Container:
    """The container. `prepare=False` (a lane process, started after its parent prepared the
    store): no DDL at all, since concurrent `CREATE ... IF NOT EXISTS` / `CREATE OR REPLACE`
    on PostgreSQL can fail with "tuple concurrently updated"."""
    settings = settings or Settings()
    kind, env, views_url = eventsourcing_env(settings)
    if not prepare:
        env["CREATE_TABLE"] = "n"
    cache_size = settings.command_cache_size
    env["COMMAND_CACHE_MAXSIZE"] = str(10_000 if cache_size is None else cache_size)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        ledger = Ledger(env=env)
    except Exception as e:  # the library raises several types for an unreachable server
        raise ConfigurationError(f"cannot open the event store ({kind}): "
                                 f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    connect_args = {"timeout": SQLITE_LOCK_WAIT_S, "check_same_thread": False} if kind == "sqlite" else {
        "connect_timeout": 5}
    engine = sa.create_engine(views_url, connect_args=connect_args, pool_pre_ping=True)
    event_log = EventLog(engine, kind, ledger.recorder)
    views = Runtime(ledger, engine, VIEWS, store_kind=kind, page=settings.projection_page,
                    linger=settings.projection_linger, maintenance=MAINTENANCE, log=event_log)
    ledger.after_save.append(views.wake)
    try:
        if prepare:
            views.setup()
    except sa.exc.OperationalError as e:
        ledger.close()
        raise ConfigurationError(f"cannot open the views database: {e.orig}") from None
    return Container(settings=settings, ledger=ledger, engine=engine, event_log=event_log,
                     views=views, evidence=EvidenceStore(settings.evidence_dir), store_kind=kind)

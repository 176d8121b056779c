"""Shared fixtures: a real store on SQLite (a file under tmp_path) and on PostgreSQL (a database
created for this run and dropped afterwards). Under CI=true a missing PostgreSQL fails the run.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

warnings.filterwarnings("ignore", message=".*httpx2.*")

PG_HOST = os.environ.get("KEMITRAAN_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("KEMITRAAN_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("KEMITRAAN_TEST_PG_USER", "postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _admin_connect(dbname: str = "postgres"):  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname,
                           autocommit=True, connect_timeout=3)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this run; dropped at the end (the server outlives us)."""
    try:
        conn = _admin_connect()
    except Exception as e:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {PG_HOST}:{PG_PORT} is required under CI: {e}")
        pytest.skip(f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT}: {e}")
    name = f"kemitraan_test_{uuid.uuid4().hex[:12]}"
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with _admin_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate_all(dbname: str) -> None:
    with _admin_connect(dbname) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()]
        if tables:
            conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) +
                         " RESTART IDENTITY")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    from api.settings import Settings

    url = None
    if backend == "postgresql":
        db = request.getfixturevalue("pg_database")
        _truncate_all(db)
        url = f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{db}"
    return Settings(data_dir=tmp_path / "var", database_url=url, max_upload_bytes=64 * 1024,
                    log_format="json")


@pytest.fixture
def container(settings):  # type: ignore[no-untyped-def]
    from api.wiring import build

    c = build(settings)
    yield c
    c.close()


class Clock:
    """A settable clock: tests decide what `now` is."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2024, 3, 1, 3, 0, tzinfo=timezone.utc))


@pytest.fixture
def app(container, clock):  # type: ignore[no-untyped-def]
    from api.app import create_app

    return create_app(container, clock=clock)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def make_token(container):  # type: ignore[no-untyped-def]
    """Issue a real token through the use case and return its secret."""
    from api.auth import new_secret, secret_hash
    from domain.access import SYSTEM

    def make(role: str, region: str | None = None, nibs: list[str] | None = None) -> str:
        secret = new_secret()
        container.ledger.issue_token(SYSTEM, datetime.now(timezone.utc),
                                     secret_sha256_hex=secret_hash(secret), role=role,
                                     region=region, nibs=nibs or [], name=f"test {role}")
        return secret

    return make


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}

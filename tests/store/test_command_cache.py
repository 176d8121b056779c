"""The command cache is exact for one writer; a second writer costs at most a 409 once, never a
refusal decided on stale state; servers on one PostgreSQL database pause it for each other."""

from __future__ import annotations

import time
from datetime import date

import pytest

from api.settings import Settings
from api.wiring import build
from api.writers import KEY, CacheGuard
from domain.access import SYSTEM
from domain.errors import StaleVersion, TransitionForbidden
from tests.store.helpers import T0, propose


@pytest.fixture
def two_processes(settings):  # type: ignore[no-untyped-def]
    """Two containers on one store, as two server processes would be, both caching."""
    cached = Settings(**{**settings.model_dump(), "command_cache_size": 100})
    first, second = build(cached), build(cached)
    yield first.ledger, second.ledger
    first.close()
    second.close()


def test_commands_in_one_process_see_their_own_writes(two_processes) -> None:  # type: ignore[no-untyped-def]
    a, _ = two_processes
    pid = propose(a)
    a.confirm(SYSTEM, T0, pid)
    a.suspend(SYSTEM, T0, pid, reason="renovasi", effective_date=date(2024, 2, 1))
    with pytest.raises(TransitionForbidden):
        a.suspend(SYSTEM, T0, pid, reason="lagi", effective_date=date(2024, 2, 2))
    a.resume(SYSTEM, T0, pid, effective_date=date(2024, 3, 1))  # a refusal kept the state
    assert a.get_partnership(SYSTEM, pid).version == 4


def test_a_write_from_another_process_costs_one_conflict_then_commands_succeed(
        two_processes) -> None:  # type: ignore[no-untyped-def]
    a, b = two_processes
    pid = propose(a)
    a.confirm(SYSTEM, T0, pid)  # a caches version 2
    b.amend(SYSTEM, T0, pid, changes={"title": "Dari proses lain"})  # the store is at 3
    with pytest.raises(StaleVersion):
        a.amend(SYSTEM, T0, pid, changes={"value_idr": 5})  # stale: refused, nothing lost
    a.amend(SYSTEM, T0, pid, changes={"value_idr": 5})  # reloaded from the store
    p = a.get_partnership(SYSTEM, pid)
    assert (p.version, p.title, p.value_idr) == (4, "Dari proses lain", 5)


def test_a_refusal_on_stale_cached_state_is_decided_again_on_the_stored_state(
        two_processes) -> None:  # type: ignore[no-untyped-def]
    a, b = two_processes
    b.command_cache.pause()  # b writes from the store every time (its own 409s are tested above)
    pid = propose(a)
    a.confirm(SYSTEM, T0, pid)  # a caches version 2, active
    b.suspend(SYSTEM, T0, pid, reason="renovasi", effective_date=date(2024, 2, 1))
    # a's cache says active ("not suspended"); the store says suspended: resume is allowed
    written = a.resume(SYSTEM, T0, pid, effective_date=date(2024, 3, 1))
    assert (written.version, written.status) == (4, "active")
    b.amend(SYSTEM, T0, pid, changes={"title": "Versi 5"})
    # If-Match is checked against the stored version, not the cached one (4)
    assert a.amend(SYSTEM, T0, pid, changes={"value_idr": 7}, expected_version=5).version == 6
    with pytest.raises(StaleVersion, match="current version is 6"):
        b.amend(SYSTEM, T0, pid, changes={"value_idr": 8}, expected_version=5)


def test_the_cache_serves_commands_without_reading_the_store(container) -> None:  # type: ignore[no-untyped-def]
    """On by default on both stores (a command reads nothing when this process wrote last)."""
    ledger = container.ledger
    pid = propose(ledger)
    ledger.confirm(SYSTEM, T0, pid)
    reads = []
    original = ledger._load
    ledger._load = lambda *a, **k: reads.append(a) or original(*a, **k)  # type: ignore[method-assign]
    ledger.amend(SYSTEM, T0, pid, changes={"value_idr": 1})
    ledger.amend(SYSTEM, T0, pid, changes={"value_idr": 2})
    assert reads == []
    assert ledger.get_partnership(SYSTEM, pid).value_idr == 2


def holders(container) -> int:  # type: ignore[no-untyped-def]
    with container.engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
            "database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND classid = %s AND objid = %s", KEY).scalar()


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_two_servers_on_one_database_pause_their_caches_until_one_stops(
        settings) -> None:  # type: ignore[no-untyped-def]
    first, second = build(settings), build(settings)  # default size: cache on
    g1 = CacheGuard(first.engine, first.ledger.command_cache, interval=3600, settle=0.5)
    g2 = CacheGuard(second.engine, second.ledger.command_cache, interval=3600, settle=0.5)
    try:
        g1.start()
        assert first.ledger.command_cache.active and holders(first) == 1
        a, b = first.ledger, second.ledger
        pid = propose(a)
        a.confirm(SYSTEM, T0, pid)  # cached by the first server
        g2.start()  # the second decides before its first command
        assert not second.ledger.command_cache.active
        assert g1.check() == 2 and not first.ledger.command_cache.active
        b.amend(SYSTEM, T0, pid, changes={"title": "Dari server kedua"})
        # no stale entry left in the first server: no 409, the store's version 3 is the base
        assert a.amend(SYSTEM, T0, pid, changes={"value_idr": 5}).version == 4
        # the second's guard connection drops for a moment (a blip): the first stays paused
        with first.engine.connect() as conn:
            conn.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE "
                                 "locktype = 'advisory' AND classid = %s AND objid = %s AND "
                                 "pid = %s", (*KEY, g2._conn.info.backend_pid))
        time.sleep(0.2)
        assert g1.check() == 1 and not first.ledger.command_cache.active
        assert g2.check() == 0  # it notices, pauses, and registers again
        assert g2.check() == 2 and g1.check() == 2
        g2.stop()
        assert holders(first) == 1
        assert g1.check() == 1 and not first.ledger.command_cache.active  # alone a moment only
        time.sleep(0.5)
        assert g1.check() == 1 and first.ledger.command_cache.active  # alone for `settle`
    finally:
        g1.stop()
        g2.stop()
        first.close()
        second.close()
    assert holders(first) == 0


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_server_registers_for_its_lifetime(settings) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from api.app import create_app

    c, other = build(settings), build(settings)
    try:
        with TestClient(create_app(c)) as client:
            assert client.get("/v1/health").status_code == 200
            assert holders(c) == 1 and c.ledger.command_cache.active
            with TestClient(create_app(other)):  # a second server starts on the same database
                assert holders(c) == 2 and not other.ledger.command_cache.active
                deadline = time.monotonic() + 10  # the first notices within its interval (1 s)
                while c.ledger.command_cache.active and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert not c.ledger.command_cache.active
            deadline = time.monotonic() + 10
            while not c.ledger.command_cache.active and time.monotonic() < deadline:
                time.sleep(0.05)
            assert holders(c) == 1 and c.ledger.command_cache.active  # alone again
        assert holders(c) == 0
    finally:
        c.close()
        other.close()


SECOND_SERVER = """
import sys
from datetime import datetime, timezone
from pathlib import Path
from uuid import UUID

from api.logs import configure
from api.settings import Settings
from api.wiring import build
from api.writers import CacheGuard
from domain.access import SYSTEM

configure("json")  # logs on stderr: stdout answers the test
size = int(sys.argv[2]) if sys.argv[2] else None  # 0: a server with the cache off
c = build(Settings(data_dir=Path(sys.argv[1]), command_cache_size=size))
guard = CacheGuard(c.engine, c.ledger.command_cache, interval=3600, settle=0.5)
guard.start()
print("started", c.ledger.command_cache.active, flush=True)  # after start() alone
for line in sys.stdin:
    w = c.ledger.amend(SYSTEM, datetime.now(timezone.utc), UUID(line.strip()),
                       changes={"title": "Dari server kedua"})
    print(w.version, flush=True)
guard.stop()
c.close()
"""


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("second_cache", ["", "0"], ids=["cache-on", "cache-off"])
def test_two_server_processes_on_one_sqlite_file_pause_their_caches(  # type: ignore[no-untyped-def]
        settings, second_cache) -> None:
    """SQLite has no advisory locks: each server holds a shared lock on a file beside the
    database, and sees another process holding it too (ADR 0010); a server with its cache
    turned off registers as well, or the other would go on caching beside its writes."""
    import subprocess
    import sys
    from pathlib import Path

    first = build(settings)
    guard = CacheGuard(first.engine, first.ledger.command_cache, interval=3600, settle=0.5)
    proc = None
    try:
        guard.start()
        assert first.ledger.command_cache.active and guard.check() == 1
        a = first.ledger
        pid = propose(a)
        a.confirm(SYSTEM, T0, pid)  # cached by this server
        proc = subprocess.Popen([sys.executable, "-c", SECOND_SERVER, str(settings.data_dir),
                                 second_cache],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                stderr=subprocess.DEVNULL, cwd=Path(__file__).resolve().parents[2])
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline().split() == ["started", "False"]  # it sees us
        assert guard.check() == 2 and not a.command_cache.active  # we see it
        proc.stdin.write(f"{pid}\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "3"
        # no stale entry left here: no 409, the store's version 3 is the base
        assert a.amend(SYSTEM, T0, pid, changes={"value_idr": 5}).version == 4
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
        assert guard.check() == 1 and not a.command_cache.active  # alone a moment only
        time.sleep(0.6)
        assert guard.check() == 1 and a.command_cache.active  # alone for `settle`
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        guard.stop()
        first.close()

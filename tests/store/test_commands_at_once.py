"""`Ledger.now`: a command run at once, holding SQLite's write lock for the whole of it, or
declined before anything is done (ADR 0023). What the event loop relies on: it never waits,
what it commits is whole, what it declines leaves no trace, and the views are told only of
what is committed."""

from __future__ import annotations

import sqlite3
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import pytest

from api.settings import Settings
from api.wiring import build
from domain.access import SYSTEM
from domain.errors import TransitionForbidden
from domain.sqlite_store import WouldWait, holding
from tests.store.helpers import T0, propose


@pytest.fixture
def ledger(settings):  # type: ignore[no-untyped-def]
    c = build(Settings(**{**settings.model_dump(), "command_cache_size": 100}))
    yield c.ledger
    c.close()


def stored(ledger: Any, pid: UUID) -> list[str]:
    """The partnership's events as another connection sees them (committed only)."""
    with sqlite3.connect(ledger.env.get("SQLITE_DBNAME")) as other:
        rows = other.execute("SELECT topic FROM stored_events WHERE originator_id = ? "
                             "ORDER BY originator_version", (pid.hex,)).fetchall()
    return [topic.rsplit(".", 1)[-1] for (topic,) in rows]


def confirm(ledger: Any, pid: UUID) -> Any:
    return lambda: ledger.confirm(SYSTEM, T0, pid, effective_date=date(2024, 1, 2))


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_command_run_at_once_is_committed_and_the_views_are_told_after(ledger) -> None:  # type: ignore[no-untyped-def]
    pid = propose(ledger)
    seen: list[list[str]] = []
    ledger.after_save.append(lambda: seen.append(stored(ledger, pid)))
    inside: list[bool] = []

    def command() -> Any:
        inside.append(holding())
        return confirm(ledger, pid)()

    w = ledger.now(command)
    assert inside == [True]
    assert w.version == 2 and w.position is not None
    assert stored(ledger, pid) == ["Proposed", "Confirmed"]
    assert seen == [["Proposed", "Confirmed"]]  # once, and only once it was committed
    assert not holding()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_held_write_lock_declines_at_once_without_running_the_command(ledger) -> None:  # type: ignore[no-untyped-def]
    pid = propose(ledger)
    holder = sqlite3.connect(ledger.env.get("SQLITE_DBNAME"), isolation_level=None, timeout=10)
    ran: list[int] = []
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(WouldWait):
            ledger.now(lambda: ran.append(1))
        holder.execute("COMMIT")
    finally:
        holder.close()
    assert ran == []
    ledger.now(confirm(ledger, pid))  # the lock is free again: at once
    assert stored(ledger, pid) == ["Proposed", "Confirmed"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_busy_store_inside_the_command_undoes_all_of_it(ledger, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A "busy" met after the command saved (at its commit, or a read meeting a checkpoint):
    nothing stays written, the cache forgets the unsaved state, and the command can run
    again where it may wait, once."""
    pid = propose(ledger)
    told: list[int] = []
    ledger.after_save.append(lambda: told.append(1))
    busy = sqlite3.OperationalError("database is locked")
    busy.sqlite_errorcode = sqlite3.SQLITE_BUSY  # type: ignore[attr-defined]

    def then_busy() -> Any:
        confirm(ledger, pid)()
        raise busy

    with pytest.raises(WouldWait):
        ledger.now(then_busy)
    assert stored(ledger, pid) == ["Proposed"]
    assert told == []
    # The next command starts from what is stored, not from the cache's unsaved version 2.
    assert ledger.amend(SYSTEM, T0, pid, changes={"title": "Baru"}).version == 2
    assert stored(ledger, pid) == ["Proposed", "Amended"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_refusal_after_a_save_leaves_nothing_written_or_cached(ledger) -> None:  # type: ignore[no-untyped-def]
    pid = propose(ledger)

    def confirm_then_refused() -> Any:
        confirm(ledger, pid)()
        return ledger.confirm(SYSTEM, T0, pid)  # confirmed already: refused

    with pytest.raises(TransitionForbidden):
        ledger.now(confirm_then_refused)
    assert stored(ledger, pid) == ["Proposed"]
    assert ledger.get_partnership(SYSTEM, pid).status == "proposed"
    assert ledger.amend(SYSTEM, T0, pid, changes={"title": "Baru"}).version == 2  # as stored


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_conflict_inside_is_the_commands_answer_and_earlier_writes_go_with_it(ledger) -> None:  # type: ignore[no-untyped-def]
    """A recorder's transaction inside the held one is a savepoint: a failed insert is the
    command's error (a duplicate key here), and the whole command is rolled back."""
    from domain.errors import DuplicateKey
    propose(ledger)
    fixed = uuid4()

    def two_proposals() -> Any:
        for _ in range(2):
            ledger.propose_partnership(SYSTEM, T0, fixed, large_nib="3216000000001",
                                       umkm_nib="3216000000101", pola="rantai_pasok",
                                       title="Sampel", start_date=date(2024, 1, 1),
                                       location_region_code="32.16")

    with pytest.raises(DuplicateKey):
        ledger.now(two_proposals)
    assert stored(ledger, fixed) == []


def test_only_an_sqlite_file_runs_a_command_at_once(ledger, backend) -> None:  # type: ignore[no-untyped-def]
    pid = propose(ledger)
    if backend == "sqlite":
        assert ledger.now(confirm(ledger, pid)).version == 2
        with pytest.raises(WouldWait):  # not inside itself
            ledger.now(lambda: ledger.now(lambda: None))
    else:  # PostgreSQL: commands overlap in the threadpool instead
        with pytest.raises(WouldWait):
            ledger.now(confirm(ledger, pid))
        assert ledger.get_partnership(SYSTEM, pid).version == 1


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_snapshot_taken_inside_a_command_run_at_once_is_committed_with_it(ledger) -> None:  # type: ignore[no-untyped-def]
    """Every 50th version of a partnership is snapshotted in the same save: inside the held
    transaction too, and a later load from the snapshot gives the same state."""
    pid = propose(ledger)
    for n in range(60):
        ledger.now(lambda n=n: ledger.amend(SYSTEM, T0, pid, changes={"title": f"Judul {n}"}))
    with sqlite3.connect(ledger.env.get("SQLITE_DBNAME")) as other:
        versions = [v for (v,) in other.execute(
            "SELECT originator_version FROM stored_snapshots WHERE originator_id = ?",
            (pid.hex,))]
    assert versions == [50]
    ledger.command_cache.clear()
    p = ledger.get_partnership(SYSTEM, pid)
    assert (p.version, p.title) == (61, "Judul 59")

"""Where a partnership command runs (ADRs 0020, 0023). On SQLite: on the event loop when the
write lock is free at once and the writer thread has nothing in turn, holding the lock for the
whole command; otherwise in the one writer thread, where it may wait. On PostgreSQL: in the
threadpool, where several overlap their round trips. Never waiting on the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from typing import Any

import httpx
import pytest

from api import calls
from api.calls import WriterThread
from domain.sqlite_store import holding
from tests.api.helpers import LARGE_A, REGION_A, UMKM_A, expect, post, propose, two_parties
from tests.conftest import bearer


def record_where(container: Any, monkeypatch: Any,
                 names: tuple[str, ...]) -> list[tuple[str, bool, bool]]:
    """(thread name, on a running event loop, holding the write lock) per command."""
    where: list[tuple[str, bool, bool]] = []
    for name in names:
        original = getattr(container.ledger, name)

        def recording(*args: Any, __original: Any = original, **kwargs: Any) -> Any:
            try:
                asyncio.get_running_loop()
                on_loop = True
            except RuntimeError:
                on_loop = False
            where.append((threading.current_thread().name, on_loop, holding()))
            return __original(*args, **kwargs)

        monkeypatch.setattr(container.ledger, name, recording)
    return where


def test_commands_run_on_the_loop_holding_the_sqlite_lock_or_in_the_threadpool(  # type: ignore[no-untyped-def]
        client, container, make_token, backend, monkeypatch) -> None:
    parties = two_parties(client, make_token)
    company, umkm = parties["company"], parties["umkm"]
    where = record_where(container, monkeypatch, ("propose_partnership", "confirm", "amend"))
    pid = propose(client, company, LARGE_A, UMKM_A, REGION_A)["id"]
    expect(post(client, umkm, pid, "confirm", {"effective_date": "2024-01-02"}), 200)
    expect(post(client, company, pid, "amend", {"value_idr": 5}), 200)
    assert len(where) == 3
    if backend == "sqlite":
        assert all(on_loop and held for _, on_loop, held in where), where
    else:
        assert not any(on_loop or held or name.startswith("sqlite-writer")
                       for name, on_loop, held in where), where


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_held_sqlite_lock_sends_the_command_to_the_writer_thread(  # type: ignore[no-untyped-def]
        app, container, make_token, client, monkeypatch) -> None:
    parties = two_parties(client, make_token)
    pid = propose(client, parties["company"], LARGE_A, UMKM_A, REGION_A)["id"]
    where = record_where(container, monkeypatch, ("confirm",))
    holder = sqlite3.connect(container.engine.url.database, isolation_level=None, timeout=10)

    async def scenario() -> tuple[int, int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as ac:
            holder.execute("BEGIN IMMEDIATE")
            try:
                command = asyncio.create_task(ac.post(
                    f"/v1/partnerships/{pid}/confirm", json={"effective_date": "2024-01-02"},
                    headers=bearer(parties["umkm"])))
                await asyncio.sleep(0.3)
                missing = await asyncio.wait_for(ac.get(
                    "/v1/partnerships/00000000-0000-4000-8000-000000000000",
                    headers=bearer(parties["company"])), timeout=2)
            finally:
                holder.execute("COMMIT")
            return missing.status_code, (await asyncio.wait_for(command, timeout=15)).status_code

    try:
        missing, confirmed = asyncio.run(scenario())
    finally:
        holder.close()
    assert (missing, confirmed) == (404, 200)
    assert [(name, on_loop) for name, on_loop, _ in where] == [("sqlite-writer", False)]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_after_a_slow_command_on_the_loop_commands_go_to_the_writer_thread_for_a_while(  # type: ignore[no-untyped-def]
        client, container, make_token, monkeypatch) -> None:
    """A commit that met a slow disk stalled the loop once: the next commands stay off it."""
    parties = two_parties(client, make_token)
    monkeypatch.setattr(calls, "SLOW_ON_THE_LOOP_S", -1.0)  # every command is "slow"
    where = record_where(container, monkeypatch, ("propose_partnership", "confirm", "amend"))
    pid = propose(client, parties["company"], LARGE_A, UMKM_A, REGION_A)["id"]
    expect(post(client, parties["umkm"], pid, "confirm", {"effective_date": "2024-01-02"}), 200)
    expect(post(client, parties["company"], pid, "amend", {"value_idr": 5}), 200)
    assert [(name, on_loop) for name, on_loop, _ in where] == [
        (where[0][0], True), ("sqlite-writer", False), ("sqlite-writer", False)], where


def test_the_loop_is_allowed_again_once_the_pause_has_passed(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(calls, "OFF_THE_LOOP_FOR_S", 0.05)
    writer = WriterThread()
    writer.ran_on_the_loop(calls.SLOW_ON_THE_LOOP_S / 2)
    assert writer.loop_allowed
    writer.ran_on_the_loop(calls.SLOW_ON_THE_LOOP_S * 2)
    assert not writer.loop_allowed
    time.sleep(0.06)
    assert writer.loop_allowed


def test_the_writer_thread_is_idle_only_when_nothing_given_to_it_waits_or_runs() -> None:
    writer, release = WriterThread(), threading.Event()

    async def scenario() -> list[bool]:
        seen = [writer.idle]
        first = asyncio.create_task(writer.run(release.wait))
        second = asyncio.create_task(writer.run(lambda: 2))
        await asyncio.sleep(0.05)
        seen.append(writer.idle)  # one runs, one waits its turn
        release.set()
        assert await first is True and await second == 2
        seen.append(writer.idle)
        return seen

    try:
        assert asyncio.run(scenario()) == [True, False, True]
    finally:
        writer.stop()

"""Commands while another writer holds the store: the server keeps answering, nothing is lost,
and a command that cannot get the store in time is a 503 with Retry-After, never a 500."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import httpx
import pytest
from eventsourcing.persistence import ConnectionUnavailableError, OperationalError
from fastapi.testclient import TestClient

from tests.api.helpers import LARGE_A, REGION_A, UMKM_A, assert_problem, events, expect, post, \
    propose, two_parties
from tests.conftest import bearer


@pytest.fixture
def proposed(client, make_token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    parties = two_parties(client, make_token)
    return {**parties, "pid": propose(client, parties["company"], LARGE_A, UMKM_A,
                                      REGION_A)["id"]}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_command_meeting_a_held_write_lock_waits_and_the_server_answers_meanwhile(
        app, container, proposed) -> None:  # type: ignore[no-untyped-def]
    holder = sqlite3.connect(container.engine.url.database, isolation_level=None, timeout=10)

    async def scenario() -> tuple[int, int, bool]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as ac:
            holder.execute("BEGIN IMMEDIATE")  # another writer, mid-transaction
            try:
                command = asyncio.create_task(ac.post(
                    f"/v1/partnerships/{proposed['pid']}/confirm",
                    json={"effective_date": "2024-01-02"}, headers=bearer(proposed["umkm"])))
                await asyncio.sleep(0.3)
                waiting = not command.done()
                # Answered while the command waits for the lock: the event loop is free.
                health = await asyncio.wait_for(ac.get("/v1/health"), timeout=5)
            finally:
                holder.execute("COMMIT")
            done = await asyncio.wait_for(command, timeout=15)
            return health.status_code, done.status_code, waiting

    try:
        health, confirmed, waiting = asyncio.run(scenario())
    finally:
        holder.close()
    assert waiting, "the command did not wait for the held lock"
    assert health == 200
    assert confirmed == 200
    with TestClient(app) as client:
        types = [e["type"] for e in events(client, proposed["admin"], proposed["pid"])]
    assert types == ["Partnership.Proposed", "Partnership.Confirmed"]


@pytest.mark.parametrize("error", [
    OperationalError("database is locked"),  # SQLite: the lock held past its timeout
    ConnectionUnavailableError("Timed out waiting for return of writer"),  # the library's pool
])
def test_a_store_that_stays_busy_is_a_503_with_retry_after(
        client, container, proposed, monkeypatch, error) -> None:  # type: ignore[no-untyped-def]
    def busy(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(container.ledger, "confirm", busy)
    r = post(client, proposed["umkm"], proposed["pid"], "confirm", {"effective_date": "2024-01-02"})
    body = assert_problem(r, 503)
    assert r.headers["Retry-After"] == "2"
    assert "retry" in body["detail"]
    monkeypatch.undo()
    types = [e["type"] for e in events(client, proposed["admin"], proposed["pid"])]
    assert types == ["Partnership.Proposed"]
    expect(post(client, proposed["umkm"], proposed["pid"], "confirm",
                {"effective_date": "2024-01-02"}), 200)  # and a retry goes through


def test_an_operational_error_that_is_a_bug_stays_a_500(  # type: ignore[no-untyped-def]
        client, container, proposed, monkeypatch) -> None:
    """SQLite calls a missing table "operational" too: that is no busy store to retry."""
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("no such table: stored_events")

    monkeypatch.setattr(container.ledger, "confirm", broken)
    r = post(client, proposed["umkm"], proposed["pid"], "confirm", {"effective_date": "2024-01-02"})
    assert_problem(r, 500)
    assert "Retry-After" not in r.headers


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_reads_answer_while_writers_queue_for_a_held_write_lock(  # type: ignore[no-untyped-def]
        app, container, proposed, make_token) -> None:
    """A command waits for the lock (holding the library pool's one writer connection) and a
    registration waits for that connection: reads of the event store (a partnership, time
    travel, its history, a business, a token seen for the first time) still answer, through
    the readers' own pool (ADR 0022), and so does health (the views' engine). As `kemitraan
    serve` runs: the views folded by the runner in the background (without it, a read folds
    them first, which needs the lock)."""
    holder = sqlite3.connect(container.engine.url.database, isolation_level=None, timeout=10)
    dinas = make_token("dinas", region=REGION_A)  # not yet in the principal cache
    pid, company = proposed["pid"], proposed["company"]
    container.views.start()

    async def scenario() -> tuple[list[int], float, list[int]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as ac:
            holder.execute("BEGIN IMMEDIATE")  # another writer, mid-transaction
            try:
                writes = [asyncio.create_task(ac.post(
                    f"/v1/partnerships/{pid}/confirm", json={"effective_date": "2024-01-02"},
                    headers=bearer(proposed["umkm"]))), asyncio.create_task(ac.post(
                        "/v1/businesses", headers=bearer(proposed["admin"]), json={
                            "nib": "3216010000099", "name": "Usaha antre", "scale": "mikro",
                            "region_code": REGION_A + ".01", "kbli": ["47111"]}))]
                await asyncio.sleep(0.5)
                assert not any(w.done() for w in writes)  # both wait behind the lock
                started = asyncio.get_running_loop().time()
                reads = [await asyncio.wait_for(ac.get(path, headers=bearer(who)), timeout=8)
                         for path, who in [
                             (f"/v1/partnerships/{pid}", company),
                             (f"/v1/partnerships/{pid}?version=1", company),
                             (f"/v1/partnerships/{pid}?as_of=2030-01-01T00:00:00Z", company),
                             (f"/v1/partnerships/{pid}/events", company),
                             (f"/v1/businesses/{LARGE_A}", dinas),
                             ("/v1/health", company)]]
                took = asyncio.get_running_loop().time() - started
            finally:
                holder.execute("COMMIT")
            done = [await asyncio.wait_for(w, timeout=15) for w in writes]
            return [r.status_code for r in reads], took, [d.status_code for d in done]

    try:
        statuses, took, written = asyncio.run(scenario())
    finally:
        holder.close()
        container.views.stop()
    assert statuses == [200] * 6
    assert took < 3, f"reads waited {took:.1f} s behind the writers"
    assert written == [200, 201]



def test_reads_never_take_a_connection_from_the_commands_pool(  # type: ignore[no-untyped-def]
        client, container, proposed, make_token, monkeypatch) -> None:
    """On both stores: every read of the event store goes through the readers' own pool (ADR
    0022); commands read their streams through theirs."""
    dinas = make_token("dinas", region=REGION_A)
    recorder = container.ledger.recorder
    calls: list[str] = []
    for name in ("select_events", "select_notifications"):
        def recording(*args: Any, __name: str = name, __original: Any = getattr(recorder, name),
                      **kwargs: Any) -> Any:
            calls.append(__name)
            return __original(*args, **kwargs)
        monkeypatch.setattr(recorder, name, recording)
    pid, company = proposed["pid"], proposed["company"]
    for path, who in [(f"/v1/partnerships/{pid}", company),
                      (f"/v1/partnerships/{pid}?version=1", company),
                      (f"/v1/partnerships/{pid}?as_of=2030-01-01T00:00:00Z", company),
                      (f"/v1/partnerships/{pid}/events", company),
                      (f"/v1/businesses/{LARGE_A}", dinas),  # dinas: a token check too
                      ("/v1/partnerships", dinas)]:  # the views catch up from the log
        expect(client.get(path, headers=bearer(who)), 200)
    assert calls == []
    container.ledger.command_cache.clear()
    expect(post(client, proposed["umkm"], pid, "confirm", {"effective_date": "2024-01-02"}), 200)
    assert "select_events" in calls

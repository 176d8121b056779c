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
    propose, register_business
from tests.conftest import bearer


@pytest.fixture
def proposed(client, make_token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    admin = make_token("admin")
    register_business(client, admin, LARGE_A, "besar", REGION_A)
    register_business(client, admin, UMKM_A, "kecil", REGION_A + ".01")
    company = make_token("company", nibs=[LARGE_A])
    return {"admin": admin, "company": company, "umkm": make_token("umkm", nibs=[UMKM_A]),
            "pid": propose(client, company, LARGE_A, UMKM_A, REGION_A)["id"]}


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


def test_health_answers_while_the_librarys_pool_keeps_readers_waiting(  # type: ignore[no-untyped-def]
        client, container, proposed, monkeypatch) -> None:
    """The library's pool queues readers behind a writer that waits for its one writer
    connection (a lock held elsewhere): health reads the log's head through the views' engine."""
    before = expect(client.get("/v1/health"), 200)

    def waiting(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionUnavailableError("Timed out waiting for return of writer")

    monkeypatch.setattr(container.ledger.recorder, "max_notification_id", waiting)
    after = expect(client.get("/v1/health"), 200)
    assert after["position"] == before["position"] > 0
    assert after["projections_lag"] == before["projections_lag"]

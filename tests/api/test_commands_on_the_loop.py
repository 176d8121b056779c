"""Partnership commands run on the event loop on SQLite, but never wait there (ADR 0020).

On SQLite a command skips the threadpool hop while the write lock is free. While another
connection holds it (a rebuild, an import, the projection runner), the command waits in the
threadpool instead, so every other request is still answered meanwhile. On PostgreSQL every
command goes to the threadpool.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import LARGE_A, REGION_A, UMKM_A, events, expect, post, propose, \
    register_business
from tests.conftest import bearer


@pytest.fixture
def proposed(client, make_token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    admin = make_token("admin")
    register_business(client, admin, LARGE_A, "besar", REGION_A)
    register_business(client, admin, UMKM_A, "kecil", REGION_A + ".01")
    company = make_token("company", nibs=[LARGE_A])
    return {"admin": admin, "company": company, "umkm": make_token("umkm", nibs=[UMKM_A]),
            "pid": propose(client, company, LARGE_A, UMKM_A, REGION_A)["id"]}


def test_a_command_runs_on_the_loop_on_sqlite_and_in_the_threadpool_on_postgresql(
        client, container, proposed, backend, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    threads: list[str] = []
    confirm = container.ledger.confirm

    def recording(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return confirm(*args, **kwargs)

    monkeypatch.setattr(container.ledger, "confirm", recording)
    loop_thread: list[str] = []

    async def on_the_loop() -> None:
        loop_thread.append(threading.current_thread().name)

    client.portal.call(on_the_loop)  # the thread TestClient runs the app's loop on
    expect(post(client, proposed["umkm"], proposed["pid"], "confirm",
                {"effective_date": "2024-01-02"}), 200)
    assert len(threads) == 1
    if backend == "sqlite":
        assert threads == loop_thread
    else:
        assert threads != loop_thread


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_command_meeting_a_held_write_lock_waits_off_the_loop(
        app, container, proposed) -> None:  # type: ignore[no-untyped-def]
    path = container.engine.url.database
    holder = sqlite3.connect(path, isolation_level=None, timeout=10)

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
                # Answered while the command waits for the lock: the loop is free.
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

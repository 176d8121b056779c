"""On SQLite the partnership commands run one at a time in a writer thread of their own; on
PostgreSQL in the threadpool, where several overlap their round trips (ADR 0020). Either way
never on the event loop, which keeps answering while a command waits."""

from __future__ import annotations

import threading
from typing import Any

from tests.api.helpers import LARGE_A, REGION_A, UMKM_A, expect, post, propose, two_parties


def test_commands_run_in_the_sqlite_writer_thread_or_the_threadpool(  # type: ignore[no-untyped-def]
        client, container, make_token, backend, monkeypatch) -> None:
    parties = two_parties(client, make_token)
    company, umkm = parties["company"], parties["umkm"]
    threads: list[str] = []
    for name in ("propose_partnership", "confirm", "amend"):
        original = getattr(container.ledger, name)

        def recording(*args: Any, __original: Any = original, **kwargs: Any) -> Any:
            threads.append(threading.current_thread().name)
            return __original(*args, **kwargs)

        monkeypatch.setattr(container.ledger, name, recording)
    pid = propose(client, company, LARGE_A, UMKM_A, REGION_A)["id"]
    expect(post(client, umkm, pid, "confirm", {"effective_date": "2024-01-02"}), 200)
    expect(post(client, company, pid, "amend", {"value_idr": 5}), 200)
    assert len(threads) == 3
    if backend == "sqlite":
        assert all(t.startswith("sqlite-writer") for t in threads), threads
        assert len(set(threads)) == 1  # one thread, commands in turn
    else:
        assert not any(t.startswith("sqlite-writer") for t in threads), threads
    assert not any(t.startswith("asyncio") or t == "MainThread" for t in threads), threads

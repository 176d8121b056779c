"""Run a short command from an async route: on the event loop when that is safe, else in the
threadpool (ADR 0020).

The store is synchronous. A sync route runs in Starlette's threadpool, and that hop costs about
0.1 ms of CPU per request (a wake-up of the loop, GIL hand-offs): on SQLite, a fifth of what a
whole command costs over HTTP. On SQLite a command is local and short (~0.25 ms), and writes
are serialised by the file anyway, so the partnership commands run on the loop itself, but only
while no other connection holds the write lock: a waiting command would stall every other
request for as long as that writer keeps it (a `projections rebuild` on SQLite holds it for its
whole run). `WriteProbe` asks SQLite without waiting (`BEGIN IMMEDIATE` with no busy timeout,
then `ROLLBACK`: ~2 µs); when the lock is taken, the command goes to the threadpool as before.
On PostgreSQL every command goes to the threadpool: its round trips would stall the loop.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

T = TypeVar("T")


class WriteProbe:
    """Whether SQLite's write lock is free right now. Used from the event loop's thread only."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def free(self) -> bool:
        try:
            if self._conn is None:
                self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=0,
                                             check_same_thread=False)
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error:  # "database is locked", or no file to probe: not on the loop
            return False
        self._conn.execute("ROLLBACK")
        return True

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def write_probe(engine: Any) -> WriteProbe | None:
    """The probe for a SQLite store (None for PostgreSQL: its commands always hop)."""
    if engine.dialect.name != "sqlite" or not engine.url.database:
        return None
    return WriteProbe(engine.url.database)


async def run_command(request: Request, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)`: on the loop if the store is SQLite and its write lock is free,
    else in the threadpool."""
    probe: WriteProbe | None = getattr(request.app.state, "write_probe", None)
    if probe is not None and probe.free():
        return fn(*args, **kwargs)
    return await run_in_threadpool(fn, *args, **kwargs)

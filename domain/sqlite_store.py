"""SQLite: a command run at once, inside a write transaction taken without waiting (ADR 0023).

The library's SQLite datastore gives each recorder call a transaction of its own, through a
pool that issues one writer connection at a time, on connections that wait up to the lock
timeout for SQLite's one write lock. Run on the event loop, any of those waits would stop the
server (ADR 0020). `NowSQLiteDatastore.write_now` instead takes the write lock up front with
`BEGIN IMMEDIATE` on a connection of its own whose busy timeout is zero: either it has the lock
at once, or it raises `WouldWait` before anything is read or written. While it holds the lock,
every transaction the recorders open in that context (reads and writes of the command, its
snapshot) is a savepoint on that connection, so nothing of the command can wait, and its writes
commit together or not at all.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from eventsourcing.persistence import OperationalError
from eventsourcing.sqlite import (
    SQLiteConnection, SQLiteCursor, SQLiteDatastore, SQLiteFactory, SQLiteTransaction,
)
from eventsourcing.utils import Environment

_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}


class WouldWait(Exception):
    """SQLite's write lock is held elsewhere (or this store cannot hold it): run the command
    where it may wait."""


class _Savepoint(SQLiteTransaction):
    """A recorder's transaction inside the held one: a savepoint, released or rolled back
    by `_HeldConnection` (the library's `__exit__` translates errors as usual)."""

    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        cursor.execute("SAVEPOINT recorder")
        return cursor


class _HeldConnection(SQLiteConnection):
    """The connection that holds the write lock for one command; its busy timeout is zero."""

    def __init__(self, sqlite_conn: sqlite3.Connection, db_name: str) -> None:
        super().__init__(sqlite_conn, max_age=None)
        self.db_name = db_name
        self.wrote = False  # a recorder committed a write inside the held transaction

    @contextmanager
    def transaction(self, *, commit: bool) -> Iterator[SQLiteCursor]:
        with _Savepoint(self, commit=commit) as curs, curs:
            yield curs

    def commit(self) -> None:
        self._sqlite_conn.execute("RELEASE recorder")
        self.wrote = True

    def rollback(self) -> None:
        self._sqlite_conn.execute("ROLLBACK TO recorder")
        self._sqlite_conn.execute("RELEASE recorder")


_HELD: ContextVar[_HeldConnection | None] = ContextVar("kemitraan_sqlite_held", default=None)


def holding() -> bool:
    """Whether this context runs inside a held write transaction."""
    return _HELD.get() is not None


def is_busy(exc: BaseException | None) -> bool:
    """Whether SQLite answered "busy" or "locked" somewhere in this exception's chain."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, sqlite3.OperationalError) and \
                getattr(exc, "sqlite_errorcode", 0) & 0xFF in _BUSY:
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


class NowSQLiteDatastore(SQLiteDatastore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._now: _HeldConnection | None = None
        self._now_lock = threading.Lock()  # one holder at a time (one loop per process, or not)

    @contextmanager
    def get_connection(self, *, commit: bool) -> Iterator[SQLiteConnection]:
        held = _HELD.get()
        if held is not None and held.db_name == self.pool.db_name:
            yield held
            return
        with super().get_connection(commit=commit) as conn:
            yield conn

    @contextmanager
    def write_now(self) -> Iterator[_HeldConnection]:
        """Hold SQLite's write lock for the body, or raise `WouldWait` without waiting.

        Commits when the body returns; rolls back when it raises. A "busy" anywhere inside (a
        read meeting a checkpoint's lock, say) rolls back and raises `WouldWait`: nothing was
        written, and the command can run again where it may wait."""
        if self.pool.is_sqlite_memory_mode or _HELD.get() is not None:
            raise WouldWait("this store cannot hold its write lock here")
        if not self._now_lock.acquire(blocking=False):  # another thread's loop holds it
            raise WouldWait("the connection that holds the write lock is in use")
        try:
            held = self._now or self._connect_now()
            raw = held._sqlite_conn
            try:
                raw.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:
                if is_busy(e):
                    raise WouldWait("the write lock is held elsewhere") from e
                raise OperationalError(e) from e
            held.wrote = False
            token = _HELD.set(held)
            try:
                yield held
                raw.execute("COMMIT")
            except BaseException as e:
                if raw.in_transaction:
                    raw.rollback()
                if is_busy(e):
                    raise WouldWait("the store was busy inside the held transaction") from e
                if isinstance(e, sqlite3.OperationalError):  # at COMMIT (recorders translate
                    raise OperationalError(e) from e        # their own, as the library does)
                raise
            finally:
                _HELD.reset(token)
        finally:
            self._now_lock.release()

    def _connect_now(self) -> _HeldConnection:
        try:
            raw = sqlite3.connect(self.pool.db_name, uri=True, check_same_thread=False,
                                  isolation_level=None, timeout=0)
        except sqlite3.Error as e:
            raise WouldWait("no connection to hold the write lock with") from e
        raw.row_factory = sqlite3.Row
        self._now = _HeldConnection(raw, self.pool.db_name)
        return self._now

    def close(self) -> None:
        now, self._now = self._now, None
        if now is not None:
            now.close()
        super().close()


class NowSQLiteFactory(SQLiteFactory):
    """The library's SQLite factory, with a datastore that can hold the write lock."""

    def __init__(self, env: Environment | Any) -> None:
        super().__init__(env)
        plain = self.datastore
        self.datastore = NowSQLiteDatastore(
            db_name=plain.pool.db_name, lock_timeout=plain.pool.lock_timeout,
            single_row_tracking=plain.single_row_tracking,
            originator_id_type=plain.originator_id_type)
        plain.close()

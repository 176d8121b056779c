"""Servers that write the same database see each other, and then stop caching.

The command cache (ADR 0010) saves a read per command, and is exact while one process writes a
stream. Each server process holds a shared advisory lock for its lifetime on a connection of its
own; a thread counts the holders every `interval` seconds, and while there is more than one the
cache is paused (emptied, nothing kept), so that servers behind one load balancer never decide
on each other's stale state. When the others have been gone for `settle` seconds, it resumes,
empty: a server whose guard connection dropped for a moment (a network blip, a PostgreSQL
restart) is back before then, and the others must not cache meanwhile (a probe saw 30-70 409s
per blip on plain sequential writes when they resumed at once). Between a second server
starting and the first noticing (at most `interval`), a stale entry costs what ADR 0010 says: a
refusal is decided again on the stored state, a save is a 409 once.

SQLite has no advisory locks: each server process holds a shared POSIX lock (`lockf`) on a file
beside the database (`kemitraan.db.servers`), and a check tries to turn it into an exclusive
one without waiting. That succeeds only while no other process holds the file, and is turned
back at once. POSIX locks belong to the process, so servers in one process (tests) do not see
each other; processes on one machine do (the CLI writes no stream a server may hold:
`kemitraan import` only proposes new partnerships).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from typing import Any

import structlog

from domain.command_cache import CommandCache

log = structlog.get_logger()

# pg_advisory_lock_shared(int4, int4): "KMTR", 1 = server processes that cache commands
KEY = (0x4B4D5452, 1)
HOLDERS = ("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
           " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
           " AND classid = %s AND objid = %s AND objsubid = 2")


class CacheGuard:
    def __init__(self, engine: Any, cache: CommandCache, interval: float = 1.0,
                 settle: float | None = None) -> None:
        self.engine = engine
        self.cache = cache
        self.interval = interval
        self.settle = 5 * interval if settle is None else settle
        self._crowded_at: float | None = None  # when another server (or doubt) was last seen
        self._conn: Any = None  # PostgreSQL: the connection holding the advisory lock
        self._fd: int | None = None  # SQLite: the open lock file
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Registers this process and decides once before returning (so that a second server
        never serves a command from its cache), then keeps checking in a thread."""
        # A server with the cache off registers too: the others must see it write.
        if self.engine.dialect.name not in ("postgresql", "sqlite"):
            return
        if self.engine.dialect.name == "sqlite" and not self.engine.url.database:
            return
        self.check()
        self._thread = threading.Thread(target=self._loop, name="cache-guard", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 5)
            self._thread = None
        self._close()

    def check(self) -> int:
        """Counts the servers caching on this database and pauses or resumes the cache;
        returns the count (0: could not tell, and the cache is paused)."""
        try:
            holders = self._count_sqlite() if self.engine.dialect.name == "sqlite" else \
                self._count_postgresql()
        except Exception as e:  # a lost connection: the others no longer see us either
            log.warning("writers.check_failed", error=str(e).splitlines()[0] if str(e) else
                        type(e).__name__)
            self._close()
            holders = 0
        alone_since = self._crowded_at
        if holders != 1:
            self._crowded_at = time.monotonic()
        if holders == 1:
            if alone_since is not None and time.monotonic() - alone_since < self.settle:
                return holders  # alone only for a moment: stay paused until it lasts
            if not self.cache.active and self.cache.maxsize > 0:
                log.info("writers.cache_resumed")
            self.cache.resume()
        else:
            if self.cache.active:
                log.warning("writers.cache_paused", servers=holders or None,
                            reason="another server writes this database" if holders else
                            "cannot tell whether another server writes this database")
            self.cache.pause()
        return holders

    def _count_postgresql(self) -> int:
        if self._conn is None:
            raw = self.engine.raw_connection()
            conn = raw.driver_connection
            raw.detach()  # held for the process's lifetime, with its lock
            conn.rollback()
            conn.autocommit = True
            self._conn = conn
            self._conn.execute("SELECT pg_advisory_lock_shared(%s, %s)", KEY)
        row = self._conn.execute(HOLDERS, KEY).fetchone()
        return int(row[0]) if row else 0

    def _count_sqlite(self) -> int:
        """1 while this process alone holds the lock file, else 2 (at least one other)."""
        if self._fd is None:
            fd = os.open(self.engine.url.database + ".servers", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.lockf(fd, fcntl.LOCK_SH)  # waits only for another server's check
            except OSError:
                os.close(fd)
                raise
            self._fd = fd
        try:
            fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return 2
        fcntl.lockf(self._fd, fcntl.LOCK_SH)
        return 1

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # releases the lock
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                # Released before closing: the server ends a closed session's backend (and
                # its locks) only a moment later, and the others would count us meanwhile.
                conn.execute("SELECT pg_advisory_unlock_shared(%s, %s)", KEY)
            except Exception:
                pass
            try:
                conn.close()
            except Exception:
                pass

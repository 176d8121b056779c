"""A write-through cache of the aggregates this process wrote last, for commands only.

A command *takes* its aggregate out of the cache (so no two threads ever share one object; a
concurrent command on the same stream reads it from the store instead and the store's version
check decides the race exactly as without a cache) and puts it back only after a successful save,
or unchanged after a refusal. Reads never use it.

It is exact while this process is the only writer of a stream. When another process wrote in
between, the cached state is stale: a refusal is decided again on the stored state
(`LedgerBase._run`), and a save fails on the store's version check, so the entry is dropped and
the caller gets a 409 once (ADR 0010). A server pauses its cache while another server writes to
the same PostgreSQL database (`api.writers`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any
from uuid import UUID


class CommandCache:
    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[UUID, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._paused = False

    @property
    def active(self) -> bool:
        return self.maxsize > 0 and not self._paused

    def pause(self) -> None:
        """Another process writes the same streams: keep nothing, forget everything kept."""
        with self._lock:
            self._paused = True
            self._items.clear()

    def resume(self) -> None:
        self._paused = False

    def take(self, key: UUID) -> Any | None:
        if not self.active:
            return None
        with self._lock:
            return self._items.pop(key, None)

    def keep(self, key: UUID, aggregate: Any) -> None:
        if not self.active:
            return
        with self._lock:
            if self._paused:  # paused while this command ran
                return
            self._items[key] = aggregate
            if len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

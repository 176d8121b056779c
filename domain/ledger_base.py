"""The base of the ledger application: loading, saving and the command cache.

Library errors are translated into the domain's own at this boundary (ADR 0005).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    ApplicationRecorder, EventStore, InfrastructureFactory, IntegrityError, JSONTranscoder,
)
from eventsourcing.utils import Environment

from domain import transcodings
from domain.base import project
from domain.business import Business
from domain.command_cache import CommandCache
from domain.errors import DuplicateKey, StaleVersion
from domain.partnership import Partnership
from domain.sqlite_store import NowSQLiteDatastore, WouldWait, holding

A = TypeVar("A", bound=Aggregate)
T = TypeVar("T")


@dataclass(frozen=True)
class Written:
    """What a successful write answers: the object, its new version, and the global position
    (`seq`) of the last event it recorded. `repeat` marks an idempotent replay."""

    id: UUID
    version: int
    position: int | None  # None on an idempotent repeat: nothing new was recorded
    status: str | None = None  # the lifecycle status after the write, where there is one
    repeat: bool = False



class Reads:
    """The event store for answering reads, through a connection pool of its own (ADR 0022).

    The library's pool hands out connections in the order they were asked for, and a writer
    waits there for its one writer connection: while a command waits for the store's write
    lock (held by a rebuild or an import in another process), every later request of the
    process, readers included, waited behind it. Reads (a partnership, its history, time
    travel, a business, a rule pack, a token check, the views' pages of the log) take their
    connections here instead."""

    def __init__(self, app: Application) -> None:
        self.factory: InfrastructureFactory[Any] | None = None
        self.recorder: ApplicationRecorder
        self.events: EventStore[Any]
        self.repository: Repository[Any]
        if _in_memory(app):  # a second factory would open a second, empty store
            self.recorder, self.events, self.repository = app.recorder, app.events, app.repository
            return
        # The ledger's settings, minus DDL, with any `READS_<KEY>` given for this factory
        # (its pool sizes, say: the application's own pool opens its minimum up front).
        overrides = {k.removeprefix("READS_"): v for k, v in app.env.items()
                     if k.startswith("READS_")}
        env = Environment(app.env.name, {**app.env, "CREATE_TABLE": "false", **overrides})
        self.factory = InfrastructureFactory.construct(env)
        self.recorder = self.factory.application_recorder()  # the views read the log here too
        self.events = self.factory.event_store(mapper=app.mapper, recorder=self.recorder)
        snapshots = (self.factory.event_store(
            mapper=app.mapper, recorder=self.factory.aggregate_recorder("snapshots"))
            if app.snapshots is not None else None)
        self.repository = Repository(event_store=self.events, snapshot_store=snapshots)

    def close(self) -> None:
        if self.factory is not None:
            self.factory.close()


def _in_memory(app: Application) -> bool:
    """A store that lives in this process's memory: the library's POPO recorders, or SQLite's
    `:memory:` (tests; the service always has a file or a server)."""
    name = app.env.get("SQLITE_DBNAME") or ""
    return (type(app.factory).__module__ == "eventsourcing.popo"
            or name == ":memory:" or "mode=memory" in name)


class LedgerBase(Application):
    # Partnerships and businesses can grow long (evidence, realizations, facts); tokens cannot.
    snapshotting_intervals = {Partnership: 50, Business: 50}
    snapshotting_projectors = {Partnership: project, Business: project}

    def __init__(self, env: Any = None) -> None:
        super().__init__(env)
        self.command_cache = CommandCache(int(self.env.get("COMMAND_CACHE_MAXSIZE") or 0))
        self._taken = threading.local()  # the aggregate `_take` handed out from the cache
        # Called with no argument after every save (e.g. to wake the projection runner).
        self.after_save: list[Callable[[], None]] = []
        self._reads: Reads | None = None  # opened on the first read
        self._reads_lock = threading.Lock()

    @property
    def reads(self) -> Reads:
        if self._reads is None:
            with self._reads_lock:
                if self._reads is None:
                    self._reads = Reads(self)
        return self._reads

    def close(self) -> None:
        if self._reads is not None:
            self._reads.close()
        super().close()

    def _notify(self, recordings: list[Any]) -> None:
        if holding():  # told after the held transaction commits (`now`)
            return
        for listener in self.after_save:
            listener()

    def now(self, command: Callable[[], T]) -> T:
        """Run a command at once, holding SQLite's write lock for the whole of it, or raise
        `WouldWait` before anything is done (ADR 0023). For a caller that must never wait:
        the event loop. Stores other than an SQLite file always raise `WouldWait`."""
        datastore = getattr(self.factory, "datastore", None)
        if not isinstance(datastore, NowSQLiteDatastore):
            raise WouldWait("this store cannot run a command at once")
        held = None
        try:
            with datastore.write_now() as held:
                result = command()
        except BaseException:
            if held is not None and held.wrote:
                # Saved, then rolled back: the cache may hold what was never committed.
                self.command_cache.clear()
            raise
        if held.wrote:
            self._notify([])
        return result

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcodings.register(transcoder)

    # ---- infrastructure helpers --------------------------------------------------------------

    def _load(self, cls: type[A], agg_id: UUID, version: int | None = None, *,
              reading: bool = False) -> A | None:
        """Most streams are short: read them whole in one query. Only a stream that turns out
        to reach the snapshot interval is read again through the snapshot-aware repository.
        `reading`: for an answer, not a command: through the readers' own pool (`Reads`)."""
        events, repository = ((self.reads.events, self.reads.repository) if reading
                              else (self.events, self.repository))
        interval = self.snapshotting_intervals.get(cls)
        head = list(events.get(agg_id, lte=version, limit=interval))
        if interval is None or len(head) < interval:
            agg = project(None, head)
        else:
            try:
                agg = repository.get(agg_id, version=version, projector_func=project)
            except AggregateNotFoundError:
                return None
        return agg if isinstance(agg, cls) else None

    def _save(self, agg: Aggregate, *, creating: str | None = None) -> Written:
        try:
            recordings = self.save(agg)
        except IntegrityError:
            if creating:
                raise DuplicateKey(creating) from None
            raise StaleVersion(
                "another write to this object was recorded first; reload it and retry"
            ) from None
        return Written(agg.id, agg.version, recordings[-1].notification.id,
                       status=getattr(agg, "status", None))

    def _as_of(self, cls: type[A], agg_id: UUID, as_of: datetime) -> A | None:
        """The state as recorded at `as_of`: replay the stream, stop at the first later event
        (a read: through the readers' pool)."""
        def until() -> Iterator[Any]:
            for e in self.reads.events.get(agg_id):
                if e.timestamp > as_of:
                    return
                yield e
        agg = project(None, until())
        return agg if isinstance(agg, cls) else None

    def _take(self, cls: type[A], agg_id: UUID) -> A | None:
        """The aggregate for a command: from the command cache if this process wrote it last."""
        cached = self.command_cache.take(agg_id)
        if isinstance(cached, cls):
            self._taken.cached = cached
            return cached
        return self._load(cls, agg_id)

    def _run(self, agg: A, act: Callable[[A], None]) -> Written:
        """Act and save; keep the aggregate for the next command if it is exactly as stored.

        A refusal of a cached aggregate is decided again on the stored state: another process
        may have written the stream since this one cached it, and a 409 or 404 must describe
        what is recorded. A save is never retried: its version check is what makes two
        concurrent writes end with one winner and one 409 (ADR 0010)."""
        from_cache = getattr(self._taken, "cached", None) is agg
        self._taken.cached = None
        version = agg.version
        try:
            act(agg)
        except Exception:
            if from_cache:
                stored = self._load(type(agg), agg.id)
                if stored is not None:
                    return self._run(stored, act)
            if agg.version == version and not agg.pending_events:
                self.command_cache.keep(agg.id, agg)  # refused before any change
            raise
        written = self._save(agg)  # on failure the aggregate is not kept
        self.command_cache.keep(agg.id, agg)
        return written

    @staticmethod
    def _check_version(agg: Aggregate, expected: int | None) -> None:
        if expected is not None and expected != agg.version:
            raise StaleVersion(f"If-Match version {expected} is stale: the current version is "
                               f"{agg.version}")

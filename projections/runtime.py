"""The projection runtime: views on `eventsourcing.projection`, caught up from the global log.

Each view is an `eventsourcing.projection.Projection` whose materialised view is a
`ViewRecorder`: a `TrackingRecorder` that keeps the view's position in `view_tracking`, written
through SQLAlchemy in the *same* transaction as the view's rows. The library's own
`ProjectionRunner` needs `recorder.subscribe()` (absent on SQLite) and commits once per event;
`Runtime` instead catches up in pages — one transaction per page for all views, tracking
positions moved to the page's end inside it — which is ~25x faster with the same guarantee: a
crash mid-page rolls back both the rows and the position (ADR 0011).

Waking: after each save in this process (`wake()`), on PostgreSQL by LISTEN on the channel the
library NOTIFYs on every insert, and on SQLite by a short poll for writers in other processes.

Several runners (several `kemitraan serve` processes, or `kemitraan project`) may run on one
database: each page first moves the tracking rows conditionally from the positions it read, which
also takes the rows' write lock; a runner that lost the race rolls back and reads again.

Rebuild replays the whole log into a view from nothing in ONE transaction: readers keep seeing
the old, complete view until the commit (MVCC on PostgreSQL, WAL snapshot on SQLite), so a server
never serves a half-rebuilt view. PostgreSQL builds into shadow tables swapped in at the commit;
SQLite deletes the rows and replays into the same tables, holding its single write lock.
"""

from __future__ import annotations

import inspect
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
import structlog
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import IntegrityError, Notification, Tracking, TrackingRecorder
from eventsourcing.projection import Projection
from eventsourcing.utils import resolve_topic

from projections.event_log import EventLog
from projections.tables import metadata, reconcile_indexes, tracking

URGENT = "kemitraan:reader-waits"  # a NOTIFY payload on the event channel (follow mode)
# SQLite has no notifications: a runner looks at the log this often for other processes' writes
# (its own process wakes it at once). A look with nothing new costs two small queries; a
# follower's `min_position` read waits for it (at 1 s, a probe measured ~1.07 s per read).
POLL_SQLITE = 0.1
log = structlog.get_logger("projections")


class ViewRecorder(TrackingRecorder):
    """The tracking half of a view: its position, in the runner's current transaction."""

    def __init__(self, engine: sa.Engine, name: str) -> None:
        self.engine = engine
        self.name = name
        self.conn: sa.Connection | None = None  # set by the runtime for the page's transaction

    def _connection(self) -> sa.Connection:
        if self.conn is None:
            raise RuntimeError(f"view {self.name} is written only inside a runtime transaction")
        return self.conn

    def insert_tracking(self, tracking_: Tracking) -> None:
        """Moves the position forward; a position already reached raises IntegrityError."""
        moved = self._connection().execute(
            sa.update(tracking).where(tracking.c.view == self.name,
                                      tracking.c.position < tracking_.notification_id)
            .values(position=tracking_.notification_id)).rowcount
        if moved != 1:
            raise IntegrityError(f"{self.name} is already at or past {tracking_.notification_id}")

    def max_tracking_id(self, application_name: str) -> int | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(tracking.c.position)
                                .where(tracking.c.view == self.name)).scalar()


class View(Projection[ViewRecorder]):
    """Base of every view: its tables, the event topics it needs, and how it folds them.

    Subclasses register handlers on `process_event` (a `singledispatchmethod`, as in the
    library's own projections) for the event classes they care about, write with `self.conn`,
    and may defer work to `flush()`, which runs once at the end of each page, still inside the
    page's transaction.
    """

    name = "view"
    tables: tuple[sa.Table, ...] = ()
    topics: tuple[str, ...] = ()
    # Indexes (by name) that only reads use, never the view's own folding: a PostgreSQL
    # rebuild builds them once after the fold instead of row by row (`_shadow`). Naming one
    # the fold does use costs time (a scan per lookup in the rebuild), never correctness.
    read_indexes: tuple[str, ...] = ()
    # True: `process_record` also sees every stored record of the page, undecoded and of any
    # topic (the audit log hashes them as stored); `process_event` still gets only `topics`.
    records = False
    # Tables a release no longer keeps (their rows now come from elsewhere): `setup` drops
    # them from existing stores.
    retired_tables: tuple[str, ...] = ()
    # Views whose rows this one reads while it folds (ADR 0011, "A view may read another
    # view's rows"): they must have folded at least as far as each page it folds, so a rebuild
    # of this view rebuilds them with it, and a lane holds them together.
    reads: tuple[str, ...] = ()

    def __init__(self, view: ViewRecorder) -> None:
        super().__init__(view)
        if not type(self).topics:
            type(self).topics = topics_of(type(self))

    @property
    def conn(self) -> sa.Connection:
        return self.view._connection()

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Events this view has no handler for change nothing."""

    def process_record(self, record: Notification) -> None:
        """Views with `records = True`: each stored record of the page, in log order, before
        `process_event` gets its decoded event (if the view reads its topic)."""

    def handler(self, event_class: type) -> Callable[..., None] | None:
        """The function `process_event` dispatches `event_class` to, looked up once per class
        (`singledispatchmethod` builds a bound wrapper on every call), or None when the
        instance's `process_event` was replaced (then the runtime calls that)."""
        if "process_event" in self.__dict__:
            return None
        cache = type(self).__dict__.get("_handlers")
        if cache is None:
            cache = {}
            type.__setattr__(type(self), "_handlers", cache)
        try:
            return cache[event_class]
        except KeyError:
            getattr(self, "process_event")  # applies any deferred registrations
            dispatcher = inspect.getattr_static(type(self), "process_event").dispatcher
            fn = cache[event_class] = dispatcher.dispatch(event_class)
            return fn

    def flush(self) -> None:
        """End of a page: write what was collected (still inside the page's transaction).

        A view keeps no state across pages: when a page fails, the runtime replaces the view
        with a fresh instance, so half-collected changes never leak into the next page."""

    def clear(self) -> None:
        """Drop every row (for a rebuild), children before parents."""
        for table in reversed(self.tables):
            self.conn.execute(table.delete())


def topics_of(view_class: type[View]) -> tuple[str, ...]:
    """The stored-event topics a view has handlers for (a handler for a base class covers its
    subclasses), so the runtime reads only those from the log."""
    registry = inspect.getattr_static(view_class, "process_event").dispatcher.registry
    found: set[str] = set()
    stack = [cls for cls in registry if cls is not object]
    while stack:
        cls = stack.pop()
        topic = cls.__dict__.get("TOPIC")
        if topic:
            found.add(topic)
        stack.extend(cls.__subclasses__())
    return tuple(sorted(found))


class LostRace(Exception):
    """Another runner moved a tracking row first: roll back and read the positions again."""


class Runtime:
    # Events per page (one transaction). On PostgreSQL larger pages cost fewer statements per
    # event (catch-up of every view in two lanes: ×1.12, the first lane alone ×1.20 at 4,000
    # against 1,000; docs/benchmarks.md); on SQLite a page holds the one writer's lock, so
    # commands would wait behind it longer.
    PAGE = 1000
    PAGE_POSTGRESQL = 4000
    # Under a stream of writes the runner folds at most once per LINGER seconds, so that a
    # page holds every event recorded meanwhile: a page has a fixed cost (a transaction,
    # every view's flush, the tracking rows, a funnel refresh after it) of ~5 ms on SQLite,
    # as much as several commands, and one page per command cut `kemitraan serve`'s write
    # rate on SQLite to ~150/s (ADR 0011, "Folding in batches"). A read that waits for a
    # position (`min_position`, `wait_for`) does not wait for the linger. 0.2 s rather than
    # 0.05: a page's fixed cost is that of several commands still (~25 ms of CPU on
    # PostgreSQL), and a sustained stream with the runner in the server went from ~750 to
    # ~1,100 commands/s on SQLite and from ~240 to ~480 on PostgreSQL (docs/benchmarks.md).
    # KEMITRAAN_PROJECTION_LINGER sets another.
    LINGER = 0.2
    # The maintenance tasks (the funnel cells, ADR 0019) run at most once per MAINTAIN_GAP
    # seconds: woken after every page, they cost more than the page itself under a stream of
    # writes (a fifth of the server's CPU on PostgreSQL), and cells may answer for
    # `stats_max_age` (180 s by default) after a change anyway.
    MAINTAIN_GAP = 1.0
    # SQLite: how long the WAL's truncation after a rebuild waits for readers and writers
    WAL_WAIT_MS = 1000

    def __init__(self, ledger: Any, engine: sa.Engine, view_classes: Sequence[type[View]],
                 store_kind: str = "sqlite", page: int | None = None,
                 maintenance: Sequence[Callable[[sa.Engine], bool]] = (),
                 log: EventLog | None = None, linger: float | None = None) -> None:
        self.ledger = ledger
        if linger is not None:
            self.LINGER = linger
        self.engine = engine
        # the log's head, read through `engine` (see `EventLog.head`)
        self.log = log or EventLog(engine, engine.dialect.name, ledger.recorder)
        self.store_kind = store_kind
        self.page = page or (self.PAGE_POSTGRESQL if store_kind == "postgresql" else self.PAGE)
        # Work derived from the views (pre-aggregates), done in a thread of its own after each
        # catch-up so that pages never wait behind it: each call of a task does one unit in
        # its own transactions and returns True while more is due.
        self.maintenance = list(maintenance)
        self._maintain_wake = threading.Event()
        self._maintain_lock = threading.Lock()
        self.views: list[View] = [cls(ViewRecorder(engine, cls.name)) for cls in view_classes]
        missing = {r for v in self.views for r in v.reads} - {v.name for v in self.views}
        if missing:  # a view that reads them would fold past them
            raise ValueError(f"views read by others are missing: {sorted(missing)}")
        self._lock = threading.Lock()  # one page at a time in this process
        self._wake = threading.Event()
        self._urgent = threading.Event()  # a reader waits for a position: no linger
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._following = False
        self._caught_up = threading.Condition()
        self.last_error: str | None = None

    # --- setup and positions ------------------------------------------------------------

    def setup(self) -> None:
        """Creates what is missing. A view that has folded events but lacks a table or a
        column (a release added one) is rebuilt here, before anything reads it: a new table
        filled only from now on would answer wrongly about the past, and a half-filled one
        must not be served."""
        inspector = sa.inspect(self.engine)
        existing = set(inspector.get_table_names())
        # a table a release gave a column it lacks here counts as missing: rebuilt below
        existing -= {t.name for v in self.views for t in v.tables
                     if t.name in existing and _lacks_columns(inspector, t)}
        metadata.create_all(self.engine)
        with self.engine.begin() as conn:
            q = conn.dialect.identifier_preparer.quote
            for name in sorted({n for v in self.views for n in v.retired_tables} & existing):
                conn.exec_driver_sql(f"DROP TABLE {q(name)}")
                log.info("projections.table_retired", table=name)
            changed = reconcile_indexes(conn, [t for v in self.views for t in v.tables
                                              if t.name in existing])
            if changed:
                log.warning("projections.indexes_reconciled", changes=changed)
            known = dict(conn.execute(sa.select(tracking.c.view, tracking.c.position)).all())
            for view in self.views:
                if view.name not in known:
                    conn.execute(tracking.insert().values(view=view.name, position=0))
        stale = [v.name for v in self.views if known.get(v.name, 0) > 0
                 and any(t.name not in existing for t in v.tables)]
        if stale:
            log.warning("projections.rebuild_for_new_tables", views=stale)
            self.rebuild(stale)

    def view(self, name: str) -> View:
        for v in self.views:
            if v.name == name:
                return v
        raise KeyError(name)

    def with_reads(self, names: Sequence[str]) -> list[str]:
        """`names` and the views they read while folding, in this runtime's order: what a
        rebuild of `names` must rebuild (a view read by another might otherwise lag behind a
        page the other folds)."""
        wanted = set(names) | {r for n in names for r in self.view(n).reads}
        return [v.name for v in self.views if v.name in wanted]

    def positions(self, conn: sa.Connection | None = None) -> dict[str, int]:
        if conn is None:
            with self.engine.connect() as c:
                return self.positions(c)
        rows = conn.execute(sa.select(tracking.c.view, tracking.c.position)).all()
        known = {r.view: int(r.position) for r in rows}
        return {v.name: known.get(v.name, 0) for v in self.views}

    def position(self, conn: sa.Connection | None = None) -> int:
        """The position every view has reached (what a projection read may claim)."""
        return min(self.positions(conn).values(), default=0)

    def head(self) -> int:
        return self.log.head()

    def status(self, head: int | None = None) -> list[dict[str, Any]]:
        """Position and lag per view, against `head` (default: the log's head now)."""
        head = self.head() if head is None else head
        return [{"view": name, "position": pos, "lag": max(head - pos, 0)}
                for name, pos in self.positions().items()]

    # --- catching up --------------------------------------------------------------------

    def _topics(self, views: Iterable[View]) -> list[str]:
        return sorted({t for v in views for t in v.topics})

    def run_page(self, views: Sequence[View] | None = None,
                 conn: sa.Connection | None = None) -> tuple[int, int]:
        """Folds one page into `views` (default all) in one transaction.

        Returns (events folded, position reached by the slowest of them). With `conn`, works
        inside the caller's transaction (rebuild) and never races.
        """
        views = list(views or self.views)
        if conn is not None:
            return self._page(conn, views, claim=False)
        while True:
            try:
                with self.engine.begin() as c:
                    if self.store_kind == "postgresql":
                        # A page need not wait for its WAL flush: a server crash can lose the
                        # last pages committed, but each with its tracking row (one
                        # transaction), so the views come back consistent, just older, and
                        # fold those events again (ADR 0011).
                        c.exec_driver_sql("SET LOCAL synchronous_commit = off")
                    return self._page(c, views, claim=True)
            except LostRace:
                continue

    def _page(self, conn: sa.Connection, views: list[View], claim: bool) -> tuple[int, int]:
        positions = self.positions(conn)
        start = min(positions[v.name] for v in views)
        head = self.head()
        if head <= start:
            return 0, start
        # Every view together reads nearly every topic, and filtering by topic in the query
        # costs more than skipping the few others here (a per-row `topic = ANY(...)` on
        # PostgreSQL: ~4x slower pages); a rebuild of some views reads only their topics,
        # unless one of them reads every record.
        whole = len(views) == len(self.views) or any(v.records for v in views)
        topics = () if whole else self._topics(views)
        page = self.ledger.reads.recorder.select_notifications(  # not behind waiting writers
            start=start, limit=self.page, stop=head, topics=topics, inclusive_of_start=False)
        # A short page means the log up to `head` is exhausted: every event in between was of
        # topics no view reads, so the positions move to `head` (lag then really reaches 0).
        end = page[-1].id if len(page) == self.page else head
        behind = [v for v in views if positions[v.name] < end]
        if claim:
            for v in behind:
                moved = conn.execute(tracking.update().where(
                    tracking.c.view == v.name, tracking.c.position == positions[v.name])
                    .values(position=end)).rowcount
                if moved != 1:
                    raise LostRace
        else:
            conn.execute(tracking.update().where(tracking.c.view.in_([v.name for v in behind]))
                         .values(position=end))
        for v in behind:
            v.view.conn = conn
        try:
            app_name = self.ledger.name
            mapper = self.ledger.mapper
            folded = 0
            # Which views read a topic, each with its handler for the topic's event class (the
            # class the mapper decodes it to): resolved once per page; a view still before the
            # page's start reads every event of its topics, one already past some is checked.
            by_topic: dict[str, list[tuple[View, Callable[..., None] | None]]] = {}
            lagging = [v for v in behind if positions[v.name] > start]
            recorders = [v for v in behind if v.records]
            for n in page:
                for v in recorders:
                    if positions[v.name] < n.id:
                        v.process_record(n)
                readers = by_topic.get(n.topic)
                if readers is None:
                    reading = [v for v in behind if n.topic in v.topics]
                    cls = resolve_topic(n.topic) if reading else None
                    readers = by_topic[n.topic] = [(v, v.handler(cls)) for v in reading]
                if lagging:
                    readers = [r for r in readers if positions[r[0].name] < n.id]
                if not readers:
                    continue
                event = mapper.to_domain_event(n)
                t = Tracking(app_name, n.id)
                for v, handler in readers:
                    if handler is None:
                        v.process_event(event, t)
                    else:
                        handler(v, event, t)
                folded += 1
            for v in behind:
                v.flush()
            if len(page) == self.page:
                self._analyze_when_grown(conn, behind, start, end)
        except BaseException:
            # The transaction rolls back: drop whatever the views collected for this page, by
            # replacing them with fresh instances (views keep no state across pages).
            self.views = [type(v)(v.view) if v in behind else v for v in self.views]
            raise
        finally:
            for v in behind:
                v.view.conn = None
        return folded, end

    def _analyze_when_grown(self, conn: sa.Connection, views: Sequence[View], start: int,
                            end: int) -> None:
        """PostgreSQL: refreshes the planner statistics of the views' tables when a full page
        takes the position past 8, 16, 32, ... pages' worth of events. A catch-up or rebuild
        grows the tables faster than autovacuum looks at them (a rebuild's rows are not even
        visible to it until it commits), and statements planned for the empty table got ~1 s
        slower each at 1 M partnerships. ANALYZE inside the page's transaction sees the page's
        own rows; doubling keeps its cost a small, shrinking share of the pages. Counted from
        the position, not from the process's start: a runner restarted on grown tables
        analyzes when the log it has folded doubles, not 6 times in its first 256 pages."""
        before, after = start // self.page, end // self.page
        if self.store_kind != "postgresql" or after < 8 or \
                after.bit_length() == before.bit_length():
            return
        names = sorted({t.name for v in views for t in v.tables})
        # ANALYZE waits for a VACUUM of the same table (an anti-wraparound one is never
        # cancelled for us): give up after a moment rather than stall the page behind it.
        try:
            with conn.begin_nested():
                conn.exec_driver_sql("SET LOCAL lock_timeout = '200ms'")
                conn.exec_driver_sql("ANALYZE " + ", ".join(f'"{name}"' for name in names))
        except sa.exc.OperationalError as e:
            log.info("projections.analyze_skipped", error=str(e.orig).splitlines()[0])
        finally:
            conn.exec_driver_sql("SET LOCAL lock_timeout TO DEFAULT")

    def catch_up(self, chase: bool = True) -> int:
        """Folds everything recorded so far into every view; returns the position reached.
        `chase=False` (the background runner): stops once it has reached what was recorded
        when its last page began, even if more was recorded meanwhile; the runner's loop
        lingers before the next page."""
        with self._lock:
            while True:
                before = self.head()
                _, reached = self.run_page()
                if reached >= (before if not chase else self.head()):
                    break
        with self._caught_up:
            self._caught_up.notify_all()
        return self.position()

    # --- waiting ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Someone keeps the views caught up: this process's threads, or, when following,
        another process; reads then wait for positions instead of folding themselves."""
        return self._following or any(t.is_alive() for t in self._threads)

    @property
    def following(self) -> bool:
        """This process only reads the views; another one folds them (`follow()`)."""
        return self._following

    def follow(self) -> None:
        """Only read: another process (`kemitraan project`) folds the views. A read with
        `min_position` then waits for the positions it reaches, as with a runner here."""
        self._following = True

    def wake(self) -> None:
        self._wake.set()

    def wait_for(self, position: int, timeout: float = 5.0) -> int:
        """Read-your-writes: the position reached once it is >= `position`, or at the timeout.

        With no background runner in this process (tests, CLI), catches up synchronously.
        """
        if not self.running:
            return self.catch_up()
        deadline = time.monotonic() + timeout
        reached = self.position()
        if reached < position and self._following:
            self._hurry_folder()
        pause = 0.005  # doubling to 0.25 s: a server that only follows (another process folds)
        while reached < position:  # is never notified, and the views get there in ~40 ms
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._urgent.set()
            self.wake()
            with self._caught_up:
                self._caught_up.wait(min(remaining, pause))
            pause = min(pause * 2, 0.25)
            reached = self.position()
        return reached

    def _hurry_folder(self) -> None:
        """Follow mode on PostgreSQL: tells the folding process (its LISTEN thread) that a
        reader waits, so that it cuts its linger short. SQLite has no such channel: there the
        reader waits up to one linger more under a stream of writes."""
        if self.store_kind != "postgresql":
            return
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT pg_notify(%s, %s)",
                                     (self.ledger.recorder.channel_name, URGENT))
                conn.commit()
        except sa.exc.SQLAlchemyError as e:  # the read still waits, only longer
            log.warning("projections.hurry_failed", error=str(e).splitlines()[0])

    def read_position(self, min_position: int | None) -> int:
        """What a projection read calls first: the position its answer reflects."""
        if not self.running:
            return self.catch_up()
        return self.wait_for(min_position) if min_position else self.position()

    # --- the background runner ------------------------------------------------------------

    def start(self, poll_seconds: float = POLL_SQLITE) -> None:
        """Runs the views in a daemon thread until `stop()` (inside `kemitraan serve`)."""
        if self.running:
            return
        self._stop.clear()
        self._threads = [threading.Thread(target=self._loop, args=(poll_seconds,),
                                          name="projections", daemon=True),
                         *self._helpers()]
        for t in self._threads:
            t.start()

    def _helpers(self) -> list[threading.Thread]:
        """The threads beside the loop: LISTEN on PostgreSQL, maintenance if there is any."""
        out = []
        if self.store_kind == "postgresql":
            out.append(threading.Thread(target=self._listen, name="projections-listen",
                                        daemon=True))
        if self.maintenance:
            out.append(threading.Thread(target=self._maintain_loop,
                                        name="projections-maintenance", daemon=True))
        return out

    def stop(self) -> None:
        self._following = False
        self._stop.set()
        self._wake.set()
        self._urgent.set()
        self._maintain_wake.set()
        for t in self._threads:
            # a refresh under way is abandoned (its transactions roll back), not waited for
            t.join(timeout=2 if t.name == "projections-maintenance" else 10)
        self._threads = []

    def run_forever(self, poll_seconds: float = POLL_SQLITE) -> None:
        """`kemitraan project`: the same loop in the foreground."""
        self._threads = self._helpers()
        for t in self._threads:
            t.start()
        try:
            self._loop(poll_seconds)
        finally:  # Ctrl-C: tell the helpers at once, before the caller's close() joins them
            self._stop.set()
            self._maintain_wake.set()

    def _loop(self, poll_seconds: float) -> None:
        # On PostgreSQL the LISTEN thread wakes us; the timeout is only a safety net there.
        timeout = poll_seconds if self.store_kind == "sqlite" else 30.0
        backoff = 0.5
        folded_at = -self.LINGER
        reached: int | None = None
        while not self._stop.is_set():
            self._wake.clear()
            self._urgent.clear()
            try:
                folded_at = time.monotonic()
                before, reached = reached, self.catch_up(chase=False)
                if reached != before:  # the maintenance wakes by itself too, every 30 s
                    self._maintain_wake.set()
                self.last_error = None
                backoff = 0.5
            except Exception as e:  # a database outage must not kill the runner
                self.last_error = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                log.error("projections.error", error=self.last_error)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            self._wake.wait(timeout)
            # Woken soon after the last page: more writes are likely on their way.
            linger = folded_at + self.LINGER - time.monotonic()
            if linger > 0 and not self._stop.is_set():
                self._urgent.wait(linger)

    def maintain(self) -> bool:
        """One unit of each maintenance task; True while any has more."""
        more = False
        with self._maintain_lock:
            for task in self.maintenance:
                more = task(self.engine) or more
        return more

    def _maintain_loop(self) -> None:
        backoff = 0.5
        done_at = -self.MAINTAIN_GAP
        while not self._stop.is_set():
            self._maintain_wake.wait(30.0)
            self._maintain_wake.clear()
            gap = done_at + self.MAINTAIN_GAP - time.monotonic()
            if gap > 0 and self._stop.wait(gap):
                break
            try:
                while self.maintain() and not self._stop.is_set():
                    pass
                done_at = time.monotonic()
                backoff = 0.5
            except Exception as e:
                log.error("projections.maintenance_error",
                          error=f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    def _listen(self) -> None:
        import psycopg
        from psycopg import sql

        channel = self.ledger.recorder.channel_name
        url = self.engine.url
        while not self._stop.is_set():
            try:
                with psycopg.connect(host=url.host, port=url.port or 5432, user=url.username,
                                     password=url.password or "", dbname=url.database,
                                     autocommit=True, connect_timeout=5) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    self._wake.set()  # anything recorded while we were not listening
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            if note.payload == URGENT:  # a follower's reader waits
                                self._urgent.set()
                            self._wake.set()
            except Exception as e:
                log.warning("projections.listen_error", error=str(e).splitlines()[0])
                self._stop.wait(2.0)

    # --- rebuild --------------------------------------------------------------------------

    def rebuild(self, names: Sequence[str] | None = None,
                progress: Callable[[int, int], None] | None = None) -> int:
        """Replays the log into the named views (default all) and the views they `read` from
        nothing, in one transaction.

        Returns the number of events folded. `progress(position, head)` is called per page.
        PostgreSQL builds into shadow tables and swaps them in at the end (`_shadow`); SQLite
        deletes the rows and replays into the same tables.
        """
        views = [self.view(n) for n in self.with_reads(names)] if names else list(self.views)
        folded = 0
        with self._lock, self.engine.begin() as conn:
            # Taking the tracking rows first serialises with any runner (they wait for us).
            conn.execute(tracking.update().where(tracking.c.view.in_([v.name for v in views]))
                         .values(position=0))
            swap = _shadow(conn, views) if self.store_kind == "postgresql" else None
            if swap is None:  # SQLite: a table lacking a column is made anew (DDL is
                # transactional there too: a failed rebuild leaves the old table)
                inspector = sa.inspect(conn)
                for t in (t for v in views for t in v.tables if _lacks_columns(inspector, t)):
                    t.drop(conn)
                    t.create(conn)
            for v in views:
                v.view.conn = conn
                try:
                    v.clear()  # PostgreSQL's new tables are empty: this resets only what
                    # a view keeps beside its tables (the audit log's head row)
                finally:
                    v.view.conn = None
            head = self.head()
            while True:
                n, reached = self.run_page(views, conn=conn)
                folded += n
                if progress:
                    progress(reached, head)
                if reached >= head:
                    break
            if swap is not None:
                # the fold is done; writing the tables logged and building indexes takes a
                # while at scale (minutes at 1 M partnerships) with the progress bar full
                log.info("projections.rebuild_swap", views=[v.name for v in views])
                swap()
        if self.store_kind == "sqlite":
            self._truncate_wal()
        return folded

    def _truncate_wal(self) -> None:
        """SQLite: a rebuild's one transaction spills its pages into the WAL file (30 MB for
        32 k events; a probe saw 2.8 GB at scale), and SQLite keeps the file that size on disk
        until a TRUNCATE checkpoint, however little is written later. Best effort, waiting at
        most WAL_WAIT_MS for readers and writers in the way; when they stay, the file stays
        (and the next rebuild tries again)."""
        with self.engine.connect() as conn:
            pooled = int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one())
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {self.WAL_WAIT_MS}")
            try:
                busy, _, _ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
            finally:  # the pooled connection goes back with its own timeout
                conn.exec_driver_sql(f"PRAGMA busy_timeout = {pooled}")
        if busy:
            log.info("projections.wal_not_truncated", reason="readers or writers in the way")


def _lacks_columns(inspector: sa.Inspector, table: sa.Table) -> bool:
    """Whether the stored `table` misses a column its declaration has."""
    return bool({c.name for c in table.c} - {c["name"] for c in inspector.get_columns(table.name)})


def _shadow(conn: sa.Connection, views: Sequence[View]) -> Callable[[], None]:
    """PostgreSQL rebuild: fresh, empty, UNLOGGED copies of the views' tables (same columns,
    keys and index names, less the `read_indexes`) in a schema of this transaction's own, put
    first on its `search_path`, so the views' unqualified statements write there. Returns the
    swap, run just before commit: make the copies logged, build the read indexes, drop the
    served tables and move the new ones into their schema.

    Why (ADR 0011, "Rebuild beside the served tables"): deleting every row and inserting them
    again in the served tables kept the dead entries in every index until the commit (a
    rebuild over full views cost ~1.4x a catch-up from empty tables), and every change was
    written twice, to the table and to the WAL (~12 KB of WAL per event at 1 M partnerships,
    mostly full-page images after each checkpoint). Unlogged tables write no WAL; `SET LOGGED`
    writes each table once, in bulk, and builds its indexes by sorting; the read indexes are
    built once, after the fold, instead of row by row. Readers still see the old, complete
    tables until the commit; the DROP waits for reads under way and holds new ones back only
    for the swap itself. Everything is in the rebuild's transaction, so a failure or a crash
    leaves the served tables and no schema behind (a crash also empties unlogged tables, which
    then no longer matter). Tables a view writes beside its own (the audit log's head row)
    stay where they are, in the same transaction. Grants on the old tables are not carried
    over."""
    home = conn.exec_driver_sql("SELECT current_schema()").scalar()
    path = conn.exec_driver_sql("SHOW search_path").scalar()
    shadow = f"kemitraan_rebuild_{secrets.token_hex(6)}"
    q = conn.dialect.identifier_preparer.quote
    tables = [t for v in views for t in v.tables]
    later = {name for v in views for name in v.read_indexes}
    deferred: list[sa.Index] = []
    copies = sa.MetaData()
    for t in tables:
        copy = t.to_metadata(copies, schema=shadow)
        # the naming convention would put the schema into the copies' index names
        named = {tuple(c.name for c in ix.columns): ix.name for ix in t.indexes}
        for ix in list(copy.indexes):
            ix.name = sa.sql.elements.conv(named[tuple(c.name for c in ix.columns)])
            if ix.name in later:
                copy.indexes.discard(ix)
                deferred.append(ix)
    conn.exec_driver_sql(f"CREATE SCHEMA {q(shadow)}")
    copies.create_all(conn)
    for t in tables:
        conn.exec_driver_sql(f"ALTER TABLE {q(shadow)}.{q(t.name)} SET UNLOGGED")
    conn.exec_driver_sql(f"SET LOCAL search_path TO {q(shadow)}, {path}")

    def swap() -> None:
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")  # index sorts
        for t in tables:
            conn.exec_driver_sql(f"ALTER TABLE {q(shadow)}.{q(t.name)} SET LOGGED")
        for ix in deferred:
            conn.execute(sa.schema.CreateIndex(ix))
        served = ", ".join(f"{q(home)}.{q(t.name)}" for t in tables)
        # All the served tables' locks at once, in a savepoint with a lock timeout of half the
        # deadlock timeout: a reader holding one of them and asking for another we hold (a
        # join, a transaction over two statements) would otherwise deadlock with us, and the
        # victim could be this whole rebuild. On a timeout we let go of everything before the
        # reader's deadlock check, wait a little longer each time and ask again; readers never
        # see an error and wait at most the lock timeout.
        deadlock_ms = conn.exec_driver_sql(
            "SELECT setting::int FROM pg_settings WHERE name = 'deadlock_timeout'").scalar()
        timeout_ms = max(min(500, int(deadlock_ms or 1000) // 2), 10)
        pause = 0.2
        while True:
            try:
                with conn.begin_nested():
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{timeout_ms}ms'")
                    conn.exec_driver_sql(f"LOCK TABLE {served} IN ACCESS EXCLUSIVE MODE")
                    conn.exec_driver_sql("SET LOCAL lock_timeout TO DEFAULT")
                    for t in tables:
                        conn.exec_driver_sql(f"DROP TABLE {q(home)}.{q(t.name)}")
                    for t in tables:
                        conn.exec_driver_sql(
                            f"ALTER TABLE {q(shadow)}.{q(t.name)} SET SCHEMA {q(home)}")
                break
            except sa.exc.OperationalError as e:
                if getattr(e.orig, "sqlstate", None) not in ("55P03", "40P01"):
                    raise  # not a lock timeout or a deadlock
                log.info("projections.rebuild_swap_waits", pause=round(pause, 2))
                time.sleep(random.uniform(pause / 2, pause))
                pause = min(pause * 2, 5.0)
        conn.exec_driver_sql(f"DROP SCHEMA {q(shadow)}")
        # the SET LOCALs (search_path, maintenance_work_mem) end with the commit that follows

    return swap

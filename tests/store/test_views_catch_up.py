"""The list view catches up from the log exactly once, even with two runners at the same time
(as with two API processes on one database)."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timezone
from pathlib import Path
from uuid import uuid4

import pytest
import sqlalchemy as sa

from domain.access import SYSTEM
from projections.registry import VIEWS
from projections.runtime import Runtime
from projections.tables import evidence_index, partnership_list

T0 = datetime(2024, 2, 1, tzinfo=timezone.utc)


def with_two_businesses(container):  # type: ignore[no-untyped-def]
    lg = container.ledger
    lg.register_business(SYSTEM, T0, nib="3216000000001", name="PT Sampel", scale="besar",
                         region_code="32.16", kbli=["47111"])
    lg.register_business(SYSTEM, T0, nib="3216000000101", name="UMKM Sampel", scale="mikro",
                         region_code="32.16.01", kbli=["10794"])
    return lg


def with_proposals(container, n: int):  # type: ignore[no-untyped-def]
    """The two businesses and `n` proposals between them (2 + n events)."""
    lg = with_two_businesses(container)
    for i in range(n):
        lg.propose_partnership(SYSTEM, T0, uuid4(), large_nib="3216000000001",
                               umkm_nib="3216000000101", pola="rantai_pasok",
                               title=f"Kontrak {i}", start_date=date(2024, 1, 1),
                               location_region_code="32.16")
    return lg


def test_two_runners_racing_fold_every_event_exactly_once(container) -> None:  # type: ignore[no-untyped-def]
    lg = with_two_businesses(container)
    ids = []
    for i in range(120):
        w = lg.propose_partnership(SYSTEM, T0, uuid4(), large_nib="3216000000001",
                                   umkm_nib="3216000000101", pola="rantai_pasok",
                                   title=f"Kontrak {i}", start_date=date(2024, 1, 1),
                                   location_region_code="32.16")
        ids.append(w.id)
        if i % 3 == 0:
            lg.confirm(SYSTEM, T0, w.id)
    runners = [Runtime(lg, container.engine, VIEWS, page=7),
               Runtime(lg, container.engine, VIEWS, page=7)]
    # many small pages: many chances to collide
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(r: Runtime) -> None:
        try:
            barrier.wait()
            r.catch_up()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(r,)) for r in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    head = container.event_log.head()
    assert all(r.position() == head for r in runners)
    with container.engine.connect() as conn:
        rows = conn.execute(sa.select(partnership_list.c.id, partnership_list.c.status)).all()
        assert conn.execute(sa.select(sa.func.count()).select_from(evidence_index)).scalar() == 0
    assert sorted(r.id for r in rows) == sorted(str(i) for i in ids)
    assert sum(1 for r in rows if r.status == "active") == 40


def test_every_amendable_field_folds_into_the_list(container) -> None:  # type: ignore[no-untyped-def]
    lg = with_two_businesses(container)
    w = lg.propose_partnership(SYSTEM, T0, uuid4(), large_nib="3216000000001",
                               umkm_nib="3216000000101", pola="rantai_pasok", title="Lama",
                               start_date=date(2024, 1, 1), location_region_code="32.16")
    lg.amend(SYSTEM, T0, w.id, changes={"description": "baru", "title": "Baru",
                                        "value_idr": 5, "end_date": date(2025, 1, 1)})
    container.views.catch_up()
    with container.engine.connect() as conn:
        row = conn.execute(sa.select(partnership_list)).one()
    assert (row.title, row.value_idr, row.end_date, row.version) == ("Baru", 5, date(2025, 1, 1), 2)


def _indexes(conn: sa.Connection, table: str) -> dict[str, str]:
    """{name: definition} of a table's `ix_` indexes, as the database stores them."""
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                    "AND tbl_name = ?", (table,)).all()
    else:
        rows = conn.exec_driver_sql("SELECT indexname, indexdef FROM pg_indexes "
                                    "WHERE tablename = %s", (table,)).all()
    return {r[0]: r[1] for r in rows if r[0].startswith("ix_")}


def test_a_release_that_changes_a_views_indexes_brings_an_existing_database_to_them(
        container) -> None:  # type: ignore[no-untyped-def]
    """An existing database keeps its view rows; the indexes the code no longer declares go,
    the declared ones missing are created (here: the audit leaves' old full indexes)."""
    lg = with_two_businesses(container)
    container.views.catch_up()
    with container.engine.begin() as conn:  # the database as the previous release left it
        conn.exec_driver_sql("DROP INDEX ix_view_audit_leaves_evidence_sha")
        conn.exec_driver_sql("CREATE INDEX ix_view_audit_leaves_stream_id "
                             "ON view_audit_leaves (stream_id)")
        before = conn.exec_driver_sql("SELECT count(*) FROM view_audit_leaves").scalar()
    assert before == 2
    Runtime(lg, container.engine, VIEWS, store_kind=container.store_kind).setup()
    with container.engine.connect() as conn:
        found = _indexes(conn, "view_audit_leaves")
        assert conn.exec_driver_sql("SELECT count(*) FROM view_audit_leaves").scalar() == before
    assert sorted(found) == ["ix_view_audit_leaves_evidence_sha",
                             "ix_view_audit_leaves_evidence_stream"]
    assert all("WHERE" in definition.upper() for definition in found.values())  # partial


def test_a_long_catch_up_on_postgresql_refreshes_the_planner_statistics_as_tables_grow(
        container) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL plans each page's statements with the tables' statistics: a catch-up (which
    fills tables faster than autovacuum looks at them) analyzes the view tables after 8, 16,
    ... pages. SQLite is never analyzed (its planner needs no statistics for these lookups)."""
    lg = with_proposals(container, 12)
    runtime = Runtime(lg, container.engine, VIEWS, store_kind=container.store_kind, page=1)
    runtime.setup()
    runtime.catch_up()
    with container.engine.connect() as conn:
        if container.store_kind == "postgresql":
            # -1: never analyzed (PostgreSQL 14+); autovacuum ignores tables this small
            tuples = conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE relname = "
                                          "'view_partnership_list'").scalar()
            assert tuples == 6  # the analyze after page 8: two businesses, six proposals
        else:
            assert conn.exec_driver_sql("SELECT count(*) FROM sqlite_master "
                                        "WHERE name = 'sqlite_stat1'").scalar() == 0


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_restarted_runner_analyzes_when_the_folded_log_doubles(container) -> None:  # type: ignore[no-untyped-def]
    """Not 8 pages after its own start: a runner restarted on grown tables would otherwise
    analyze every view table again after 8, 16, ... 256 pages (seconds of server time each at
    1 M partnerships)."""
    lg = with_proposals(container, 30)  # positions 1-2 businesses, 3-32 proposals

    def fold_to(runtime: Runtime, position: int) -> float:
        while runtime.position() < position:
            runtime.run_page()
        with container.engine.connect() as conn:
            return conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE relname = "
                                        "'view_partnership_list'").scalar()

    first = Runtime(lg, container.engine, VIEWS, store_kind=container.store_kind, page=1)
    first.setup()
    assert fold_to(first, 20) == 14  # analyzed at positions 8 and 16: 14 proposals by then
    restarted = Runtime(lg, container.engine, VIEWS, store_kind=container.store_kind, page=1)
    assert fold_to(restarted, 31) == 14  # 11 pages since its start, no doubling yet
    assert fold_to(restarted, 32) == 30  # position 32: every proposal


def test_the_page_size_and_the_linger_are_per_store_and_configurable(settings) -> None:  # type: ignore[no-untyped-def]
    """1,000 events per page on SQLite (a page holds the writer's lock), 4,000 on PostgreSQL,
    and a linger of 0.2 s (ADR 0011); KEMITRAAN_PROJECTION_PAGE and _LINGER set them, and lane
    processes build from the same settings."""
    from api.lanes import lane_runtime
    from api.settings import Settings
    from api.wiring import build

    c = build(settings)
    try:
        assert c.views.page == (4000 if c.store_kind == "postgresql" else 1000)
        assert c.views.LINGER == 0.2
    finally:
        c.close()
    c = build(Settings(**{**settings.model_dump(), "projection_page": 17,
                          "projection_linger": 0.5}))
    try:
        lane = lane_runtime(c.views, ["audit_log"])
        assert (c.views.page, c.views.LINGER) == (17, 0.5)
        assert (lane.page, lane.LINGER) == (17, 0.5)
    finally:
        c.close()


def _propose(lg, i: int):  # type: ignore[no-untyped-def]
    return lg.propose_partnership(SYSTEM, T0, uuid4(), large_nib="3216000000001",
                                  umkm_nib="3216000000101", pola="rantai_pasok",
                                  title=f"Kontrak {i}", start_date=date(2024, 1, 1),
                                  location_region_code="32.16")


def test_a_running_runner_folds_a_stream_of_writes_in_batches(container, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """One page per write cost `kemitraan serve` most of its write rate: under a stream of
    writes the runner lingers, and a page holds what was recorded meanwhile."""
    lg = with_two_businesses(container)
    views = container.views
    pages: list[int] = []
    run_page = views.run_page

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        n, reached = run_page(*args, **kwargs)
        pages.append(n)
        return n, reached

    monkeypatch.setattr(views, "run_page", counting)
    views.start(poll_seconds=1.0)
    try:
        for i in range(60):  # a write every ~10 ms: each would get a page of its own
            _propose(lg, i)
            time.sleep(0.01)
        head = views.head()
        assert views.wait_for(head, timeout=10) >= head
    finally:
        views.stop()
    with container.engine.connect() as conn:
        listed = conn.execute(sa.select(sa.func.count()).select_from(partnership_list)).scalar()
    assert listed == 60
    folded = [n for n in pages if n]
    assert len(folded) <= 25, folded  # ~12 at a linger of 50 ms


def test_a_reader_waiting_for_a_position_does_not_wait_for_the_linger(container) -> None:  # type: ignore[no-untyped-def]
    lg = with_two_businesses(container)
    views = container.views
    views.LINGER = 30.0  # a runner just woken would wait this long before its next page
    views.start(poll_seconds=60.0)
    try:
        first = views.head()
        assert views.wait_for(first, timeout=10) >= first
        _propose(lg, 1)
        head = views.head()
        started = time.monotonic()
        assert views.wait_for(head, timeout=10) >= head  # not 30 s, nor a time-out
        assert time.monotonic() - started < 10
    finally:
        views.stop()


def test_under_a_stream_of_writes_maintenance_runs_at_most_once_per_gap(container, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The funnel cells' refresh cost more than the pages themselves when it ran after every
    page; it now waits `MAINTAIN_GAP` after a round, and still runs once the writes stop."""
    lg = with_two_businesses(container)
    views = container.views
    rounds: list[float] = []
    maintain = views.maintain

    def counting() -> bool:
        more = maintain()
        if not more:
            rounds.append(time.monotonic())
        return more

    monkeypatch.setattr(views, "maintain", counting)
    views.MAINTAIN_GAP = 0.5
    views.start(poll_seconds=1.0)
    try:
        started = time.monotonic()
        for i in range(60):  # ~0.6 s of writes, a page every LINGER
            _propose(lg, i)
            time.sleep(0.01)
        writing = time.monotonic() - started
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (not rounds or rounds[-1] < started + writing):
            time.sleep(0.05)
    finally:
        views.stop()
    assert rounds and rounds[-1] >= started + writing  # a round after the last write
    during = [t for t in rounds if t < started + writing]
    assert len(during) <= writing / 0.5 + 1, (len(during), writing)
    assert all(b - a >= 0.45 for a, b in zip(rounds, rounds[1:])), rounds


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_followers_waiting_reader_cuts_the_folding_processs_linger_short(settings) -> None:  # type: ignore[no-untyped-def]
    """Follow mode: the server that reads cannot wake the runner of `kemitraan project`
    directly; a NOTIFY on the event channel tells its LISTEN thread a reader waits."""
    from api.wiring import build

    folder, follower = build(settings), build(settings)
    try:
        lg = with_two_businesses(folder)
        folder.views.LINGER = 30.0  # woken soon after a page, it would wait this long
        folder.views.start(poll_seconds=60.0)
        follower.views.follow()
        time.sleep(0.5)  # its LISTEN connection is up
        first = folder.views.head()
        deadline = time.monotonic() + 10
        while folder.views.position() < first and time.monotonic() < deadline:
            time.sleep(0.02)
        _propose(lg, 1)  # the folder was woken within its linger: it waits
        head = folder.views.head()
        assert follower.views.wait_for(head, timeout=10) >= head  # not 30 s, nor a time-out
    finally:
        folder.views.stop()
        folder.close()
        follower.close()


def test_a_background_runner_works_through_a_backlog_without_waiting_between_pages(container) -> None:  # type: ignore[no-untyped-def]
    """A full page whose events were not all read by the views (business events, for a runtime
    of the list alone) is still a full page: the runner goes on at once, not after its poll."""
    from projections.partnership_list import PartnershipListView

    with_proposals(container, 30)  # 32 events: pages of 7 hold business events too
    rt = Runtime(container.ledger, container.engine, [PartnershipListView], page=7)
    head = rt.head()
    rt.start(poll_seconds=60.0)
    try:
        deadline = time.monotonic() + 10
        while rt.position() < head and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rt.position() >= head
    finally:
        rt.stop()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_sqlite_rebuild_leaves_no_grown_wal_file_behind(container) -> None:  # type: ignore[no-untyped-def]
    """A rebuild is one transaction: its pages go to the WAL file, which SQLite keeps at that
    size on disk (gigabytes at scale) until a TRUNCATE checkpoint. After the rebuild the file
    is empty again, and the views hold what they held."""
    with_proposals(container, 300)
    runtime = container.views
    runtime.catch_up()
    wal = Path(container.engine.url.database + "-wal")
    with container.engine.connect() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(partnership_list)).scalar()
    runtime.rebuild()
    assert wal.exists() and wal.stat().st_size == 0
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(partnership_list)).scalar() \
            == before == 300
    # every pooled connection, the one that truncated among them, keeps the engine's timeout
    from api.wiring import SQLITE_LOCK_WAIT_S
    idle = [container.engine.connect() for _ in range(container.engine.pool.checkedin())]
    try:
        assert [int(c.exec_driver_sql("PRAGMA busy_timeout").scalar_one()) for c in idle] \
            == [SQLITE_LOCK_WAIT_S * 1000] * len(idle)
    finally:
        for c in idle:
            c.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_reader_in_the_way_leaves_the_wal_as_it_is_and_the_rebuild_done(container) -> None:  # type: ignore[no-untyped-def]
    """The truncation waits at most a second for a reader holding an old snapshot, then gives
    up: the rebuild still stands."""
    with_proposals(container, 50)
    runtime = container.views
    runtime.catch_up()
    runtime.WAL_WAIT_MS = 100
    wal = Path(container.engine.url.database + "-wal")
    reader = container.engine.connect()
    try:
        reader.exec_driver_sql("BEGIN")
        reader.execute(sa.select(sa.func.count()).select_from(partnership_list)).scalar()
        started = time.monotonic()
        assert runtime.rebuild() == 52
        assert time.monotonic() - started < 5
        assert wal.stat().st_size > 0
    finally:
        reader.rollback()
        reader.close()
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(partnership_list)).scalar() == 50

"""The pre-aggregated funnel (`projections.funnel_cube`), on SQLite and PostgreSQL: it answers
calendar quarters and years at national, province and kabupaten level exactly as the live scan
does, never while a change after its position touches the span, and the runner refreshes it.
(That the cells equal the scan for random histories is a property in test_rebuild_equivalence.)"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa

from domain.access import SYSTEM
from projections import funnel_cube as fc
from projections.real_partnerships import changed, funnel
from projections.registry import MAINTENANCE
from tests.projections.test_real_partnerships import L1, L2, T0, U1, U3, World, world  # noqa: F401

TODAY = date(2024, 11, 30)
Q1 = fc.span_of(date(2024, 1, 1), date(2024, 3, 31))
Q4 = fc.span_of(date(2024, 10, 1), date(2024, 12, 31))
YEAR = fc.span_of(date(2024, 1, 1), date(2024, 12, 31))


def refresh_all(world: World) -> int:
    world.c.views.catch_up()
    n = 0
    while fc.refresh_next(world.c.engine, TODAY):
        n += 1
    return n


def ask(world: World, period, region=None, group_by="pola"):  # type: ignore[no-untyped-def]
    world.c.views.catch_up()
    with world.c.engine.connect() as conn:
        q = dict(region=region, date_from=period.start, date_to=period.end, group_by=group_by)
        hit = fc.cached(conn, **q)
        assert hit is None or hit[2] is None  # no tolerance asked: exact or nothing
        return (hit[:2] if hit else None), funnel(conn, **q)


def test_only_whole_calendar_quarters_and_years_are_spans() -> None:
    assert Q1 is not None and Q1.label == "2024-Q1"
    assert YEAR is not None and YEAR.label == "2024"
    assert fc.span_of(date(2024, 1, 1), date(2024, 3, 30)) is None
    assert fc.span_of(date(2024, 2, 1), date(2024, 4, 30)) is None
    assert fc.span_of(date(2024, 1, 1), date(2025, 12, 31)) is None
    assert fc.span_of(date(2024, 7, 1), date(2024, 9, 30)).label == "2024-Q3"  # type: ignore[union-attr]


def test_the_cells_answer_what_the_scan_answers_at_each_kept_level(world: World) -> None:
    world.real(L1, U1, location="32.16.01")
    world.real(L2, U3, location="33.17.01")
    world.real(L1, U3, location="33.17.02", pola="subkontrak")
    world.propose(L2, U1, end=None)
    assert refresh_all(world) == 5  # 2024 and its four quarters: the years of the terms
    for region in (None, "32", "33", "32.16", "33.17", "35", "33.24"):
        for group_by in ("pola", "program", "region", "large_nib"):
            for period in (Q1, Q4, YEAR):
                cached, live = ask(world, period, region, group_by)
                assert cached == live, (region, group_by, period)
    cached, live = ask(world, YEAR, "33.17.01")  # a kecamatan: no cells, the scan answers
    assert cached is None and live[1]["real"] == 2
    assert ask(world, YEAR, None)[0][1]["real"] == 3  # type: ignore[index]


def test_a_change_makes_the_spans_it_touches_stale_until_the_runner_refreshes_them(
        world: World) -> None:
    first = world.real(L1, U1, start="2024-01-01", end="2024-03-31")
    world.propose(L2, U3, start="2024-10-01", end="2024-12-31", location="33.17.01")
    refresh_all(world)
    assert ask(world, Q4)[0] is not None and ask(world, Q1)[0] is not None
    assert ask(world, Q1)[0][1]["realization_value_idr"] == 10  # type: ignore[index]
    world.realize(first, "2024-03-01", "2024-03-31", value=20)
    cached, live = ask(world, Q1)
    assert cached is None and live[1]["realization_value_idr"] == 30  # stale: not the old 10
    assert ask(world, YEAR)[0] is None
    assert ask(world, Q4)[0] == ask(world, Q4)[1]  # untouched by the change: still answers
    assert fc.refresh_next(world.c.engine, TODAY)
    assert fc.refresh_next(world.c.engine, TODAY)
    assert not fc.refresh_next(world.c.engine, TODAY)
    cached, live = ask(world, Q1)
    assert cached == live and cached[1]["realization_value_idr"] == 30


def test_a_scale_change_of_the_umkm_makes_its_partnerships_spans_stale(world: World) -> None:
    world.real(L1, U1)
    refresh_all(world)
    assert ask(world, YEAR)[0][1]["real"] == 1  # type: ignore[index]
    world.lg.change_scale(SYSTEM, T0, U1, scale="besar", effective_date=date(2023, 6, 1))
    cached, live = ask(world, YEAR)
    assert cached is None and live[1]["real"] == 0
    refresh_all(world)
    assert ask(world, YEAR)[0][1]["real"] == 0  # type: ignore[index]


def test_the_change_log_is_forgotten_once_every_kept_span_is_past_it(world: World) -> None:
    world.real(L1, U1)
    world.c.views.catch_up()
    with world.c.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(changed)).scalar() > 0
    refresh_all(world)
    with world.c.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(changed)).scalar() == 0
    world.realize(world.ids[0], "2024-05-01", "2024-05-31")
    cached, live = ask(world, YEAR)
    assert cached is None and live[1]["realization_value_idr"] == 20


def test_the_background_runner_refreshes_the_cells_once_caught_up(world: World) -> None:
    views = world.c.views
    assert views.maintenance == MAINTENANCE
    world.real(L1, U1, start="2025-01-01", end=None)
    views.start(poll_seconds=0.05)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with world.c.engine.connect() as conn:
                if views.position() == views.head() and not fc.due(
                        conn, fc.jakarta_today()):
                    break
            time.sleep(0.1)
        with world.c.engine.connect() as conn:
            assert fc.due(conn, fc.jakarta_today()) == []
            spans = set(conn.execute(sa.select(fc.cell_span.c.span)).scalars())
    finally:
        views.stop()
    assert {"2025", "2025-Q1"} <= spans


def test_stale_cells_within_the_tolerance_answer_as_of_their_own_position(
        world: World) -> None:
    first = world.real(L1, U1, start="2024-01-01", end="2024-03-31")
    refresh_all(world)
    with world.c.engine.connect() as conn:
        position, refreshed_at = conn.execute(sa.select(
            fc.cell_span.c.position, fc.cell_span.c.refreshed_at)
            .where(fc.cell_span.c.span == "2024-Q1")).one()
    before = ask(world, Q1)[1]
    world.realize(first, "2024-03-01", "2024-03-31", value=20)  # touches Q1: stale
    world.c.views.catch_up()
    q = dict(region=None, date_from=Q1.start, date_to=Q1.end, group_by="pola")
    read_at = refreshed_at if refreshed_at.tzinfo else refreshed_at.replace(tzinfo=timezone.utc)
    minute = fc.Tolerance(read_at + timedelta(seconds=59), timedelta(seconds=60))
    with world.c.engine.connect() as conn:
        now = funnel(conn, **q)
        assert now[1]["realization_value_idr"] == before[1]["realization_value_idr"] + 20
        # within the tolerance: the figures as they were, saying as of which position and when
        assert fc.funnel_stats(conn, **q, tolerance=minute) == (*before, fc.Behind(
            position, read_at))
        # too old, or not yet at the position the client asked for: the scan answers
        assert fc.funnel_stats(conn, **q, tolerance=minute._replace(
            now=read_at + timedelta(seconds=61))) == (*now, None)
        assert fc.funnel_stats(conn, **q, tolerance=minute._replace(
            min_position=position + 1)) == (*now, None)
        assert fc.funnel_stats(conn, **q) == (*now, None)  # no tolerance: exact only
        page = fc.funnel_page(conn, **{**q, "group_by": "large_nib"}, limit=5,
                              tolerance=minute)
        assert page[3] == fc.Behind(position, read_at)
        assert page[1] == before[1]
    refresh_all(world)
    with world.c.engine.connect() as conn:
        assert fc.funnel_stats(conn, **q, tolerance=minute._replace(
            now=datetime.now(timezone.utc))) == (*now, None)  # refreshed: exact again


def test_under_steady_writes_to_this_quarter_the_other_spans_still_get_their_turn(
        world: World) -> None:
    world.real(L1, U1)  # the five spans of 2024 have no cells yet
    recent: list[str] = []
    order = []
    for _ in range(9):  # before every refresh a write touches this quarter (and so the year)
        world.propose(L2, U3, start="2024-10-01", end="2024-12-31", location="33.17.01")
        world.c.views.catch_up()
        order.append(fc.refresh_next(world.c.engine, TODAY, recent))
    assert order == ["2024-Q4", "2024", "2024-Q3", "2024-Q4", "2024", "2024-Q2",
                     "2024-Q4", "2024", "2024-Q1"]
    with world.c.engine.connect() as conn:
        assert fc.due(conn, TODAY)  # this quarter and the year, touched by the last write
    assert ask(world, Q1)[0] is not None  # every span had its turn


def test_a_term_stored_before_dates_were_bounded_does_not_stop_the_refresher(
        world: World) -> None:  # noqa: F811
    """A start in the year 1 (accepted until 2026-12-05) made every refresh fail: the spans
    reached back before the first year a period can name. They now start at 1900."""
    world.c.views.catch_up()
    with world.c.engine.begin() as conn:
        conn.execute(changed.insert().values(position=1, from_date=date(1, 1, 1), to_date=None))
    with world.c.engine.connect() as conn:
        spans = fc.candidates(conn, date(1901, 6, 30))
    assert [p.label for p in spans][:4] == ["1901-Q2", "1901", "1901-Q4", "1901-Q3"]
    assert spans[-1].label == "1900-Q1"
    assert fc.refresh_next(world.c.engine, date(1901, 6, 30)) is not None

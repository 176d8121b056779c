"""The funnel pre-aggregated: `GET /v1/stats/partnerships` for a calendar quarter or year at
national, province or kabupaten level without scanning the partnerships (ADR 0018).

`real_partnerships.funnel()` answers any period and any region prefix by scanning every
partnership whose term overlaps the period: at a million partnerships a national query reads
~500,000 rows and takes seconds. The questions dinas ask most — this quarter, this year, for
the country, a province or a kabupaten — are few: per calendar span, ~550 region prefixes × 4
groupings. `refresh()` computes all of them for one span in one transaction (the same SQL as the
live funnel, grouped by every prefix at once) and records the view position they reflect.

Exactness: the view logs, per page, the business-date intervals its changes touched
(`view_real_changed`, stamped with the page's position). While no change stamped after their
position overlaps the span, a span's cells equal the live funnel at the view's current
position, so the answer and its `position` are what the scan would give. Once a change touched
it, the cells are still the funnel exactly as of their own position and the instant they were
read (`Behind`): the caller may accept that (`Tolerance`: not older than a bound, and not
before a position the client asked for), and the answer then says so in its `as_of` and
`position`. A missing span, cells too far behind, another period, a deeper region or a scoped
caller takes the live scan. The projection runner refreshes stale spans when it has caught up
(`refresh_next`), one span per call, the current quarter and year first (taking turns, and
giving every third turn to another due span).
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta, timezone
from typing import Any, NamedTuple

import sqlalchemy as sa

from domain.clock import jakarta_date
from domain.compliance import Period, parse_period, quarter
from domain.values import FIRST_DAY
from projections.real_partnerships import (
    FIGURES, GROUPINGS, _SEGMENT_ENDS, _figures, cell, cell_span, changed, facts, figure_columns,
    funnel, real_in_period, realization, shape,
)
from projections.tables import stored_instant, tracking

VIEW = "real_partnerships"
PAGED = ("region", "large_nib")  # the groupings whose number of groups has no bound
_KEYED = ("key", *FIGURES)  # a group as the answer lists it
LEVELS = (0, 2, 5)  # prefix lengths kept: national, province, kabupaten
_LOCK = 0x4B4C46  # PostgreSQL advisory lock: one refresher at a time across processes


class Tolerance(NamedTuple):
    """How far behind the view cells may answer once a change touched their span: read at most
    `max_age` before `now`, and having folded `min_position` (what the client asked for)."""
    now: datetime
    max_age: timedelta
    min_position: int = 0


class Behind(NamedTuple):
    """An answer from cells a later change made stale: the funnel exactly as of `position`,
    read from the view at the instant `as_of`."""
    position: int
    as_of: datetime


Groups = list[dict[str, Any]]
Figures = dict[str, Any]


def span_of(date_from: date, date_to: date) -> Period | None:
    """The calendar year or quarter that is exactly [date_from, date_to], if any."""
    if (date_from.month, date_from.day, date_to.month, date_to.day) == (1, 1, 12, 31) \
            and date_from.year == date_to.year:
        return Period(str(date_from.year), date_from, date_to)
    if date_from.day == 1 and date_from.month % 3 == 1:
        p = quarter(date_from.year, (date_from.month - 1) // 3 + 1)
        if p.end == date_to:
            return p
    return None


def stale(conn: sa.Connection, period: Period, position: int) -> bool:
    """Whether a change after `position` touched a day of `period`."""
    c = changed.c
    return conn.execute(sa.select(sa.literal(1)).where(
        c.position > position, c.from_date <= period.end,
        sa.or_(c.to_date.is_(None), c.to_date >= period.start)).limit(1)).first() is not None


def _usable_span(conn: sa.Connection, region: str | None, date_from: date, date_to: date,
                 group_by: str, tolerance: Tolerance | None,
                 ) -> tuple[Period, str, Behind | None] | None:
    """(span, prefix, None) when the cells answer this question exactly at the view's current
    position; (span, prefix, Behind) when a later change touched the span but the cells are
    within `tolerance`; else None."""
    prefix = region or ""
    period = span_of(date_from, date_to)
    if period is None or len(prefix) not in LEVELS or group_by not in GROUPINGS:
        return None
    held = conn.execute(sa.select(cell_span.c.position, cell_span.c.refreshed_at)
                        .where(cell_span.c.span == period.label)).first()
    if held is None:
        return None
    position, refreshed_at = int(held[0]), stored_instant(held[1])
    if not stale(conn, period, position):
        return period, prefix, None
    if tolerance is None or position < tolerance.min_position \
            or tolerance.now - refreshed_at > tolerance.max_age:
        return None
    return period, prefix, Behind(position, refreshed_at)


def cached(conn: sa.Connection, *, region: str | None, date_from: date, date_to: date,
           group_by: str, tolerance: Tolerance | None = None,
           ) -> tuple[Groups, Figures, Behind | None] | None:
    """The funnel from the cells — exact now (Behind None), or behind the view within
    `tolerance` — or None when they cannot answer."""
    usable = _usable_span(conn, region, date_from, date_to, group_by, tolerance)
    if usable is None:
        return None
    period, prefix, behind = usable
    rows = conn.execute(sa.select(cell.c.group_by, cell.c.key, *(cell.c[f] for f in FIGURES))
                        .where(cell.c.span == period.label, cell.c.prefix == prefix,
                               cell.c.group_by.in_([group_by, ""]))).all()
    totals = next((dict(zip(FIGURES, values)) for grouping, _, *values in rows
                   if not grouping), _figures({}))
    if group_by in PAGED:
        # Thousands of groups: one dict each, built straight from the row, in key order
        # (what `shape` gives; nothing to add, since only groups with partnerships exist).
        return [dict(zip(_KEYED, row[1:])) for row in sorted(
            (r for r in rows if r[0]), key=lambda r: r[1])], totals, behind
    return shape({key: dict(zip(FIGURES, values)) for grouping, key, *values in rows
                  if grouping}, group_by), totals, behind


def funnel_stats(conn: sa.Connection, *, region: str | None, date_from: date, date_to: date,
                 group_by: str = "pola", tolerance: Tolerance | None = None,
                 ) -> tuple[Groups, Figures, Behind | None]:
    """What the statistics endpoint and the dashboard call: the cells when they are exact or
    within `tolerance` (then with the `Behind` they answer as of), the live scan otherwise."""
    hit = cached(conn, region=region, date_from=date_from, date_to=date_to, group_by=group_by,
                 tolerance=tolerance)
    if hit is not None:
        return hit
    return (*funnel(conn, region=region, date_from=date_from, date_to=date_to,
                    group_by=group_by), None)


def funnel_page(conn: sa.Connection, *, region: str | None, date_from: date, date_to: date,
                group_by: str, limit: int, after: str | None = None,
                tolerance: Tolerance | None = None,
                ) -> tuple[Groups, Figures, str | None, Behind | None]:
    """One page of a `region` or `large_nib` funnel: the groups whose key sorts after `after`
    (byte order), at most `limit` of them, the totals of the whole answer, the key to
    continue after (None on the last page) and, from cells behind the view, as of when.
    Concatenated, the pages are `funnel_stats`'s groups. From the cells, a page reads only
    its rows; the live scan computes everything and slices."""
    if group_by not in PAGED:
        raise ValueError(f"pages only for {PAGED}")
    usable = _usable_span(conn, region, date_from, date_to, group_by, tolerance)
    if usable is None:
        groups, totals = funnel(conn, region=region, date_from=date_from, date_to=date_to,
                                group_by=group_by)
        rest = [g for g in groups if after is None or g["key"] > after]  # sorted by key
        page = rest[:limit]
        return page, totals, page[-1]["key"] if len(rest) > limit else None, None
    period, prefix, behind = usable
    key = cell.c.key.collate("C") if conn.dialect.name == "postgresql" else cell.c.key
    where = [cell.c.span == period.label, cell.c.prefix == prefix]
    q = sa.select(cell.c.key, *(cell.c[f] for f in FIGURES)).where(
        *where, cell.c.group_by == group_by)
    if after is not None:
        q = q.where(key > after)
    rows = conn.execute(q.order_by(key).limit(limit + 1)).all()
    total = conn.execute(sa.select(*(cell.c[f] for f in FIGURES))
                         .where(*where, cell.c.group_by == "")).first()
    page = [{"key": k, **dict(zip(FIGURES, values))} for k, *values in rows[:limit]]
    totals = dict(zip(FIGURES, total)) if total is not None else _figures({})
    return page, totals, page[-1]["key"] if len(rows) > limit else None, behind


# --- refreshing -----------------------------------------------------------------------------

_rows = sa.Table(  # one row per (partnership, prefix it touches) of the span being refreshed
    "tmp_funnel_rows", sa.MetaData(),
    sa.Column("level", sa.Integer), sa.Column("prefix", sa.String(13)),
    sa.Column("k_pola", sa.String(40)), sa.Column("k_program", sa.String(100)),
    sa.Column("k_region", sa.String(13)), sa.Column("k_large_nib", sa.String(13)),
    sa.Column("large_nib", sa.String(13)), sa.Column("umkm_nib", sa.String(13)),
    sa.Column("pola", sa.String(40)), sa.Column("value_idr", sa.BigInteger),
    sa.Column("c", sa.Integer), sa.Column("d", sa.Integer), sa.Column("r", sa.Integer),
    sa.Column("rv", sa.BigInteger),
    prefixes=["TEMPORARY"],
)
_cells = sa.Table(  # the span's new cells, computed under the read snapshot, copied after
    "tmp_funnel_cells", sa.MetaData(),
    *(sa.Column(c.name, c.type) for c in cell.c),
    prefixes=["TEMPORARY"],
)


_START = sa.bindparam("span_start", type_=sa.Date)
_END = sa.bindparam("span_end", type_=sa.Date)
_LABEL = sa.bindparam("span_label", type_=sa.String)


def _base() -> sa.Subquery:
    """Every partnership whose term overlaps the span, with its funnel flags: the same
    selection and flags as `real_partnerships.funnel`."""
    p = facts
    is_real = real_in_period(_START, _END)  # type: ignore[arg-type]
    rows_in = (sa.select(
        p.c.id, p.c.large_nib, p.c.umkm_nib, p.c.pola, p.c.program, p.c.value_idr,
        p.c.location_region_code.label("loc"), p.c.large_region_code.label("lrc"),
        p.c.umkm_region_code.label("urc"),
        sa.case((p.c.confirmed, 1), else_=0).label("c"),
        sa.case((p.c.documented, 1), else_=0).label("d"),
        sa.case((is_real, 1), else_=0).label("r"))
        .where(sa.not_(p.c.withdrawn), p.c.term_start <= _END,
               sa.or_(p.c.term_end.is_(None), p.c.term_end >= _START))
        .offset(0).subquery("rows_in"))
    i = rows_in.c
    realized = (sa.select(sa.func.coalesce(sa.func.sum(realization.c.value_idr), 0))
                .where(realization.c.partnership_id == i.id, realization.c.counted,
                       realization.c.period_start <= _END,
                       realization.c.period_end >= _START).scalar_subquery())
    return sa.select(*i, sa.case((i.r == 1, realized), else_=0).label("rv")).subquery("base")


_span_rows = sa.Table(  # `_base()` of the span being refreshed, computed once
    "tmp_funnel_base", sa.MetaData(),
    sa.Column("id", sa.String(36)), sa.Column("large_nib", sa.String(13)),
    sa.Column("umkm_nib", sa.String(13)), sa.Column("pola", sa.String(40)),
    sa.Column("program", sa.String(100)), sa.Column("value_idr", sa.BigInteger),
    sa.Column("loc", sa.String(13)), sa.Column("lrc", sa.String(13)),
    sa.Column("urc", sa.String(13)), sa.Column("c", sa.Integer), sa.Column("d", sa.Integer),
    sa.Column("r", sa.Integer), sa.Column("rv", sa.BigInteger),
    prefixes=["TEMPORARY"],
)


def _collect() -> sa.Insert:
    base = _base()
    return _span_rows.insert().from_select([c.name for c in _span_rows.c],
                                           sa.select(*(base.c[c.name] for c in _span_rows.c)))


def _fill() -> sa.Insert:
    """One row per partnership and each prefix of each level it touches (any of its three
    region codes lies in it, as `touches_region`), with its group keys at that level."""
    b = _span_rows.c
    parts = []
    for n, level in enumerate(LEVELS):
        region_key = sa.func.substr(b.loc, 1, _SEGMENT_ENDS[n])
        codes = [b.loc, b.urc, b.lrc] if level else [None]
        for i, code in enumerate(codes):
            parts.append(sa.select(
                sa.literal(level).label("level"),
                (sa.func.substr(code, 1, level) if level else sa.literal("")).label("prefix"),
                b.pola.label("k_pola"), b.program.label("k_program"),
                region_key.label("k_region"), b.large_nib.label("k_large_nib"), b.large_nib,
                b.umkm_nib, b.pola, b.value_idr, b.c, b.d, b.r, b.rv)
                .where(*([_new_prefix(code, codes[:i], level)] if level else [])))
    u = sa.union_all(*parts).subquery().c
    return _rows.insert().from_select([c.name for c in _rows.c],
                                      sa.select(*(u[c.name] for c in _rows.c)))


def _new_prefix(code: Any, earlier: list[Any], level: int) -> sa.ColumnElement[bool]:
    """`code` has a prefix of this length that none of the `earlier` codes shares: a
    partnership counts once in a prefix two of its codes lie in (no sort to remove doubles)."""
    mine = sa.func.substr(code, 1, level)
    return sa.and_(sa.func.length(code) >= level, *(
        sa.or_(sa.func.length(e) < level, sa.func.substr(e, 1, level) != mine)
        for e in earlier))


def _aggregate() -> sa.Insert:
    """Every grouping of every prefix, and the totals (group_by ""), in one statement."""
    t = _rows.c
    selects = []
    for group_by in ("", *GROUPINGS):
        key = t[f"k_{group_by}"] if group_by else sa.cast(sa.null(), sa.String)
        selects.append(sa.select(_LABEL, t.prefix, sa.literal(group_by), key, *figure_columns(t))
                       .group_by(t.level, t.prefix, *([key] if group_by else [])))
    return _cells.insert().from_select(["span", "prefix", "group_by", "key", *FIGURES],
                                       sa.union_all(*selects))


@functools.cache
def _statements() -> tuple[sa.Insert, sa.Insert, sa.Insert]:
    return _collect(), _fill(), _aggregate()


def compute(conn: sa.Connection, label: str) -> None:
    """Computes the cells of one span (`2024` or `2024-Q1`) into the connection's temporary
    `tmp_funnel_cells` (created empty here), reading only: no lock on any view table."""
    period = parse_period(label)
    collect, fill, aggregate = _statements()
    _cells.drop(conn, checkfirst=True)
    _cells.create(conn)
    _span_rows.create(conn)
    _rows.create(conn)
    try:
        conn.execute(collect, {"span_start": period.start, "span_end": period.end})
        conn.execute(fill)
        conn.execute(aggregate, {"span_label": label})
    finally:
        _rows.drop(conn)
        _span_rows.drop(conn)


def store(conn: sa.Connection, label: str, position: int, read_at: datetime) -> bool:
    """Replaces the span's cells by `tmp_funnel_cells`, computed as of `position` from a
    snapshot taken at `read_at`, unless cells as recent are there already (another
    refresher). True if replaced."""
    held = conn.execute(sa.select(cell_span.c.position)
                        .where(cell_span.c.span == label)).scalar()
    if held is not None and held >= position:
        return False
    conn.execute(cell.delete().where(cell.c.span == label))
    # in reading order: one (span, prefix, grouping) lies on adjacent pages of the table
    conn.execute(cell.insert().from_select([c.name for c in cell.c], sa.select(_cells).order_by(
        _cells.c.prefix, _cells.c.group_by, _cells.c.key)))
    conn.execute(cell_span.delete().where(cell_span.c.span == label))
    conn.execute(cell_span.insert().values(span=label, position=position, refreshed_at=read_at))
    return True


def refresh(conn: sa.Connection, label: str) -> int:
    """Recomputes the cells of one span inside the caller's transaction (tests, benchmarks);
    returns the view position they reflect."""
    read_at = datetime.now(timezone.utc)
    position = _position(conn)
    compute(conn, label)
    try:
        store(conn, label, position, read_at)
    finally:
        _cells.drop(conn)
    return position


def _position(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(tracking.c.position)
                            .where(tracking.c.view == VIEW)).scalar() or 0)


def current_quarter(today: date) -> Period:
    return quarter(today.year, (today.month - 1) // 3 + 1)


def candidates(conn: sa.Connection, today: date) -> list[Period]:
    """The spans kept: every year from the earliest term start to this one and their quarters,
    the current quarter and year first, then the most recent. (Every term enters the change
    log when proposed, and the log forgets only what the kept spans' cells cover, so the
    earliest year is in one of those two small tables; no scan of the partnerships.)"""
    years = [int(label[:4]) for label in conn.execute(sa.select(cell_span.c.span)).scalars()]
    first = conn.execute(sa.select(sa.func.min(changed.c.from_date))).scalar()
    if first is not None:
        # No span before the first a period can name: a term stored before business dates
        # were bounded (a start in the year 1) must not stop the refresher.
        years.append(max(first.year, FIRST_DAY.year))
    if not years:
        return []
    current = current_quarter(today)
    out = [current, parse_period(str(today.year))]
    for year in range(today.year, min(min(years), today.year) - 1, -1):
        for p in [parse_period(str(year)), *(quarter(year, q) for q in (4, 3, 2, 1))]:
            if p not in out:
                out.append(p)
    return out


def _stale_spans(conn: sa.Connection, known: dict[str, int]) -> set[str]:
    """The spans with cells that a change after their position touched."""
    changes = conn.execute(sa.select(changed.c.position, changed.c.from_date, changed.c.to_date)
                           .where(changed.c.position > min(known.values(), default=0))).all()
    out = set()
    for label, position in known.items():
        p = parse_period(label)
        if any(pos > position and a <= p.end and (b is None or b >= p.start)
               for pos, a, b in changes):
            out.add(label)
    return out


def due(conn: sa.Connection, today: date) -> list[Period]:
    """The kept spans whose cells are missing or stale, in refresh order."""
    known = dict(conn.execute(sa.select(cell_span.c.span, cell_span.c.position)).all())
    stale = _stale_spans(conn, known)
    return [p for p in candidates(conn, today) if p.label not in known or p.label in stale]


def _pick(todo: list[Period], today: date, recent: list[str]) -> Period:
    """The due span to refresh next. The current quarter and year first, taking turns; but
    after two refreshes in a row of those, one other due span (the first in `candidates`
    order) gets its turn. Under steady writes the current ones are due again after every page,
    and without turns the year (behind the quarter) and every other span (or missing cells,
    on a fresh start) would wait for ever."""
    labels = {current_quarter(today).label, str(today.year)}
    current = [p for p in todo if p.label in labels]
    others = [p for p in todo if p.label not in labels]
    if others and (not current or (len(recent) >= 2 and set(recent[-2:]) <= labels)):
        return others[0]
    if len(current) > 1 and recent and recent[-1] == current[0].label:
        return current[1]
    return current[0]


def summary(conn: sa.Connection, today: date) -> tuple[int, list[tuple[str, datetime | None]]]:
    """For `kemitraan projections status`: how many spans are kept, and the spans due, each
    with the instant its cells were computed (None: it has none yet)."""
    computed = {label: stored_instant(at) for label, at in conn.execute(
        sa.select(cell_span.c.span, cell_span.c.refreshed_at)).all()}
    return len(candidates(conn, today)), [(p.label, computed.get(p.label))
                                          for p in due(conn, today)]


def jakarta_today() -> date:
    return jakarta_date(datetime.now(timezone.utc))


def refresh_next(engine: sa.Engine, today: date, recent: list[str] | None = None) -> str | None:
    """Refreshes a due span (`_pick`; `recent`, if given, is the caller's memory of the labels
    refreshed before, appended to here); returns its label (call again), or None when none is
    due or another process is refreshing. Two transactions: the cells are computed under
    one read snapshot (REPEATABLE READ on PostgreSQL, a WAL snapshot on SQLite) into temporary
    tables, so pages and commands go on meanwhile; a short write then stores them, stamped with
    the position of that snapshot (changes since make them stale, as any). Fresh cells move to
    that position, and once every kept span has cells the changes none of them can be stale
    by are forgotten: the log stays as short as the oldest stale span."""
    postgres = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        if postgres and not conn.execute(
                sa.select(sa.func.pg_try_advisory_lock(_LOCK))).scalar():
            conn.rollback()
            return False
        try:
            if postgres:
                conn.commit()  # end the lock's transaction: the snapshot starts below
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                # before the snapshot's first read: the cells are no older than this
                read_at = datetime.now(timezone.utc)
                position = _position(conn)
                known = dict(conn.execute(sa.select(cell_span.c.span, cell_span.c.position)).all())
                fresh = [label for label in set(known) - _stale_spans(conn, known)
                         if known[label] < position]
                todo = due(conn, today)
                span = _pick(todo, today, recent or []) if todo else None
                if span is not None:
                    compute(conn, span.label)
            if postgres:
                conn.execution_options(isolation_level="READ COMMITTED")
            with conn.begin():
                if fresh:  # untouched since their position: equal to a refresh at `position`
                    conn.execute(cell_span.update().where(
                        cell_span.c.span.in_(fresh), cell_span.c.position < position)
                        .values(position=position, refreshed_at=read_at))
                if span is not None:
                    store(conn, span.label, position, read_at)
                known = dict(conn.execute(sa.select(cell_span.c.span, cell_span.c.position)).all())
                if known and {p.label for p in candidates(conn, today)} <= set(known):
                    conn.execute(changed.delete().where(changed.c.position <= min(known.values())))
            if span is None:
                return None
            if recent is not None:
                recent[:] = [*recent[-1:], span.label]
            return span.label
        finally:
            if conn.in_transaction():
                conn.rollback()
            _cells.drop(conn, checkfirst=True)
            if postgres:
                conn.execute(sa.select(sa.func.pg_advisory_unlock(_LOCK)))
            conn.commit()

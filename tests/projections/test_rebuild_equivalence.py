"""Views folded incrementally equal views rebuilt from scratch — for random command sequences,
on SQLite and on PostgreSQL — and a runner killed in the middle of a page loses nothing and
counts nothing twice once it is restarted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings, strategies as st

from domain.access import SYSTEM
from domain.compliance import parse_period
from domain.errors import DomainError
from domain.values import Pola
from projections import funnel_cube
from projections.real_partnerships import GROUPINGS, cell_span, funnel, realization
from projections.registry import VIEWS
from projections.runtime import Runtime
from tests.projections.viewdump import dump

LARGE = ["3216000000001", "3317000000002", "6471000000003"]
UMKM = ["3216000000101", "3216000000102", "3317000000103", "6471000000104"]
REGIONS = {LARGE[0]: "32.16", LARGE[1]: "33.17", LARGE[2]: "64.71",
           UMKM[0]: "32.16.01", UMKM[1]: "32.16.02", UMKM[2]: "33.17.01", UMKM[3]: "64.71.01"}
T0 = datetime(2024, 1, 2, 3, 0, tzinfo=timezone.utc)
D0 = date(2024, 1, 1)
TODAY = date(2025, 11, 30)  # what the funnel cells' refresher takes as today

day = st.integers(min_value=0, max_value=500).map(lambda n: D0 + timedelta(days=n))
index = st.integers(min_value=0, max_value=30)

proposals = st.tuples(st.just("propose"), st.sampled_from(LARGE), st.sampled_from(UMKM),
                      st.sampled_from([p.value for p in Pola]), day,
                      st.one_of(st.none(), st.integers(30, 400)),
                      st.one_of(st.none(), st.integers(0, 10**9)))
commands = st.one_of(
    proposals,
    st.tuples(st.sampled_from(["confirm", "decline", "withdraw"]), index),
    st.tuples(st.sampled_from(["suspend", "resume", "terminate"]), index, day),
    st.tuples(st.just("amend"), index, st.one_of(st.none(), day), st.integers(0, 10**9)),
    st.tuples(st.just("evidence"), index,
              st.sampled_from(["perjanjian", "invoice", "shelf_photo", "payment_proof"]),
              st.integers(0, 5)),
    st.tuples(st.just("review"), index, index, st.sampled_from(["verified", "rejected"])),
    st.tuples(st.just("realize"), index, day, st.integers(0, 90), st.integers(0, 3)),
    st.tuples(st.just("scale"), st.sampled_from(UMKM),
              st.sampled_from(["mikro", "kecil", "menengah", "besar"]), day),
    st.tuples(st.just("affiliate"), st.sampled_from(LARGE), st.sampled_from(UMKM), day),
    st.tuples(st.just("unaffiliate"), st.sampled_from(LARGE), st.sampled_from(UMKM), day),
    st.tuples(st.just("regulate"), st.sampled_from(["enact", "amend", "revoke"]), day),
    st.tuples(st.just("fact"), st.sampled_from(LARGE), st.integers(0, 10**6), day),
    st.tuples(st.just("token"), st.sampled_from(["dinas", "auditor", "company"])),
    st.tuples(st.just("revoke_token"), index),
    st.tuples(st.just("catch_up"), st.integers(1, 9)),
    st.tuples(st.just("refresh_cells"), st.integers(1, 3)),
)

PACK = json.loads((Path(__file__).parents[2] / "rules" / "perbup-bekasi-73-2020.json").read_text())


class World:
    """Applies generated commands through the real use cases; refused ones record nothing."""

    def __init__(self, container: Any) -> None:
        self.c = container
        self.lg = container.ledger
        self.now = T0
        self.pids: list[Any] = []
        self.evidence: dict[Any, list[str]] = {}
        self.tokens: list[Any] = []
        self.refused = 0
        # the live scan at each funnel cell refresh: (span, position) -> {query: answer}
        self.scans: dict[tuple[str, int], dict[tuple[Any, ...], Any]] = {}
        for nib in LARGE + UMKM:
            self.lg.register_business(SYSTEM, self.now, nib=nib, name=f"Usaha {nib} (sampel)",
                                      scale="besar" if nib in LARGE else "mikro",
                                      region_code=REGIONS[nib], kbli=["47111"])

    def remember_scans(self) -> None:
        """What the live scan answers now, for every span whose cells were (re)stamped with
        the views' current position: what those cells must answer once they fall behind."""
        with self.c.engine.connect() as conn:
            now = self.c.views.positions(conn)[funnel_cube.VIEW]
            for span, position in conn.execute(sa.select(cell_span.c.span, cell_span.c.position)):
                if position == now and (span, now) not in self.scans:
                    period = parse_period(span)
                    self.scans[(span, now)] = {
                        (region, "pola"): funnel(conn, region=region, date_from=period.start,
                                                 date_to=period.end, group_by="pola")
                        for region in STALE_REGIONS}

    def _pid(self, i: int) -> Any:
        return self.pids[i % len(self.pids)] if self.pids else None

    def apply(self, cmd: tuple[Any, ...]) -> None:
        self.now += timedelta(hours=7)
        lg, now, op = self.lg, self.now, cmd[0]
        try:
            if op == "propose":
                _, large, umkm, pola, start, length, value = cmd
                w = lg.propose_partnership(
                    SYSTEM, now, uuid4(), large_nib=large, umkm_nib=umkm, pola=pola,
                    title="Kontrak uji", start_date=start, value_idr=value,
                    end_date=start + timedelta(days=length) if length else None,
                    location_region_code=REGIONS[large])
                self.pids.append(w.id)
                return
            if op == "catch_up":
                Runtime(lg, self.c.engine, VIEWS, store_kind=self.c.store_kind,
                        page=cmd[1]).catch_up()
                return
            if op == "refresh_cells":  # some spans' cells, as of the views' position now
                for _ in range(cmd[1]):
                    funnel_cube.refresh_next(self.c.engine, TODAY)
                    self.remember_scans()
                return
            if op == "token":
                scope = {"dinas": {"region": "32.16"}, "auditor": {"region": None},
                         "company": {"region": None, "nibs": [LARGE[0]]}}[cmd[1]]
                w = lg.issue_token(SYSTEM, now, secret_sha256_hex=uuid4().hex * 2, role=cmd[1],
                                   name=f"uji {cmd[1]}", **{"nibs": [], **scope})
                self.tokens.append(w.id)
                return
            if op == "revoke_token":
                if self.tokens:
                    lg.revoke_token(SYSTEM, now, self.tokens[cmd[1] % len(self.tokens)],
                                    reason="uji")
                return
            if op == "regulate":
                _, action, on = cmd
                if action == "enact":
                    lg.enact_regulation(SYSTEM, now, PACK)
                elif action == "amend":
                    lg.amend_regulation(SYSTEM, now, PACK["id"],
                                        {**PACK, "effective_from": on.isoformat()})
                else:
                    lg.revoke_regulation(SYSTEM, now, PACK["id"], effective_date=on,
                                         reason="uji")
                return
            if op == "fact":
                _, nib, value, on = cmd
                lg.declare_fact(SYSTEM, now, nib, name="commercial_area", value=Decimal(value),
                                unit="m2", effective_date=on, evidence_id=None)
                return
            if op in ("scale", "affiliate", "unaffiliate"):
                _, a, b, on = cmd
                if op == "scale":
                    lg.change_scale(SYSTEM, now, a, scale=b, effective_date=on)
                elif op == "affiliate":
                    lg.declare_affiliation(SYSTEM, now, a, umkm_nib=b, kind="controls",
                                           effective_date=on)
                else:
                    lg.end_affiliation(SYSTEM, now, a, umkm_nib=b, ended_date=on)
                return
            pid = self._pid(cmd[1])
            if pid is None:
                return
            if op in ("confirm", "decline", "withdraw"):
                extra = {} if op == "confirm" else {"reason": "uji"}
                getattr(lg, op)(SYSTEM, now, pid, **extra)
            elif op in ("suspend", "resume", "terminate"):
                extra = {} if op == "resume" else {"reason": "uji"}
                getattr(lg, op)(SYSTEM, now, pid, effective_date=cmd[2], **extra)
            elif op == "amend":
                changes: dict[str, Any] = {"value_idr": cmd[3]}
                if cmd[2] is not None:
                    changes["end_date"] = cmd[2]
                lg.amend(SYSTEM, now, pid, changes=changes)
            elif op == "evidence":
                evidence_id = str(uuid4())
                lg.submit_evidence(SYSTEM, now, pid, evidence_id=evidence_id, kind=cmd[2],
                                   sha256=f"{cmd[3]:064x}", size=10,
                                   media_type="application/pdf")
                self.evidence.setdefault(pid, []).append(evidence_id)
            elif op == "review":
                ids = self.evidence.get(pid) or []
                if ids:
                    lg.review_evidence(SYSTEM, now, pid, evidence_id=ids[cmd[2] % len(ids)],
                                       decision=cmd[3], reason="uji")
            elif op == "realize":
                _, _, start, length, n = cmd
                ids = (self.evidence.get(pid) or [])[:n]
                lg.report_realization(SYSTEM, now, pid, realization_id=str(uuid4()),
                                      period_start=start,
                                      period_end=start + timedelta(days=length),
                                      value_idr=1000 * (length + 1), evidence_ids=ids)
        except DomainError:
            self.refused += 1


def _fresh_container(backend: str, tmp: Path, request: pytest.FixtureRequest) -> Any:
    from api.settings import Settings
    from api.wiring import build
    from tests.conftest import PG_HOST, PG_PORT, PG_USER, _truncate_all

    url = None
    if backend == "postgresql":
        db = request.getfixturevalue("pg_database")
        _truncate_all(db)
        url = f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{db}"
    return build(Settings(data_dir=tmp / uuid4().hex, database_url=url, log_format="json"))


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql",
                                                              marks=pytest.mark.postgres)])
def test_incremental_views_equal_a_rebuild_from_scratch(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    # a few proposals first, so that the lifecycle commands after them have something to act on
    @given(st.tuples(st.lists(proposals, min_size=1, max_size=4),
                     st.lists(commands, min_size=10, max_size=80)).map(lambda t: t[0] + t[1]))
    @settings(max_examples=25, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(cmds: list[tuple[Any, ...]]) -> None:
        container = _fresh_container(backend, tmp_path, request)
        try:
            world = World(container)
            for cmd in cmds:
                world.apply(cmd)
            container.views.catch_up()
            # The funnel's cells, refreshed at random points above: without a tolerance they
            # never answer stale (what the statistics read is what the live scan gives);
            # with one, cells behind the views answer what the scan gave at their position;
            # refreshed, they all answer.
            assert_cells_exact(container, expect_hits=False)
            assert_cells_behind_answer_their_position(container, world.scans)
            refresh_all(container)
            assert_cells_exact(container, expect_hits=True)
            incremental = dump(container.engine)
            container.views.rebuild()
            refresh_all(container)
            assert dump(container.engine) == incremental
            assert container.views.position() == container.views.head()
        finally:
            container.close()

    run()


def refresh_all(container: Any) -> None:
    while funnel_cube.refresh_next(container.engine, TODAY):
        pass


STALE_REGIONS = (None, "32", "33.17")
EVER = funnel_cube.Tolerance(datetime.now(timezone.utc), timedelta(days=1))


def assert_cells_behind_answer_their_position(
        container: Any, scans: dict[tuple[str, int], dict[tuple[Any, ...], Any]]) -> None:
    with container.engine.connect() as conn:
        for span, position in conn.execute(sa.select(cell_span.c.span, cell_span.c.position)):
            period = parse_period(span)
            for region in STALE_REGIONS:
                q = dict(region=region, date_from=period.start, date_to=period.end,
                         group_by="pola")
                hit = funnel_cube.cached(conn, **q, tolerance=EVER)
                assert hit is not None, (span, region)  # a day is tolerated: they answer
                groups, totals, behind = hit
                if behind is None:
                    assert (groups, totals) == funnel(conn, **q), (span, region)
                else:
                    assert behind.position == position
                    assert (groups, totals) == scans[(span, position)][(region, "pola")], \
                        (span, position, region)
                    assert funnel_cube.cached(conn, **q, tolerance=EVER._replace(
                        min_position=position + 1)) is None


def assert_cells_exact(container: Any, expect_hits: bool) -> None:
    """Without `expect_hits`: every span that has cells answers what the live scan gives (a
    stale one falls back to it). With it: every kept span's cells answer, and exactly."""
    with container.engine.connect() as conn:
        refreshed = set(conn.execute(sa.select(cell_span.c.span)).scalars())
        for period in funnel_cube.candidates(conn, TODAY):
            if not expect_hits and period.label not in refreshed:
                continue
            for region, groupings in ((None, GROUPINGS), ("32", ("pola",)),
                                      ("33.17", ("region", "large_nib"))):
                for group_by in groupings if expect_hits else ("pola",):
                    q = dict(region=region, date_from=period.start, date_to=period.end,
                             group_by=group_by)
                    live = funnel(conn, **q)
                    hit = funnel_cube.cached(conn, **q)
                    answer = hit[:2] if hit is not None else None
                    if expect_hits:
                        assert answer == live, (period, q)
                    else:
                        assert answer in (None, live), (period, q)


def _typical(container: Any) -> World:
    world = World(container)
    world.apply(("propose", LARGE[0], UMKM[0], "rantai_pasok", D0, 300, 5_000_000))
    world.apply(("propose", LARGE[1], UMKM[2], "rantai_pasok", D0, None, None))
    world.apply(("confirm", 0))
    world.apply(("evidence", 0, "perjanjian", 1))
    world.apply(("evidence", 1, "perjanjian", 1))
    world.apply(("review", 0, 0, "verified"))
    world.apply(("realize", 0, D0 + timedelta(days=10), 30, 1))
    world.apply(("suspend", 0, D0 + timedelta(days=50)))
    world.apply(("scale", UMKM[0], "kecil", D0 + timedelta(days=20)))
    world.apply(("affiliate", LARGE[0], UMKM[1], D0))
    world.apply(("regulate", "enact", D0))
    world.apply(("fact", LARGE[0], 1200, D0))
    world.apply(("token", "dinas"))
    world.apply(("token", "company"))
    world.apply(("revoke_token", 0))
    container.views.catch_up()
    refresh_all(container)
    return world


def test_the_property_reaches_every_view_table(container) -> None:  # type: ignore[no-untyped-def]
    """Guards the property above against vacuity: a typical sequence fills every view table."""
    world = _typical(container)
    empty = [name for name, rows in dump(container.engine).items() if not rows]
    assert empty == []
    assert world.refused == 0


def test_no_view_keeps_what_it_collected_after_a_page(container) -> None:  # type: ignore[no-untyped-def]
    """ADR 0011: a view keeps no state across pages. What a page collects must be gone once
    the page is flushed, or it grows with the log (the audit view once kept every stream's
    scope: its memory grew and every page re-checked them all)."""
    container.views.page = 7  # many pages
    _typical(container)
    for view in container.views.views:
        kept = {name: value for name, value in vars(view).items()
                if isinstance(value, (list, dict, set)) and value and name != "_handlers"}
        assert not kept, (view.name, kept)


def test_a_view_that_gains_a_table_is_rebuilt_before_anything_reads_it(
        container) -> None:  # type: ignore[no-untyped-def]
    """A release that adds a table to a view (as `view_real_span` was added): on the first
    start, the view is rebuilt from the log, so the new table knows the past too."""
    import sqlalchemy as sa

    _typical(container)
    before = dump(container.engine)
    assert before["view_real_span"]
    with container.engine.begin() as conn:  # the store as the older release left it
        conn.execute(sa.text("DROP TABLE view_real_span"))
    container.views.setup()
    refresh_all(container)  # the rebuild dropped the funnel's cells: the runner recomputes them
    assert dump(container.engine) == before
    assert container.views.position() == container.views.head()


def test_a_view_whose_table_gains_a_column_is_rebuilt_before_anything_reads_it(
        container) -> None:  # type: ignore[no-untyped-def]
    """A release that adds a column to a view's table (as `view_funnel_span.refreshed_at`):
    the first start rebuilds the view, so the table has the column, and every row of the
    view is back (SQLite too, whose rebuild otherwise refills the same tables)."""
    _typical(container)
    before = dump(container.engine)
    with container.engine.begin() as conn:  # the store as the older release left it
        conn.execute(sa.text("ALTER TABLE view_funnel_span DROP COLUMN refreshed_at"))
        conn.execute(sa.text("DELETE FROM view_real_partnership"))  # what a rebuild restores
    container.views.setup()
    columns = {c["name"] for c in sa.inspect(container.engine).get_columns("view_funnel_span")}
    assert "refreshed_at" in columns
    refresh_all(container)
    assert dump(container.engine) == before
    assert_cells_exact(container, expect_hits=True)


def test_a_table_a_release_retires_is_dropped_and_the_views_answer_as_before(
        container) -> None:  # type: ignore[no-untyped-def]
    """`view_real_evidence` (a copy of the evidence index kept until 2026-12-06): a store an
    older release left with it loses it on the first start, and nothing else changes."""
    _typical(container)
    before = dump(container.engine)
    with container.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE view_real_evidence (evidence_id VARCHAR(36) "
                             "PRIMARY KEY, partnership_id VARCHAR(36), kind VARCHAR(40), "
                             "decision VARCHAR(20))"))
    container.views.setup()
    assert "view_real_evidence" not in sa.inspect(container.engine).get_table_names()
    assert dump(container.engine) == before


def test_what_is_real_reads_the_evidence_index_in_either_order_and_when_rebuilt_alone(
        container) -> None:  # type: ignore[no-untyped-def]
    """The view of what is real keeps no copy of the evidence: it reads `evidence_index`'s rows
    in the page's transaction. Folded one event per page with the index flushed before it (the
    registry's order) or after it, and folded behind an index that is ahead of it (rebuilt
    alone at a start, it then knows reviews the view has not folded yet), it ends as a rebuild
    of every view does."""
    world = World(container)
    later = D0 + timedelta(days=10)
    steps = [("propose", LARGE[0], UMKM[0], "rantai_pasok", D0, 300, 5_000_000),
             ("propose", LARGE[1], UMKM[2], "inti_plasma", D0, None, 1_000_000),
             ("confirm", 0), ("evidence", 0, "perjanjian", 1), ("evidence", 0, "invoice", 2),
             ("realize", 0, later, 30, 2), ("review", 0, 0, "verified"),
             ("confirm", 1), ("evidence", 1, "perjanjian", 3), ("realize", 1, later, 30, 1),
             ("review", 0, 1, "verified"), ("review", 1, 0, "rejected")]
    flipped = sorted(VIEWS, key=lambda v: v.name != "real_partnerships")  # it flushes first
    for i, step in enumerate(steps):
        world.apply(step)
        Runtime(container.ledger, container.engine, VIEWS if i % 2 else flipped,
                store_kind=container.store_kind, page=1).catch_up()
    assert world.refused == 0
    refresh_all(container)
    incremental = dump(container.engine)
    with container.engine.connect() as conn:
        counted = conn.execute(sa.select(realization.c.partnership_id)
                               .where(realization.c.counted)).scalars().all()
    # the first one: both its files verified, each in a later page than the report; so real
    assert counted == [str(world.pids[0])]
    assert incremental["view_real_span"]

    container.views.rebuild()
    refresh_all(container)
    assert dump(container.engine) == incremental
    Runtime(container.ledger, container.engine, flipped, store_kind=container.store_kind,
            page=1).rebuild()
    refresh_all(container)
    assert dump(container.engine) == incremental

    for step in [("evidence", 1, "invoice", 4), ("review", 1, 1, "verified"),
                 ("review", 1, 0, "verified")]:  # not folded yet
        world.apply(step)
    runtime = Runtime(container.ledger, container.engine, VIEWS,
                      store_kind=container.store_kind, page=1)
    runtime.rebuild(["evidence_index"])  # the index alone: now ahead of the view
    positions = runtime.positions()
    assert positions["evidence_index"] == runtime.head() > positions["real_partnerships"]
    runtime.catch_up()
    refresh_all(container)
    ahead = dump(container.engine)
    assert ahead != incremental
    container.views.rebuild()
    refresh_all(container)
    assert dump(container.engine) == ahead


def test_a_rebuild_of_what_is_real_rebuilds_the_evidence_index_it_reads(
        container) -> None:  # type: ignore[no-untyped-def]
    """The index may lag behind the log (the runner has not folded the last commands): a
    rebuild of the view of what is real alone would then meet reviews of files the index does
    not know yet. The rebuild takes the index with it; a runtime without it is refused."""
    world = World(container)
    world.apply(("propose", LARGE[0], UMKM[0], "rantai_pasok", D0, 300, 5_000_000))
    world.apply(("confirm", 0))
    container.views.catch_up()
    for step in [("evidence", 0, "perjanjian", 1), ("evidence", 0, "invoice", 2),
                 ("realize", 0, D0, 30, 2), ("review", 0, 0, "verified"),
                 ("review", 0, 1, "verified")]:
        world.apply(step)
    assert world.refused == 0
    runtime = Runtime(container.ledger, container.engine, VIEWS,
                      store_kind=container.store_kind, page=1)
    assert runtime.with_reads(["real_partnerships"]) == ["evidence_index", "real_partnerships"]
    runtime.rebuild(["real_partnerships"])
    positions = runtime.positions()
    assert positions["evidence_index"] == positions["real_partnerships"] == runtime.head()
    container.views.catch_up()
    refresh_all(container)
    alone = dump(container.engine)
    assert alone["view_real_span"]  # real: both files verified
    container.views.rebuild()
    refresh_all(container)
    assert dump(container.engine) == alone
    with pytest.raises(ValueError, match="evidence_index"):
        Runtime(container.ledger, container.engine,
                [v for v in VIEWS if v.name != "evidence_index"])


# ---- a runner killed mid-page ------------------------------------------------------------------

_KILLED_RUNNER = textwrap.dedent("""
    import os, signal, sys
    from api.settings import Settings
    from api.wiring import build
    container = build(Settings(data_dir=sys.argv[1], database_url=sys.argv[2] or None))
    runtime = container.views
    runtime.page = 50
    folded = [0]
    view = runtime.views[0]
    original = view.process_event

    def dying(event, tracking):
        original(event, tracking)
        folded[0] += 1
        if folded[0] == int(sys.argv[3]):  # in the middle of a page, its transaction open
            sys.stdout.write(str(runtime.position()) + "\\n")
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)

    view.process_event = dying
    runtime.catch_up()
""")


def test_a_runner_killed_in_the_middle_of_a_page_resumes_to_the_same_views(
        container, backend: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world = World(container)
    for i in range(40):
        world.apply(("propose", LARGE[i % 3], UMKM[i % 4], "perdagangan_umum", D0, 200, i))
        world.apply(("confirm", i))
        world.apply(("evidence", i, "perjanjian", i))
        world.apply(("review", i, 0, "verified"))
        world.apply(("realize", i, D0, 30, 1))
    assert world.refused == 0
    head = container.views.head()
    settings = container.settings
    url = settings.database_url or ""
    # 80 events into a 50-event page... of the first view's events: mid-way through page 2+.
    proc = subprocess.run([sys.executable, "-c", _KILLED_RUNNER, str(settings.data_dir), url,
                           "80"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    # Every committed page moved the rows and the positions together; the killed one neither.
    reached = container.views.positions()
    assert 0 < min(reached.values()) < head
    # the restarted runner (a new Runtime, as a new process would build) finishes the job ...
    Runtime(container.ledger, container.engine, VIEWS, store_kind=container.store_kind).catch_up()
    resumed = dump(container.engine)
    assert container.views.position() == head
    # ... and its views are exactly those of a replay from scratch: nothing lost, nothing twice
    container.views.rebuild()
    assert dump(container.engine) == resumed

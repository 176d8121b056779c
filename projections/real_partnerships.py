"""View: which partnerships are real on which days, and the funnel statistics over it.

Partnership and Business events fold into per-partnership facts (with suspensions, evidence
reviews and realizations; the evidence itself is `evidence_index`'s) and per-business scale and
affiliation periods. At the end of each page, every partnership the page touched — and every
partnership of an UMKM whose scale changed or of a pair whose affiliation changed — is
recomputed with `domain.reality` (the one definition of "real"), and what it says is stored: the
eligible windows, the realizations that count, and the flags.
The funnel is then plain SQL over these rows, for any period and any region prefix.

Handlers only collect the page in memory; `flush()` loads the touched ids in bulk (IN queries),
and writes only what changed, one bulk statement per table (`projections.tables`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking

from domain.business import Business
from domain.compliance import Period, quarter
from domain.partnership import Partnership
from domain.reality import (
    PartnershipFacts, PartyFacts, RealizationFacts, counts, eligible_windows,
)
from domain.values import KNOWN_PROGRAMS, Pola
from projections.runtime import View
from projections import tables
from projections.tables import (
    batches, evidence_index, in_values, insert_rows, metadata, update_rows,
)

# Region codes compare bytewise on PostgreSQL so that range predicates use the indexes.
Code = sa.String(13).with_variant(sa.String(13, collation="C"), "postgresql")

facts = sa.Table(
    "view_real_partnership", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("large_nib", sa.String(13), nullable=False),
    sa.Column("umkm_nib", sa.String(13), nullable=False, index=True),
    sa.Column("pola", sa.String(40), nullable=False),
    sa.Column("program", sa.String(100)),
    sa.Column("value_idr", sa.BigInteger),
    sa.Column("location_region_code", Code, nullable=False, index=True),
    sa.Column("large_region_code", Code, nullable=False, index=True),
    sa.Column("umkm_region_code", Code, nullable=False, index=True),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("end_date", sa.Date),
    sa.Column("terminated_on", sa.Date),
    sa.Column("confirmed", sa.Boolean, nullable=False),
    sa.Column("declined", sa.Boolean, nullable=False),
    sa.Column("withdrawn", sa.Boolean, nullable=False),
    sa.Column("perjanjian_verified", sa.Boolean, nullable=False),
    # derived by domain.reality at flush:
    sa.Column("documented", sa.Boolean, nullable=False),
    sa.Column("term_start", sa.Date, nullable=False),
    sa.Column("term_end", sa.Date),
)
suspension = sa.Table(
    "view_real_suspension", metadata,
    sa.Column("partnership_id", sa.String(36), primary_key=True),
    sa.Column("n", sa.Integer, primary_key=True),  # order within the partnership
    sa.Column("from_date", sa.Date, nullable=False),
    sa.Column("to_date", sa.Date),  # the resume date (active again), or open
)
# The evidence and its reviews are read from `evidence_index` (the same lane, folded in the same
# page): this view kept a copy of them in `view_real_evidence` until 2026-12-06, the largest of
# its tables (three rows a partnership) and a tenth of its lane's time on PostgreSQL
# (docs/benchmarks.md). `RETIRED` drops that table from existing stores.
RETIRED = ("view_real_evidence",)
realization = sa.Table(
    "view_real_realization", metadata,
    sa.Column("realization_id", sa.String(36), primary_key=True),
    sa.Column("partnership_id", sa.String(36), nullable=False, index=True),
    sa.Column("period_start", sa.Date, nullable=False),
    sa.Column("period_end", sa.Date, nullable=False),
    sa.Column("value_idr", sa.BigInteger),
    sa.Column("quantity", sa.Float),
    sa.Column("unit", sa.String(50)),
    sa.Column("evidence_ids", sa.Text, nullable=False),  # comma-separated, in listed order
    sa.Column("counted", sa.Boolean, nullable=False),
)
window = sa.Table(
    "view_real_window", metadata,
    sa.Column("partnership_id", sa.String(36), primary_key=True),
    sa.Column("from_date", sa.Date, primary_key=True),
    sa.Column("to_date", sa.Date),
)
# Per partnership and calendar span (a year "2024" or a quarter "2024-Q1") in which it is real
# by the stored derivations (`real_in_period`: documented, an eligible window and a counted
# realization overlapping the span): what the compliance list sums (ADR 0015, "The list's fast
# path"), so that it reads one row per real partnership instead of joining realizations and
# windows. Rewritten with the partnership's other rows whenever a page touches it.
Nib = sa.String(13).with_variant(sa.String(13, collation="C"), "postgresql")
span = sa.Table(
    "view_real_span", metadata,
    sa.Column("partnership_id", sa.String(36), primary_key=True),
    sa.Column("span", sa.String(7), primary_key=True),
    # bytewise collation on PostgreSQL: the list groups (sorts) ~1 row per partnership by these
    sa.Column("large_nib", Nib, nullable=False),
    sa.Column("umkm_nib", Nib, nullable=False),
    sa.Column("umkm_region_code", Code, nullable=False),
    # the UMKM's only scale; NULL when it changed, and then its history in `umkm_scales`
    sa.Column("umkm_scale", sa.String(20).with_variant(sa.String(20, collation="C"),
                                                       "postgresql")),
    sa.Column("umkm_scales", sa.Text),  # "2020-01-01=mikro,2024-06-01=besar" (`scale_history`)
    sa.Column("value_idr", sa.BigInteger, nullable=False),  # counted realizations in the span
    # their quantity: of one unit in (unit, quantity); of several as JSON {unit: quantity}
    sa.Column("unit", sa.String(50)),
    sa.Column("quantity", sa.Float),
    sa.Column("quantities", sa.Text),
    sa.Index("ix_view_real_span_span_large", "span", "large_nib"),
)
# What a page changed, for the funnel's pre-aggregated cells (`projections.funnel_cube`): the
# business-date intervals [from, to] (to NULL: open-ended) covering the old and the new terms of
# every partnership the page touched, stamped with the page's last position. A calendar span is
# stale in the cells when a change stamped after the cells' position overlaps it. Bookkeeping:
# positions differ between an incremental build and a rebuild, so view comparisons skip it.
changed = sa.Table(
    "view_real_changed", metadata,
    sa.Column("position", sa.BigInteger, nullable=False, index=True),
    sa.Column("from_date", sa.Date, nullable=False),
    sa.Column("to_date", sa.Date),
    info={"bookkeeping": True},
)
# The funnel pre-aggregated per calendar span (a year or quarter), region prefix (national,
# province, kabupaten) and grouping (`group_by`; "" = the totals): what `funnel()` would answer,
# written by `funnel_cube.refresh` in one transaction as of `funnel_span.position`.
cell = sa.Table(
    "view_funnel_cell", metadata,
    sa.Column("span", sa.String(7), nullable=False),
    sa.Column("prefix", Code, nullable=False),  # "" = national
    sa.Column("group_by", sa.String(10), nullable=False),
    sa.Column("key", sa.String(100)),
    *(sa.Column(f, sa.BigInteger, nullable=False) for f in (
        "reported", "confirmed", "documented", "real", "real_relationships", "large_partners",
        "umkm_partners", "agreement_value_idr", "realization_value_idr")),
    sa.Index("ix_view_funnel_cell_span", "span", "prefix", "group_by"),
)
cell_span = sa.Table(
    "view_funnel_span", metadata,
    sa.Column("span", sa.String(7), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),  # real_partnerships' position then
    # the instant the cells were read at (their `as_of` when they answer behind the view)
    sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
    info={"bookkeeping": True},
)
business = sa.Table(
    "view_real_business", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("nib", sa.String(13), nullable=False),
)
scale = sa.Table(
    "view_real_scale", metadata,
    sa.Column("nib", sa.String(13), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),  # ties on a date: the later one wins
    # The registered scale is the baseline: its row starts at date.min, whatever date the
    # registration carries (`domain.business.ordered_scales`). `registered` marks that row;
    # added 2026-12-05 with the rule, so that existing stores rebuild this view on start.
    sa.Column("from_date", sa.Date, nullable=False),
    sa.Column("scale", sa.String(20), nullable=False),
    sa.Column("registered", sa.Boolean, nullable=False, default=False),
)
affiliation = sa.Table(
    "view_real_affiliation", metadata,
    sa.Column("umkm_nib", sa.String(13), primary_key=True),
    sa.Column("large_nib", sa.String(13), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("from_date", sa.Date, nullable=False),
    sa.Column("to_date", sa.Date),
)

_FACT_COLUMNS = [c.name for c in facts.c]


_DAY = timedelta(days=1)


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


class _State:
    """One partnership while a page is folded: its row, suspensions, evidence, realizations."""

    __slots__ = ("row", "suspensions", "evidence", "realizations", "new", "old")

    def __init__(self, row: dict[str, Any], new: bool) -> None:
        self.row = row
        self.new = new
        self.suspensions: list[list[date | None]] = []
        self.evidence: dict[str, list[Any]] = {}  # id -> [kind, decision]
        self.realizations: dict[str, dict[str, Any]] = {}
        self.old: dict[str, Any] = {}  # what the store holds, to write only what changed


class RealPartnershipsView(View):
    name = "real_partnerships"
    tables = (facts, suspension, realization, window, span, business, scale, affiliation,
              changed, cell, cell_span)
    retired_tables = RETIRED
    reads = ("evidence_index",)
    read_indexes = ("ix_view_real_partnership_large_region_code",
                    "ix_view_real_partnership_location_region_code",
                    "ix_view_real_partnership_umkm_region_code", "ix_view_real_span_span_large",
                    "ix_view_real_changed_position", "ix_view_funnel_cell_span")

    def __init__(self, view: Any) -> None:
        super().__init__(view)
        self._events: dict[str, list[Any]] = {}  # partnership id -> its events in this page
        self._businesses: list[dict[str, Any]] = []
        self._scales: list[dict[str, Any]] = []  # with "bid" until resolved to a nib
        self._affiliations: list[tuple[str, Any]] = []  # ("declared"|"ended", event, seq)
        self._seq = 0  # the page's last position this view saw (stamps `changed`)

    @singledispatchmethod
    def process_event(self, e: Any, tracking: Tracking) -> None:
        pass

    @process_event.register(Partnership.Event)
    def _partnership(self, e: Partnership.Event, tracking: Tracking) -> None:
        self._seq = tracking.notification_id
        self._events.setdefault(str(e.originator_id), []).append(e)

    @process_event.register(Business.Registered)
    def _registered(self, e: Business.Registered, tracking: Tracking) -> None:
        self._seq = tracking.notification_id
        self._businesses.append({"id": str(e.originator_id), "nib": e.nib})
        self._scales.append({"bid": str(e.originator_id), "seq": tracking.notification_id,
                             "from_date": date.min, "scale": e.scale, "registered": True})

    @process_event.register(Business.ScaleChanged)
    def _scale_changed(self, e: Business.ScaleChanged, tracking: Tracking) -> None:
        self._seq = tracking.notification_id
        self._scales.append({"bid": str(e.originator_id), "seq": tracking.notification_id,
                             "from_date": date.fromisoformat(e.effective_date),
                             "scale": e.to_scale, "registered": False})

    @process_event.register(Business.AffiliationDeclared)
    @process_event.register(Business.AffiliationEnded)
    def _affiliation(self, e: Any, tracking: Tracking) -> None:
        self._seq = tracking.notification_id
        self._affiliations.append((str(e.originator_id), e, tracking.notification_id))

    # --- flush ------------------------------------------------------------------------------

    def flush(self) -> None:
        try:
            if self._events or self._businesses or self._scales or self._affiliations:
                touched = self._write_businesses()
                self._recompute(touched)
        finally:
            self._events.clear()
            self._businesses.clear()
            self._scales.clear()
            self._affiliations.clear()

    def _nibs(self, ids: set[str]) -> dict[str, str]:
        found = {b["id"]: b["nib"] for b in self._businesses if b["id"] in ids}
        missing = sorted(ids - set(found))
        for chunk in batches(self.conn, missing):
            found.update(self.conn.execute(sa.select(business.c.id, business.c.nib).where(
                in_values(self.conn, business.c.id, chunk))).all())
        return found

    def _write_businesses(self) -> set[str]:
        """Writes scale and affiliation changes; returns the partnerships they may affect."""
        conn = self.conn
        if self._businesses:
            insert_rows(conn, business, self._businesses)
        changed_ids = {s["bid"] for s in self._scales} | {a[0] for a in self._affiliations}
        nibs = self._nibs(changed_ids) if changed_ids else {}
        if self._scales:
            insert_rows(conn, scale, [
                {"nib": nibs[s["bid"]], "seq": s["seq"], "from_date": s["from_date"],
                 "scale": s["scale"], "registered": s["registered"]} for s in self._scales])
        new: list[dict[str, Any]] = []
        ended: list[dict[str, Any]] = []
        for bid, e, seq in self._affiliations:
            large = nibs[bid]
            if isinstance(e, Business.AffiliationDeclared):
                new.append({"umkm_nib": e.umkm_nib, "large_nib": large, "seq": seq,
                            "from_date": date.fromisoformat(e.effective_date),
                            "to_date": _day(e.ended_date)})
                continue
            day = date.fromisoformat(e.effective_date)
            open_new = [a for a in new if (a["umkm_nib"], a["large_nib"]) == (e.umkm_nib, large)
                        and a["to_date"] is None]
            if open_new:
                open_new[-1]["to_date"] = day
            else:
                ended.append({"_u": e.umkm_nib, "_l": large, "_d": day})
        a = affiliation
        if ended:  # the stored open affiliation of each pair; before this page's new ones
            conn.execute(a.update().where(a.c.umkm_nib == sa.bindparam("_u"),
                                          a.c.large_nib == sa.bindparam("_l"),
                                          a.c.to_date.is_(None))
                         .values(to_date=sa.bindparam("_d")), ended)
        if new:
            insert_rows(conn, a, new)
        # Registrations change no existing partnership (the registered scale is the first).
        registered = {b["id"] for b in self._businesses}
        scale_nibs = {nibs[s["bid"]] for s in self._scales if s["bid"] not in registered}
        pairs = {(x["umkm_nib"], x["large_nib"]) for x in new} | \
            {(x["_u"], x["_l"]) for x in ended}
        touched: set[str] = set()
        for chunk in batches(conn, sorted(scale_nibs | {u for u, _ in pairs})):
            for pid, umkm, large in conn.execute(
                    sa.select(facts.c.id, facts.c.umkm_nib, facts.c.large_nib)
                    .where(in_values(conn, facts.c.umkm_nib, chunk))):
                if umkm in scale_nibs or (umkm, large) in pairs:
                    touched.add(pid)
        return touched

    def _load(self, ids: list[str]) -> dict[str, _State]:
        conn = self.conn
        states: dict[str, _State] = {}
        for chunk in batches(conn, ids):
            for r in conn.execute(sa.select(facts).where(
                    in_values(conn, facts.c.id, chunk))).mappings():
                s = states[r["id"]] = _State(dict(r), new=False)
                s.old["row"] = dict(r)
            for r in conn.execute(sa.select(suspension).where(
                    in_values(conn, suspension.c.partnership_id, chunk)).order_by(
                    suspension.c.partnership_id, suspension.c.n)):
                states[r.partnership_id].suspensions.append([r.from_date, r.to_date])
            # `evidence_index` may already hold this page's submissions and reviews (flushed
            # first): folding them again on top ends in the same state
            ev = evidence_index.c
            for r in conn.execute(sa.select(ev.evidence_id, ev.partnership_id, ev.kind, ev.review)
                                  .where(in_values(conn, ev.partnership_id, chunk))):
                states[r.partnership_id].evidence[r.evidence_id] = [r.kind, r.review]
            for r in conn.execute(sa.select(realization).where(
                    in_values(conn, realization.c.partnership_id, chunk))).mappings():
                states[r["partnership_id"]].realizations[r["realization_id"]] = \
                    {**dict(r), "_new": False}
            for r in conn.execute(sa.select(window)
                                  .where(in_values(conn, window.c.partnership_id, chunk))
                                  .order_by(window.c.partnership_id, window.c.from_date)):
                states[r.partnership_id].old.setdefault("windows", []).append(
                    (r.from_date, r.to_date))
            for r in conn.execute(sa.select(span)
                                  .where(in_values(conn, span.c.partnership_id, chunk))
                                  .order_by(span.c.partnership_id, span.c.span)).mappings():
                states[r["partnership_id"]].old.setdefault("spans", []).append(dict(r))
        for s in states.values():
            s.old["suspensions"] = [list(x) for x in s.suspensions]
        return states

    def _recompute(self, touched: set[str]) -> None:
        proposed = {pid for pid, es in self._events.items()
                    if isinstance(es[0], Partnership.Proposed)}
        stored = sorted((set(self._events) | touched) - proposed)
        states = self._load(stored)
        for pid, es in self._events.items():
            if pid not in states and not isinstance(es[0], Partnership.Proposed):
                continue  # a stream this view never saw begin: nothing to fold onto
            for e in es:
                _apply(states, pid, e)
        if not states:
            return
        parties = self._parties(states.values())
        self._write(states, parties)

    def _parties(self, states: Iterable[_State]) -> dict[tuple[str, str], PartyFacts]:
        pairs = {(s.row["umkm_nib"], s.row["large_nib"]) for s in states}
        umkms = sorted({u for u, _ in pairs})
        scales: dict[str, list[tuple[date, str]]] = {}
        affs: dict[tuple[str, str], list[tuple[date, date | None]]] = {}
        conn = self.conn
        for chunk in batches(conn, umkms):
            for r in conn.execute(sa.select(scale).where(in_values(conn, scale.c.nib, chunk))
                                  .order_by(scale.c.nib, scale.c.from_date, scale.c.seq)):
                scales.setdefault(r.nib, []).append((r.from_date, r.scale))
            for r in conn.execute(sa.select(affiliation).where(
                    in_values(conn, affiliation.c.umkm_nib, chunk))):
                affs.setdefault((r.umkm_nib, r.large_nib), []).append((r.from_date, r.to_date))
        return {(u, lg): PartyFacts(tuple(scales.get(u, ())), tuple(affs.get((u, lg), ())))
                for u, lg in pairs}

    def _write(self, states: dict[str, _State], parties: dict[tuple[str, str], PartyFacts]
               ) -> None:
        conn = self.conn
        new_rows, changed_rows = [], []
        susp_pids, susp_rows = [], []
        new_real, real_changes = [], []
        win_pids, win_rows = [], []
        span_pids, span_rows = [], []
        terms: list[tuple[date, date | None]] = []
        for pid, s in states.items():
            row = s.row
            f = _facts(s)
            party = parties[(row["umkm_nib"], row["large_nib"])]
            windows = eligible_windows(f, party)
            row["documented"] = f.confirmed and f.perjanjian_verified
            row["term_start"], row["term_end"] = row["start_date"], min(
                (d for d in (row["end_date"], row["terminated_on"]) if d), default=None)
            terms.append((row["term_start"], row["term_end"]))
            if not s.new:
                terms.append((s.old["row"]["term_start"], s.old["row"]["term_end"]))
            if s.new:
                new_rows.append(row)
            elif row != s.old["row"]:
                changed_rows.append({k: row[k] for k in _FACT_COLUMNS})
            if s.suspensions != s.old.get("suspensions", []):
                if not s.new:  # a new partnership has no rows stored to replace
                    susp_pids.append(pid)
                susp_rows += [{"partnership_id": pid, "n": i, "from_date": a, "to_date": b}
                              for i, (a, b) in enumerate(s.suspensions)]
            # `f.realizations` is built from `s.realizations`, in the same order
            for (rid, r), rf in zip(s.realizations.items(), f.realizations):
                was = r["counted"]
                r["counted"] = counts(rf)
                if r["_new"]:
                    new_real.append({k: v for k, v in r.items() if k != "_new"})
                elif was != r["counted"]:
                    real_changes.append({"realization_id": rid, "counted": r["counted"]})
            if windows != s.old.get("windows", []):
                if not s.new:
                    win_pids.append(pid)
                win_rows += [{"partnership_id": pid, "from_date": a, "to_date": b}
                             for a, b in windows]
            spans = real_spans(row, windows, [r for r in s.realizations.values() if r["counted"]],
                               party.scale_periods)
            if spans != s.old.get("spans", []):
                if not s.new:
                    span_pids.append(pid)
                span_rows += spans
        insert_rows(conn, facts, new_rows)
        update_rows(conn, facts, ["id"], changed_rows)
        for table, pids, rows in ((suspension, susp_pids, susp_rows),
                                  (window, win_pids, win_rows), (span, span_pids, span_rows)):
            for chunk in batches(conn, pids):
                conn.execute(table.delete().where(in_values(conn, table.c.partnership_id, chunk)))
            insert_rows(conn, table, rows)
        insert_rows(conn, realization, new_real)
        update_rows(conn, realization, ["realization_id"], real_changes)
        insert_rows(conn, changed, [{"position": self._seq, "from_date": a, "to_date": b}
                                    for a, b in merge_intervals(terms)])


def merge_intervals(terms: Iterable[tuple[date, date | None]]
                    ) -> list[tuple[date, date | None]]:
    """Overlapping or adjacent [from, to] intervals joined (to None: open-ended), sorted."""
    out: list[list[Any]] = []
    for a, b in sorted(terms, key=lambda t: t[0]):
        if out and (out[-1][1] is None or a <= out[-1][1] + _DAY):
            if out[-1][1] is not None and (b is None or b > out[-1][1]):
                out[-1][1] = b
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _apply(states: dict[str, _State], pid: str, e: Any) -> None:
    """Folds one partnership event into its in-memory state."""
    cls = type(e)
    fold = _FOLDS.get(cls, _UNSEEN)
    if fold is _UNSEEN:  # a subclass (an upcast version, say) folds as its base class does
        fold = _FOLDS[cls] = next((_FOLDS[k] for k in cls.__mro__[1:] if k in _FOLDS), None)
    if fold is not None:
        fold(states, pid, e)


def _proposed(states: dict[str, _State], pid: str, e: Any) -> None:
    states[pid] = _State(dict(
        id=pid, large_nib=e.large_nib, umkm_nib=e.umkm_nib, pola=e.pola,
        program=e.program, value_idr=e.value_idr,
        location_region_code=e.location_region_code, large_region_code=e.large_region_code,
        umkm_region_code=e.umkm_region_code, start_date=date.fromisoformat(e.start_date),
        end_date=_day(e.end_date), terminated_on=None, confirmed=False, declined=False,
        withdrawn=False, perjanjian_verified=False, documented=False, term_start=None,
        term_end=None), new=True)


def _flag(name: str) -> Callable[[dict[str, _State], str, Any], None]:
    def fold(states: dict[str, _State], pid: str, e: Any) -> None:
        states[pid].row[name] = True
    return fold


def _suspended(states: dict[str, _State], pid: str, e: Any) -> None:
    states[pid].suspensions.append([date.fromisoformat(e.effective_date), None])


def _resumed(states: dict[str, _State], pid: str, e: Any) -> None:
    s = states[pid]
    if s.suspensions and s.suspensions[-1][1] is None:
        s.suspensions[-1][1] = date.fromisoformat(e.effective_date)


def _terminated(states: dict[str, _State], pid: str, e: Any) -> None:
    states[pid].row["terminated_on"] = date.fromisoformat(e.effective_date)


def _amended(states: dict[str, _State], pid: str, e: Any) -> None:
    row = states[pid].row
    if "end_date" in e.changes:
        row["end_date"] = _day(e.changes["end_date"])
    if "value_idr" in e.changes:
        row["value_idr"] = e.changes["value_idr"]


def _evidence_submitted(states: dict[str, _State], pid: str, e: Any) -> None:
    states[pid].evidence[e.evidence_id] = [e.kind, None]


def _evidence_reviewed(states: dict[str, _State], pid: str, e: Any) -> None:
    s = states[pid]
    item = s.evidence[e.evidence_id]
    item[1] = e.decision
    if item[0] == "perjanjian" and e.decision == "verified":
        s.row["perjanjian_verified"] = True


def _realization_reported(states: dict[str, _State], pid: str, e: Any) -> None:
    states[pid].realizations[e.realization_id] = dict(
        realization_id=e.realization_id, partnership_id=pid,
        period_start=date.fromisoformat(e.period_start),
        period_end=date.fromisoformat(e.period_end), value_idr=e.value_idr,
        quantity=e.quantity, unit=e.unit, evidence_ids=",".join(e.evidence_ids),
        counted=False, _new=True)


# What each partnership event changes here, by its class: one lookup instead of a chain of
# isinstance checks for every event of a page. A class met for the first time is added with
# the fold of its nearest base class here, or None (it changes nothing).
_UNSEEN: Any = object()
_FOLDS: dict[type, Callable[[dict[str, _State], str, Any], None] | None] = {
    Partnership.Proposed: _proposed,
    Partnership.Confirmed: _flag("confirmed"),
    Partnership.Declined: _flag("declined"),
    Partnership.Withdrawn: _flag("withdrawn"),
    Partnership.Suspended: _suspended,
    Partnership.Resumed: _resumed,
    Partnership.Terminated: _terminated,
    Partnership.Amended: _amended,
    Partnership.EvidenceSubmitted: _evidence_submitted,
    Partnership.EvidenceReviewed: _evidence_reviewed,
    Partnership.RealizationReported: _realization_reported,
}


@lru_cache(maxsize=4096)
def _spans_of(start: date, end: date) -> tuple[Period, ...]:
    """The calendar years and quarters (obligation periods) that [start, end] overlaps.
    Cached: realizations report the same few periods (a month, a quarter, a year) over and
    over, and a page asks for each realization of every partnership it touched."""
    out = []
    for y in range(start.year, end.year + 1):
        out.append(Period(str(y), date(y, 1, 1), date(y, 12, 31)))
        for q in range(1, 5):
            p = quarter(y, q)
            if p.start <= end and p.end >= start:
                out.append(p)
    return tuple(out)


def real_spans(row: dict[str, Any], windows: Sequence[tuple[date, date | None]],
               counted: Sequence[dict[str, Any]],
               scale_periods: Sequence[tuple[date, str]]) -> list[dict[str, Any]]:
    """The `span` rows of one partnership: every calendar year and quarter in which it is real
    by `real_in_period` (documented, an eligible window and a counted realization overlapping
    it), with the rupiah and the quantity by unit of its counted realizations overlapping it.
    No rows for an UMKM of unknown scale (no partner filter matches it). Sorted by span."""
    if not row["documented"] or not windows or not counted or not scale_periods:
        return []
    sums: dict[str, list[Any]] = {}  # span -> [value, {unit: quantity}]
    for r in counted:
        for p in _spans_of(r["period_start"], r["period_end"]):
            if not any(a <= p.end and (b is None or b >= p.start) for a, b in windows):
                continue
            acc = sums.setdefault(p.label, [0, {}])
            acc[0] += r["value_idr"] or 0
            if r["unit"] is not None and r["quantity"] is not None:
                acc[1][r["unit"]] = acc[1].get(r["unit"], 0.0) + r["quantity"]
    single = scale_periods[0][1] if len(scale_periods) == 1 else None
    history = None if single else scale_history(scale_periods)
    out = []
    for label, (value, units) in sorted(sums.items()):
        one = next(iter(units.items())) if len(units) == 1 else (None, None)
        out.append({"partnership_id": row["id"], "span": label, "large_nib": row["large_nib"],
                    "umkm_nib": row["umkm_nib"], "umkm_region_code": row["umkm_region_code"],
                    "umkm_scale": single, "umkm_scales": history, "value_idr": value,
                    "unit": one[0], "quantity": one[1],
                    "quantities": json.dumps(units, sort_keys=True) if len(units) > 1
                    else None})
    return out


def scale_history(periods: Sequence[tuple[date, str]]) -> str:
    """(2020-01-01, mikro), (2024-06-01, besar) -> "2020-01-01=mikro,2024-06-01=besar"."""
    return ",".join(f"{d.isoformat()}={s}" for d, s in periods)


def parse_scale_history(text: str) -> tuple[tuple[date, str], ...]:
    return tuple((date.fromisoformat(d), s) for d, s in (x.split("=") for x in text.split(",")))


def _realization(s: _State, r: dict[str, Any]) -> RealizationFacts:
    ids = [x for x in r["evidence_ids"].split(",") if x]
    return RealizationFacts(r["realization_id"], r["period_start"], r["period_end"],
                            r["value_idr"], r["quantity"], r["unit"],
                            tuple(s.evidence[x][1] if x in s.evidence else None for x in ids))


def _facts(s: _State) -> PartnershipFacts:
    row = s.row
    return PartnershipFacts(
        id=row["id"], large_nib=row["large_nib"], umkm_nib=row["umkm_nib"], pola=row["pola"],
        program=row["program"], location_region_code=row["location_region_code"],
        large_region_code=row["large_region_code"], umkm_region_code=row["umkm_region_code"],
        start_date=row["start_date"], end_date=row["end_date"],
        terminated_on=row["terminated_on"], confirmed=row["confirmed"],
        withdrawn=row["withdrawn"], declined=row["declined"],
        suspensions=tuple((a, b) for a, b in s.suspensions),  # type: ignore[misc]
        value_idr=row["value_idr"], perjanjian_verified=row["perjanjian_verified"],
        realizations=tuple(_realization(s, r) for r in s.realizations.values()))


# --- the funnel ---------------------------------------------------------------------------------

GROUPINGS = ("pola", "program", "region", "large_nib")
FIGURES = ("reported", "confirmed", "documented", "real", "real_relationships",
           "large_partners", "umkm_partners", "agreement_value_idr", "realization_value_idr")
_SEGMENT_ENDS = (2, 5, 8, 13)  # lengths of a province, kabupaten, kecamatan and desa code


def in_region(column: Any, prefix: str) -> sa.ColumnElement[bool]:
    """Whole-segment prefix match (as `tables.region_within`), as a range so that an
    index on the code serves it: `32.16` matches `32.16` and `32.16.01`, never `32.160`."""
    return sa.or_(column == prefix, sa.and_(column >= prefix + ".", column < prefix + "/"))


def touches_region(prefix: str) -> sa.ColumnElement[bool]:
    return tables.touches_region(facts, prefix, in_region)


def region_key_length(prefix: str) -> int:
    """Group by region: the location code cut to one segment below the prefix."""
    depth = 0 if prefix == "" else prefix.count(".") + 1
    return _SEGMENT_ENDS[min(depth, len(_SEGMENT_ENDS) - 1)]


def real_in_period(date_from: date, date_to: date) -> sa.ColumnElement[bool]:
    """The SQL twin of `assess(...).stage == "real"` over the stored derivations."""
    p = facts
    w = sa.exists().where(window.c.partnership_id == p.c.id, window.c.from_date <= date_to,
                          sa.or_(window.c.to_date.is_(None), window.c.to_date >= date_from))
    r = sa.exists().where(realization.c.partnership_id == p.c.id, realization.c.counted,
                          realization.c.period_start <= date_to,
                          realization.c.period_end >= date_from)
    return sa.and_(p.c.documented, w, r)


def real_ids(date_from: date, date_to: date) -> sa.Select[Any]:
    """Ids of the partnerships real in the period (for the list endpoint's real_from/real_to)."""
    return sa.select(facts.c.id).where(real_in_period(date_from, date_to))


def funnel(conn: sa.Connection, *, region: str | None, date_from: date, date_to: date,
           group_by: str = "pola", scope: dict[str, Any] | None = None
           ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The funnel of the partnerships touching `region` whose term overlaps the period:
    (groups, totals), in one statement. Empty groups (every pola, the known programs) are 0."""
    if group_by not in GROUPINGS:
        raise ValueError(f"group_by must be one of {GROUPINGS}")
    p = facts
    prefix = region or ""
    key = {"pola": p.c.pola, "program": p.c.program, "large_nib": p.c.large_nib,
           "region": sa.func.substr(p.c.location_region_code, 1,
                                    region_key_length(prefix))}[group_by]
    is_real = real_in_period(date_from, date_to)
    rows_in = (sa.select(
        key.label("k"), p.c.id, p.c.large_nib, p.c.umkm_nib, p.c.pola, p.c.value_idr,
        sa.case((p.c.confirmed, 1), else_=0).label("c"),
        sa.case((p.c.documented, 1), else_=0).label("d"),
        sa.case((is_real, 1), else_=0).label("r"))
        .where(sa.not_(p.c.withdrawn), p.c.term_start <= date_to,
               sa.or_(p.c.term_end.is_(None), p.c.term_end >= date_from),
               *([touches_region(prefix)] if prefix else []), *tables.scope_conditions(scope or {}, facts, in_region))
        .offset(0).subquery("rows_in"))
    i = rows_in.c
    # The realized value only matters for the real rows (real implies documented): the
    # sub-query runs for those only, not for every documented row. OFFSET 0 keeps PostgreSQL
    # from flattening `rows_in` (which would evaluate `r` twice).
    realized = (sa.select(sa.func.coalesce(sa.func.sum(realization.c.value_idr), 0))
                .where(realization.c.partnership_id == i.id, realization.c.counted,
                       realization.c.period_start <= date_to,
                       realization.c.period_end >= date_from).scalar_subquery())
    base = sa.select(i.k, i.large_nib, i.umkm_nib, i.pola, i.value_idr, i.c, i.d, i.r,
                     sa.case((i.r == 1, realized), else_=0).label("rv")).cte("base")
    b = base.c

    grouped = sa.select(sa.literal(0).label("total"), b.k, *figure_columns(b)).group_by(b.k)
    total = sa.select(sa.literal(1).label("total"), sa.null().label("k"), *figure_columns(b))
    rows = conn.execute(sa.union_all(grouped, total)).mappings().all()
    found = {r["k"]: _figures(r) for r in rows if r["total"] == 0}
    totals = next((_figures(r) for r in rows if r["total"] == 1), _figures({}))
    return shape(found, group_by), totals


def figure_columns(t: Any) -> list[Any]:
    """The nine FIGURES as aggregate columns over rows with the columns large_nib, umkm_nib, pola,
    value_idr, c/d/r (0/1: confirmed, documented, real) and rv (realized value of a real row)."""
    real = t.r == 1
    return [
        sa.func.count().label("reported"), sa.func.sum(t.c).label("confirmed"),
        sa.func.sum(t.d).label("documented"), sa.func.sum(t.r).label("real"),
        sa.func.count(sa.distinct(sa.case(
            (real, t.large_nib + "|" + t.umkm_nib + "|" + t.pola)))).label("real_relationships"),
        sa.func.count(sa.distinct(sa.case((real, t.large_nib)))).label("large_partners"),
        sa.func.count(sa.distinct(sa.case((real, t.umkm_nib)))).label("umkm_partners"),
        sa.func.sum(sa.case((real, sa.func.coalesce(t.value_idr, 0)), else_=0)).label(
            "agreement_value_idr"),
        sa.func.sum(sa.case((real, t.rv), else_=0)).label("realization_value_idr")]


def shape(found: dict[Any, dict[str, int]], group_by: str) -> list[dict[str, Any]]:
    """The groups in the answer's order, every pola and known program present (0 when empty)."""
    keys: list[Any] = list(found)
    if group_by == "pola":
        keys = [x.value for x in Pola] + sorted(set(found) - {x.value for x in Pola})
    elif group_by == "program":
        seen = sorted((k for k in found if k not in KNOWN_PROGRAMS and k is not None))
        keys = [*KNOWN_PROGRAMS, *seen, *([None] if None in found else [])]
    else:
        keys = sorted(found)
    zero = _figures({})
    return [{"key": k, **found.get(k, zero)} for k in keys]


def _figures(r: Any) -> dict[str, int]:
    return {f: int(r.get(f) or 0) for f in FIGURES}

"""View and readers: the facts compliance needs (ADR 0015).

The view keeps what `real_partnerships` does not: each business's name, region and KBLI, and the
facts it declared (with their effective dates and the instant each was recorded). The readers
turn these rows, `real_partnerships`' per-partnership rows (facts, suspensions, realizations,
scale periods, affiliations) and `evidence_index`'s reviews into the plain facts that
`domain.compliance.evaluate` takes — the same facts the API otherwise replays from the event
store as of an instant.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking

from domain.business import Business
from domain.compliance import BusinessFacts, DeclaredFact, PartnershipRecord, Period
from domain.reality import PartnershipFacts, PartyFacts, RealizationFacts
from projections import real_partnerships as rp
from projections.runtime import View
from projections.tables import (
    batches, chunks, evidence_index, in_values, insert_rows, metadata, region_within,
    stored_instant,
)

business = sa.Table(
    "view_compliance_business", metadata,
    sa.Column("business_id", sa.String(36), primary_key=True),
    sa.Column("nib", sa.String(13), nullable=False, unique=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("region_code", sa.String(13), nullable=False, index=True),
    sa.Column("kbli", sa.Text, nullable=False),  # comma-separated, as registered
)
fact = sa.Table(
    "view_compliance_fact", metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("business_id", sa.String(36), nullable=False, index=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("value", sa.String(60), nullable=False),  # a decimal as text, as in the event
    sa.Column("unit", sa.String(50), nullable=False),
    sa.Column("effective_date", sa.Date, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)

_VERIFIED = ("verified",)  # a realization the view counted (`domain.reality.counts`)


class ComplianceFactsView(View):
    name = "compliance_facts"
    tables = (business, fact)
    read_indexes = ("ix_view_compliance_business_region_code",
                    "ix_view_compliance_fact_business_id")

    def __init__(self, view: Any) -> None:
        super().__init__(view)
        self._businesses: list[dict[str, Any]] = []
        self._facts: list[dict[str, Any]] = []

    @singledispatchmethod
    def process_event(self, e: Any, tracking: Tracking) -> None:
        pass

    @process_event.register(Business.Registered)
    def _registered(self, e: Business.Registered, tracking: Tracking) -> None:
        self._businesses.append({"business_id": str(e.originator_id), "nib": e.nib,
                                 "name": e.name, "region_code": e.region_code,
                                 "kbli": ",".join(e.kbli)})

    @process_event.register(Business.FactDeclared)
    def _fact(self, e: Business.FactDeclared, tracking: Tracking) -> None:
        self._facts.append({"seq": tracking.notification_id,
                            "business_id": str(e.originator_id), "name": e.name,
                            "value": e.value, "unit": e.unit,
                            "effective_date": date.fromisoformat(e.effective_date),
                            "recorded_at": e.timestamp})

    def flush(self) -> None:
        try:
            if self._businesses:
                insert_rows(self.conn, business, self._businesses)
            if self._facts:
                insert_rows(self.conn, fact, self._facts)
        finally:
            self._businesses = []
            self._facts = []


# --- readers ------------------------------------------------------------------------------------

def business_names(conn: sa.Connection, nibs: Sequence[str]) -> dict[str, str]:
    """The registered name of each of `nibs` (those not registered, or not yet folded, are
    absent): one query for a page of up to `CHUNK` NIBs. It checks no scope: callers ask only
    about businesses the reader may see (the parties of partnerships in its scope)."""
    wanted = sorted(set(nibs))
    out: dict[str, str] = {}
    for chunk in chunks(wanted):
        out.update(conn.execute(sa.select(business.c.nib, business.c.name)
                                .where(business.c.nib.in_(chunk))).tuples().all())
    return out


def business_facts(conn: sa.Connection, *, region: str | None = None,
                   nibs: Sequence[str] | None = None,
                   scales: Sequence[str] | None = None) -> list[BusinessFacts]:
    """Businesses registered in `region` (a prefix; None: anywhere) and/or among `nibs`, with
    their scale history and declared facts. `scales`: only those that ever held one of them."""
    b = business
    q = sa.select(b).order_by(b.c.nib)
    if region:
        q = q.where(region_within(b.c.region_code, region))
    if nibs is not None:
        q = q.where(b.c.nib.in_(list(nibs)))
    if scales is not None:
        q = q.where(b.c.nib.in_(sa.select(rp.scale.c.nib).where(rp.scale.c.scale.in_(scales))))
    rows = conn.execute(q).all()
    by_id = {r.business_id: r for r in rows}
    scale_rows: dict[str, list[tuple[date, str]]] = {}
    facts: dict[str, list[DeclaredFact]] = {}
    ids = list(by_id)
    nib_list = [r.nib for r in rows]
    for chunk in chunks(nib_list):
        for r in conn.execute(sa.select(rp.scale).where(rp.scale.c.nib.in_(chunk))
                              .order_by(rp.scale.c.nib, rp.scale.c.from_date, rp.scale.c.seq)):
            scale_rows.setdefault(r.nib, []).append((r.from_date, r.scale))
    for chunk in chunks(ids):
        for r in conn.execute(sa.select(fact).where(fact.c.business_id.in_(chunk))
                              .order_by(fact.c.seq)):
            facts.setdefault(r.business_id, []).append(DeclaredFact(
                r.name, Decimal(r.value), r.unit, r.effective_date, stored_instant(r.recorded_at)))
    return [BusinessFacts(nib=r.nib, name=r.name, region_code=r.region_code,
                          kbli=tuple(x for x in r.kbli.split(",") if x),
                          scale_periods=tuple(scale_rows.get(r.nib, ())),
                          facts=tuple(facts.get(r.business_id, ())))
            for r in rows]


def partnership_records(conn: sa.Connection, large_nibs: Sequence[str], *,
                        realized_between: tuple[date, date] | None = None
                        ) -> dict[str, list[PartnershipRecord]]:
    """The partnerships of each large business, as `PartnershipRecord`s, by large NIB.

    Without `realized_between`: every partnership with every realization and evidence review
    (to explain the ones left out). With it, only what can be counted in that span (for a list,
    which shows no left-outs): partnerships documented (confirmed + verified perjanjian) with a
    counted realization overlapping the span and an eligible window overlapping it — or a UMKM
    that was ever besar, whose graduation grace the stored windows do not know — and, of each,
    only its counted realizations in the span. These are the stored derivations of
    `domain.reality` (`counts`, `eligible_windows`), so this narrows the reading and never
    changes a count; the domain still decides."""
    f = rp.facts
    out: dict[str, list[PartnershipRecord]] = {}
    for chunk in chunks(sorted(set(large_nibs))):
        q = sa.select(f).where(f.c.large_nib.in_(chunk)).order_by(f.c.large_nib, f.c.id)
        if realized_between is not None:
            start, end = realized_between
            r, w, s = rp.realization, rp.window, rp.scale
            q = q.where(
                f.c.documented,
                sa.exists().where(r.c.partnership_id == f.c.id, r.c.counted,
                                  r.c.period_start <= end, r.c.period_end >= start),
                sa.or_(sa.exists().where(w.c.partnership_id == f.c.id, w.c.from_date <= end,
                                         sa.or_(w.c.to_date.is_(None), w.c.to_date >= start)),
                       sa.exists().where(s.c.nib == f.c.umkm_nib, s.c.scale == "besar")))
        rows = conn.execute(q).mappings().all()
        if not rows:
            continue
        for nib, records in _records(conn, rows, realized_between).items():
            out.setdefault(nib, []).extend(records)
    return out


def _records(conn: sa.Connection, rows: Sequence[Any],
             counted_in: tuple[date, date] | None = None) -> dict[str, list[PartnershipRecord]]:
    ids = [r["id"] for r in rows]
    suspensions: dict[str, list[tuple[date, date | None]]] = {}
    decisions: dict[str, str | None] = {}
    realizations: dict[str, list[Any]] = {}
    for chunk in batches(conn, ids):
        for r in conn.execute(sa.select(rp.suspension).where(
                in_values(conn, rp.suspension.c.partnership_id, chunk)).order_by(
                rp.suspension.c.partnership_id, rp.suspension.c.n)):
            suspensions.setdefault(r.partnership_id, []).append((r.from_date, r.to_date))
        rq = sa.select(rp.realization).where(
            in_values(conn, rp.realization.c.partnership_id, chunk))
        if counted_in is None:
            ev = evidence_index.c
            for r in conn.execute(sa.select(ev.evidence_id, ev.review)
                                  .where(in_values(conn, ev.partnership_id, chunk))):
                decisions[r.evidence_id] = r.review
        else:
            rq = rq.where(rp.realization.c.counted,
                          rp.realization.c.period_start <= counted_in[1],
                          rp.realization.c.period_end >= counted_in[0])
        for r in conn.execute(rq):
            realizations.setdefault(r.partnership_id, []).append(r)
    umkms = sorted({r["umkm_nib"] for r in rows})
    scales: dict[str, list[tuple[date, str]]] = {}
    affs: dict[tuple[str, str], list[tuple[date, date | None]]] = {}
    for chunk in batches(conn, umkms):
        for r in conn.execute(sa.select(rp.scale).where(in_values(conn, rp.scale.c.nib, chunk))
                              .order_by(rp.scale.c.nib, rp.scale.c.from_date, rp.scale.c.seq)):
            scales.setdefault(r.nib, []).append((r.from_date, r.scale))
        for r in conn.execute(sa.select(rp.affiliation).where(
                in_values(conn, rp.affiliation.c.umkm_nib, chunk)).order_by(rp.affiliation.c.seq)):
            affs.setdefault((r.umkm_nib, r.large_nib), []).append((r.from_date, r.to_date))
    out: dict[str, list[PartnershipRecord]] = {}
    for r in rows:
        pid = r["id"]
        facts = PartnershipFacts(
            id=pid, large_nib=r["large_nib"], umkm_nib=r["umkm_nib"], pola=r["pola"],
            program=r["program"], location_region_code=r["location_region_code"],
            large_region_code=r["large_region_code"], umkm_region_code=r["umkm_region_code"],
            start_date=r["start_date"], end_date=r["end_date"],
            terminated_on=r["terminated_on"], confirmed=r["confirmed"],
            withdrawn=r["withdrawn"], declined=r["declined"],
            suspensions=tuple(suspensions.get(pid, ())), value_idr=r["value_idr"],
            perjanjian_verified=r["perjanjian_verified"],
            realizations=tuple(
                RealizationFacts(x.realization_id, x.period_start, x.period_end, x.value_idr,
                                 x.quantity, x.unit,
                                 tuple(decisions.get(e) for e in x.evidence_ids.split(",") if e)
                                 if counted_in is None else _VERIFIED)
                for x in sorted(realizations.get(pid, ()), key=lambda x: x.realization_id)))
        party = PartyFacts(tuple(scales.get(r["umkm_nib"], ())),
                           tuple(affs.get((r["umkm_nib"], r["large_nib"]), ())))
        out.setdefault(r["large_nib"], []).append(PartnershipRecord(facts, party))
    return out


# --- the list: measures summed by the database (ADR 0015, "The list's fast path") -----------

def business_scope(*, region: str | None, nibs: Sequence[str] | None) -> sa.Select[Any]:
    """The NIBs of the businesses registered in `region` (None: anywhere) and among `nibs`."""
    q = sa.select(business.c.nib)
    if region:
        q = q.where(region_within(business.c.region_code, region))
    if nibs is not None:
        q = q.where(business.c.nib.in_(list(nibs)))
    return q


def _quantity(conn: sa.Connection, unit: str) -> Any:
    """The quantity of `unit` in a span row (NULL when it has none of that unit)."""
    s = rp.span
    if conn.dialect.name == "postgresql":
        several = sa.cast(s.c.quantities, JSONB)[unit].as_float()
    else:
        several = sa.type_coerce(s.c.quantities, sa.JSON)[unit].as_float()
    return sa.case((s.c.unit == unit, s.c.quantity),
                   (s.c.quantities.is_not(None), several))


def partner_sums(conn: sa.Connection, scope: sa.Select[Any], period: Period,
                 partner_region: str, units: Sequence[str]) -> list[Any]:
    """Over the partnerships real in the calendar year or quarter `period` by the stored
    derivations (documented, an eligible window and a counted realization overlapping it:
    `rp.real_in_period`, stored per span in `rp.span`) whose UMKM's region lies in
    `partner_region` and whose large business is in `scope`: per large NIB and UMKM scale (UMKM
    with a single scale period) or per large NIB and UMKM (UMKM whose scale changed, judged by
    the caller from `scales`, its history), the number of partnerships, of distinct UMKM, the
    rupiah of their counted realizations overlapping the span, and the quantity of those in
    each of `units` (columns q0, q1, ...). UMKM of unknown scale have no span rows: left out,
    as no filter matches them."""
    s = rp.span
    changing = sa.case((s.c.umkm_scale.is_(None), s.c.umkm_nib))
    q = (sa.select(
        s.c.large_nib, s.c.umkm_scale.label("scale"), changing.label("umkm_nib"),
        sa.func.max(s.c.umkm_scales).label("scales"),
        sa.func.count().label("partnerships"),
        sa.func.count(sa.distinct(s.c.umkm_nib)).label("umkm"),
        sa.func.coalesce(sa.func.sum(s.c.value_idr), 0).label("value_idr"),
        *(sa.func.coalesce(sa.func.sum(_quantity(conn, unit)), 0.0).label(f"q{i}")
          for i, unit in enumerate(units)))
        .where(s.c.span == period.label, s.c.large_nib.in_(scope),
               region_within(s.c.umkm_region_code, partner_region))
        .group_by(s.c.large_nib, s.c.umkm_scale, changing))
    return list(conn.execute(q))


def grace_candidates(conn: sa.Connection, scope: sa.Select[Any], start: date, end: date,
                     grace_days: int) -> dict[str, list[PartnershipRecord]]:
    """The partnerships that a partner's graduation grace of `grace_days` may make real in
    [start, end] and that `partner_sums` does not count: documented, a counted realization
    overlapping the span, no stored eligible window overlapping it (stored windows cut every
    `besar` day), with a UMKM whose scale changed and that became `besar` on a day whose grace
    reaches into the span (after `start - grace_days`, by `end`). As `PartnershipRecord`s with
    only their counted realizations in the span (as `partnership_records(realized_between=...)`),
    by large NIB, for the domain to judge."""
    f, r, w, s = rp.facts, rp.realization, rp.window, rp.scale
    other = s.alias("other")
    graduated = sorted(set(conn.execute(sa.select(s.c.nib).where(
        s.c.scale == "besar", s.c.from_date <= end,
        s.c.from_date > start - timedelta(days=grace_days),
        sa.exists().where(other.c.nib == s.c.nib, other.c.seq != s.c.seq)  # scale changed
    )).scalars()))
    # Read in two steps: the planner, not knowing how few UMKM graduated, would otherwise
    # scan every documented partnership; with their NIBs it goes through the umkm_nib index.
    rows: list[Any] = []
    for chunk in batches(conn, graduated):
        rows += conn.execute(sa.select(f).where(
            f.c.documented, in_values(conn, f.c.umkm_nib, chunk), f.c.large_nib.in_(scope),
            sa.exists().where(r.c.partnership_id == f.c.id, r.c.counted,
                              r.c.period_start <= end, r.c.period_end >= start),
            ~sa.exists().where(w.c.partnership_id == f.c.id, w.c.from_date <= end,
                               sa.or_(w.c.to_date.is_(None), w.c.to_date >= start)))
        ).mappings().all()
    rows.sort(key=lambda x: (x["large_nib"], x["id"]))
    return _records(conn, rows, (start, end)) if rows else {}

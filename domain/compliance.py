"""Compliance: does a business meet an obligation of a rule pack in a period? (contract:
"Regulations and compliance"; ADR 0015.)

Pure functions over plain frozen facts; no I/O. The API gathers the facts (from the views, or
replayed from the event store as of an instant) and asks `evaluate`; whether a partnership is
real is asked of `domain.reality.assess`, the one definition of "real".

Decisions (all dates are business dates; periods are calendar quarters or years, both ends in):
- Applicability is judged per day with the business's facts as they stood: its region and KBLI
  (fixed at registration) and its scale on that day. An obligation applies in a period when, on
  at least one day of it, a version of the regulation is in force and the business's scale is in
  `applies_to.scale` (a company that became besar mid-year is obliged for that year).
- `grace_days`: the obligation is first due for the period that ends on or after the first day
  it applied to the business plus `grace_days`; earlier periods are not evaluated at all.
- The version applied is the one in force on the last day of the period on which one is in force.
  The period a business is measured over is that version's obligation `period` (a year request
  evaluates a quarterly obligation for each of its quarters; a quarter request evaluates a yearly
  obligation for the year that contains it).
- A partnership counts when `assess` finds it real in the period (with the obligation's
  `graduated_partner_grace_days`) and its UMKM matches `partner_filter`: the UMKM's region lies in
  `region_prefix`, and one of the scales it held during the period is in `scale` (a partner in its
  graduation grace is judged by the scale it held before it became besar).
- Measures over the counted partnerships: their number, their distinct UMKM, the rupiah of their
  verified realizations overlapping the period (whole values, as `assess`), the quantity of those
  realizations in the obligation's `unit`, and `share` = that quantity over the declared fact
  `of_fact` in force on the period's last day (the latest effective date, then the latest
  recorded), as a percentage. No such fact in the obligation's unit, or a value of 0: the
  obligation is `non_compliant` with the reason `fact_missing`.
- `status` is `compliant` when measured ≥ required, else `non_compliant`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from domain.reality import (
    REASONS as REALITY_REASONS, PartnershipFacts, PartyFacts, Window, assess, counts, in_period,
)
from domain.values import region_within

Status = Literal["compliant", "non_compliant"]
LEFT_OUT_REASONS = (*REALITY_REASONS, "outside_partner_filter")
OBLIGATION_REASONS = ("fact_missing",)
_ONE = timedelta(days=1)
_PERIOD = re.compile(r"^([0-9]{4})(?:-Q([1-4]))?$")


# --- facts ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DeclaredFact:
    name: str
    value: Decimal
    unit: str
    effective_date: date
    recorded_at: datetime | None = None


@dataclass(frozen=True)
class BusinessFacts:
    """The obliged business as it stood: region and KBLI are fixed at registration; the scale is
    a history of `(from, scale)` (as `PartyFacts.scale_periods`)."""

    nib: str
    name: str
    region_code: str
    kbli: tuple[str, ...]
    scale_periods: tuple[tuple[date, str], ...]
    facts: tuple[DeclaredFact, ...] = ()


@dataclass(frozen=True)
class PartnershipRecord:
    """One partnership of the obliged business, with what its parties say (`PartyFacts`)."""

    facts: PartnershipFacts
    party: PartyFacts


@dataclass(frozen=True)
class RegulationVersion:
    """A version of a rule pack and the days it is in force (as `domain.regulation.Version`)."""

    regulation_id: str
    number: int
    pack: dict[str, Any]
    effective_from: date
    effective_to: date | None


@dataclass(frozen=True)
class Period:
    label: str  # "2024" or "2024-Q1"
    start: date
    end: date


def parse_period(text: str) -> Period:
    """`2024` (a year) or `2024-Q1` (a quarter); ValueError otherwise."""
    m = _PERIOD.fullmatch(text or "")
    if not m:
        raise ValueError("a period is a year (2024) or a quarter (2024-Q1)")
    year = int(m.group(1))
    if not 1900 <= year <= 9998:
        raise ValueError("the year must be between 1900 and 9998")
    if m.group(2) is None:
        return Period(str(year), date(year, 1, 1), date(year, 12, 31))
    return quarter(year, int(m.group(2)))


def quarter(year: int, q: int) -> Period:
    first = date(year, 3 * (q - 1) + 1, 1)
    after = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return Period(f"{year}-Q{q}", first, after - _ONE)


def periods_for(kind: str, requested: Period) -> list[Period]:
    """The periods of an obligation's `kind` that a requested period asks about."""
    year = requested.start.year
    if kind == "year":
        return [Period(str(year), date(year, 1, 1), date(year, 12, 31))]
    if requested.label == str(year):
        return [quarter(year, q) for q in range(1, 5)]
    return [requested]


# --- results ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Counted:
    id: str
    umkm_nib: str
    realization_value_idr: int
    quantity: float


@dataclass(frozen=True)
class LeftOut:
    id: str
    umkm_nib: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ObligationResult:
    nib: str
    name: str
    regulation_id: str
    regulation_version: int
    obligation_id: str
    description: str
    measure: str
    period: Period
    status: Status
    measured: float
    required: float
    unit: str | None
    illustrative: bool
    reasons: tuple[str, ...] = ()  # obligation-level: fact_missing
    fact: DeclaredFact | None = None  # the fact `share` divided by
    quantity: float | None = None  # the realized quantity `share` divided
    counted: tuple[Counted, ...] = field(default=())
    left_out: tuple[LeftOut, ...] = field(default=())


# --- applicability ----------------------------------------------------------------------------

def _scale_windows(scale_periods: Sequence[tuple[date, str]], scales: Iterable[str]
                   ) -> list[Window]:
    """The days on which the scale was one of `scales` (before the first period: the first)."""
    wanted = set(scales)
    periods = sorted(enumerate(scale_periods), key=lambda x: (x[1][0], x[0]))
    out: list[Window] = []
    for i, (_, (start, scale)) in enumerate(periods):
        if scale not in wanted:
            continue
        from_day = date.min if i == 0 else start
        to_day = periods[i + 1][1][0] - _ONE if i + 1 < len(periods) else None
        if to_day is None or to_day >= from_day:
            out.append((from_day, to_day))
    return out


def _intersect(a: Window, b: Window) -> Window | None:
    start = max(a[0], b[0])
    ends = [d for d in (a[1], b[1]) if d is not None]
    end = min(ends) if ends else None
    return None if end is not None and end < start else (start, end)


def static_match(obligation: dict[str, Any], pack: dict[str, Any], b: BusinessFacts) -> bool:
    """The parts of `applies_to` that do not change over time: region and KBLI."""
    applies = obligation["applies_to"]
    if not region_within(b.region_code, pack.get("region_code", "")):
        return False
    if not region_within(b.region_code, applies.get("region_prefix", "")):
        return False
    prefixes = applies.get("kbli_prefix") or []
    return not prefixes or any(k.startswith(p) for k in b.kbli for p in prefixes)


def applicable_windows(obligation_id: str, versions: Sequence[RegulationVersion],
                       b: BusinessFacts) -> list[tuple[RegulationVersion, Window]]:
    """The days on which the obligation applied to the business, by version."""
    out = []
    for v in versions:
        ob = _obligation(v, obligation_id)
        if ob is None or not static_match(ob, v.pack, b):
            continue
        since = date.min
        fact = ob["applies_to"].get("declared_fact")
        if fact:  # only operators of what the fact measures, from its first declaration
            declared = [f.effective_date for f in b.facts if f.name == fact]
            if not declared:
                continue
            since = min(declared)
        for w in _scale_windows(b.scale_periods, ob["applies_to"]["scale"]):
            both = _intersect(w, (max(v.effective_from, since), v.effective_to))
            if both is not None:
                out.append((v, both))
    return out


def _obligation(v: RegulationVersion, obligation_id: str) -> dict[str, Any] | None:
    return next((o for o in v.pack["obligations"] if o["id"] == obligation_id), None)


def due(obligation_id: str, versions: Sequence[RegulationVersion], b: BusinessFacts,
        period: Period, windows: list[tuple[RegulationVersion, Window]] | None = None,
        kind: str | None = None) -> RegulationVersion | None:
    """The version to apply when the obligation is due for the business in `period`, else None
    (it does not apply on any day of the period, or the period ends inside its grace).
    `windows`: `applicable_windows(...)` when the caller already has them (they do not depend
    on the period)."""
    if windows is None:
        windows = applicable_windows(obligation_id, versions, b)
    if not windows:
        return None
    first = min(w[0] for _, w in windows)  # grace runs from the first day it applied at all
    in_period = [(v, w) for v, w in windows
                 if w[0] <= period.end and (w[1] is None or w[1] >= period.start)
                 and (kind is None or (_obligation(v, obligation_id) or {}).get("period") == kind)]
    if not in_period:
        return None
    version = max(in_period, key=lambda x: (min(x[1][1] or date.max, period.end), x[0].number))[0]
    ob = _obligation(version, obligation_id)
    assert ob is not None
    grace = ob.get("grace_days") or 0
    if period.end < first + timedelta(days=grace):
        return None
    return version


# --- evaluation -------------------------------------------------------------------------------

def partner_matches(partner_filter: dict[str, Any], r: PartnershipRecord, period: Period,
                    graduated_grace_days: int = 0) -> bool:
    f = r.facts
    if not region_within(f.umkm_region_code, partner_filter.get("region_prefix", "")):
        return False
    held = _scales_held(r.party.scale_periods, period, graduated_grace_days)
    return bool(held & set(partner_filter["scale"]))


def _scales_held(scale_periods: Sequence[tuple[date, str]], period: Period,
                 graduated_grace_days: int) -> set[str]:
    """The scales held on some day of the period; a besar run that began less than
    `graduated_grace_days` before a day of the period adds the scale held before it."""
    periods = [p for _, p in sorted(enumerate(scale_periods), key=lambda x: (x[1][0], x[0]))]
    if not periods:
        return set()  # a partner of unknown scale matches no filter
    held: set[str] = set()
    for i, (start, scale) in enumerate(periods):
        from_day = date.min if i == 0 else start
        to_day = periods[i + 1][0] - _ONE if i + 1 < len(periods) else date.max
        if to_day < from_day or to_day < period.start or from_day > period.end:
            continue
        held.add(scale)
        if scale == "besar" and i > 0 and graduated_grace_days:
            run = i
            while run > 0 and periods[run - 1][1] == "besar":
                run -= 1
            if run > 0 and periods[run][0] + timedelta(days=graduated_grace_days) > \
                    max(period.start, from_day):
                held.add(periods[run - 1][1])
    return held


def fact_in_force(facts: Iterable[DeclaredFact], name: str, unit: str | None,
                  on: date) -> DeclaredFact | None:
    found = [(x.effective_date, x.recorded_at or datetime.min, i, x) for i, x in enumerate(facts)
             if x.name == name and x.effective_date <= on and (unit is None or x.unit == unit)]
    return max(found, key=lambda t: t[:3])[3] if found else None


def evaluate(version: RegulationVersion, obligation_id: str, b: BusinessFacts,
             records: Iterable[PartnershipRecord], period: Period,
             memo: dict[tuple[str, str, int], Any] | None = None) -> ObligationResult:
    """One obligation of one version, for one business and one of the obligation's periods.
    Reads every record once: the cost is linear in the partnerships given. `memo` shares the
    `assess` answers between obligations asking about the same period and grace."""
    ob = _obligation(version, obligation_id)
    if ob is None:
        raise ValueError(f"version {version.number} has no obligation {obligation_id}")
    grace = ob.get("graduated_partner_grace_days") or 0
    unit = ob.get("unit")
    counted: list[Counted] = []
    left_out: list[LeftOut] = []
    for r in records:
        f = r.facts
        if f.large_nib != b.nib:
            continue
        key = (f.id, period.label, grace)
        a = memo.get(key) if memo is not None else None
        if a is None:
            a = assess(f, r.party, period.start, period.end, grace)
            if memo is not None:
                memo[key] = a
        reasons = list(a.reasons)
        if not partner_matches(ob["partner_filter"], r, period, grace):
            reasons.append("outside_partner_filter")
        if reasons:
            left_out.append(LeftOut(f.id, f.umkm_nib, tuple(reasons)))
            continue
        quantity = 0.0
        if unit is not None:
            quantity = sum(x.quantity or 0.0 for x in f.realizations
                           if x.unit == unit and counts(x)
                           and in_period(x, period.start, period.end))
        counted.append(Counted(f.id, f.umkm_nib, a.realization_value_idr, quantity))
    quantity_total = sum(c.quantity for c in counted)
    return result_from_aggregate(
        version, obligation_id, b, period,
        Aggregate(len(counted), len({c.umkm_nib for c in counted}),
                  sum(c.realization_value_idr for c in counted), quantity_total),
        counted=tuple(counted), left_out=tuple(left_out))


@dataclass(frozen=True)
class Aggregate:
    """What the counted partnerships of one obligation add up to (see `evaluate`): how many,
    their distinct UMKM, the rupiah of their counted realizations in the period, and the
    quantity of those in the obligation's unit. The list computes it in SQL (ADR 0015)."""

    partnerships: int
    umkm: int
    realization_value_idr: int
    quantity: float


def result_from_aggregate(version: RegulationVersion, obligation_id: str, b: BusinessFacts,
                          period: Period, m: Aggregate, *, counted: tuple[Counted, ...] = (),
                          left_out: tuple[LeftOut, ...] = ()) -> ObligationResult:
    """The measure, the `share` fact and the status from the aggregate: the one status rule,
    whether the aggregate was summed here (`evaluate`) or by the database (the list)."""
    ob = _obligation(version, obligation_id)
    if ob is None:
        raise ValueError(f"version {version.number} has no obligation {obligation_id}")
    unit = ob.get("unit")
    measure = ob["measure"]
    reasons: tuple[str, ...] = ()
    fact = None
    quantity_total = m.quantity
    measured: float
    if measure == "real_partnerships":
        measured = m.partnerships
    elif measure == "distinct_umkm_partners":
        measured = m.umkm
    elif measure == "realization_value_idr":
        measured = m.realization_value_idr
    elif measure == "realization_quantity":
        measured = quantity_total
    elif measure == "share":
        fact = fact_in_force(b.facts, ob["of_fact"], unit, period.end)
        if fact is None or fact.value <= 0:
            reasons, measured = ("fact_missing",), 0.0
        else:
            measured = float(Decimal(str(quantity_total)) * 100 / fact.value)
    else:
        raise ValueError(f"unknown measure {measure}")
    required = ob["at_least_pct"] if measure == "share" else ob["at_least"]
    status: Status = "compliant" if not reasons and measured >= required else "non_compliant"
    return ObligationResult(
        nib=b.nib, name=b.name, regulation_id=version.regulation_id,
        regulation_version=version.number, obligation_id=obligation_id,
        description=ob["description"], measure=measure, period=period, status=status,
        measured=measured, required=required, unit=unit,
        illustrative=bool(ob.get("illustrative")), reasons=reasons, fact=fact,
        quantity=quantity_total if measure == "share" else None,
        counted=counted, left_out=left_out)


def scales_held(scale_periods: Sequence[tuple[date, str]], period: Period,
                graduated_grace_days: int = 0) -> set[str]:
    """The scales a partner held in the period, as `partner_matches` judges them."""
    return _scales_held(scale_periods, period, graduated_grace_days)


def evaluate_business(regulations: Sequence[Sequence[RegulationVersion]], b: BusinessFacts,
                      records: Sequence[PartnershipRecord], requested: Period
                      ) -> list[ObligationResult]:
    """Every obligation due for the business in the requested period, over every regulation
    (each given as all its versions), in a stable order."""
    memo: dict[tuple[str, str, int], Any] = {}
    return [evaluate(version, oid, b, records, period, memo)
            for version, oid, period in due_obligations(regulations, b, requested)]


def due_obligations(regulations: Sequence[Sequence[RegulationVersion]], b: BusinessFacts,
                    requested: Period) -> list[tuple[RegulationVersion, str, Period]]:
    """(version, obligation id, period) of every obligation due for the business in the
    requested period, in the order `evaluate_business` answers them."""
    out: list[tuple[RegulationVersion, str, Period]] = []
    for versions in regulations:
        ids = list(dict.fromkeys(o["id"] for v in versions for o in v.pack["obligations"]))
        for oid in ids:
            kinds = list(dict.fromkeys(o["period"] for v in versions
                                       for o in v.pack["obligations"] if o["id"] == oid))
            seen: set[str] = set()
            windows = applicable_windows(oid, versions, b)
            if not windows:
                continue
            for kind in kinds:
                # Each period of a kind is answered by the versions of that kind: an amendment
                # from yearly to quarterly on 1 July leaves the year to the yearly version
                # (until 2026-12-05 the version in force on 31 December, quarterly, answered
                # for the year too, and January to June were evaluated under neither).
                for period in periods_for(kind, requested):
                    version = due(oid, versions, b, period, windows, kind=kind)
                    if version is None or period.label in seen:
                        continue
                    seen.add(period.label)
                    out.append((version, oid, period))
    return out

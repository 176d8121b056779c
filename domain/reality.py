"""What "real" means (contract: What "real" means (riil)) — the one place it is defined.

Pure functions over plain frozen facts; no I/O. The projection `real_partnerships` stores what
these functions compute, and compliance reports ask them why a partnership was left out.

Decisions (business dates are the events' `effective_date`s; every interval is inclusive of
both ends, `None` as an end means open-ended):
- Confirmation validates the whole term: a partnership confirmed in April counts from its
  `start_date`, not from the confirmation date.
- The term runs from `start_date` to `min(end_date, terminated_on)`; the termination date and the
  end date are still days of the term.
- A suspension `(from, to)` covers the days from `from` up to the day *before* `to`: the resume
  date is a day on which the partnership is active again. An open suspension (`to=None`) lasts.
- An affiliation `(from, to)` covers both ends (as `Business.affiliated_with`).
- Scale periods `(from, scale)` hold from `from` until the next period starts; before the first
  one the first scale applies (as `Business.scale_on`). Several on the same date: the last wins.
- A realization counts when it lists at least one evidence and every listed evidence was
  verified; it counts in a period when its own period overlaps it (its whole value, no pro rata).
- `assess` lists every reason that holds, in the order of `REASONS`, not only the first one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

Window = tuple[date, date | None]
Stage = Literal["reported", "confirmed", "documented", "real"]

REASONS = ("not_confirmed", "no_verified_perjanjian", "no_verified_realization",
           "inactive_in_period", "affiliated", "partner_not_umkm")
STAGES: tuple[Stage, ...] = ("reported", "confirmed", "documented", "real")
_ONE = timedelta(days=1)


@dataclass(frozen=True)
class RealizationFacts:
    realization_id: str
    period_start: date
    period_end: date
    value_idr: int | None = None
    quantity: float | None = None
    unit: str | None = None
    evidence_reviews: tuple[str | None, ...] = ()  # the review decision of each listed evidence


@dataclass(frozen=True)
class PartnershipFacts:
    id: str
    large_nib: str
    umkm_nib: str
    pola: str
    program: str | None
    location_region_code: str
    large_region_code: str
    umkm_region_code: str
    start_date: date
    end_date: date | None = None
    terminated_on: date | None = None
    confirmed: bool = False
    withdrawn: bool = False
    declined: bool = False
    suspensions: tuple[Window, ...] = ()  # (suspended on, resumed on | None)
    value_idr: int | None = None
    perjanjian_verified: bool = False
    realizations: tuple[RealizationFacts, ...] = ()


@dataclass(frozen=True)
class PartyFacts:
    """What the pair's businesses say: the UMKM's scale over time, and the pair's affiliations."""

    scale_periods: tuple[tuple[date, str], ...] = ()
    affiliations: tuple[Window, ...] = ()


@dataclass(frozen=True)
class Assessment:
    stage: Stage | None
    reasons: list[str] = field(default_factory=list)
    realization_value_idr: int = 0

    @property
    def real(self) -> bool:
        return self.stage == "real"


# --- intervals ------------------------------------------------------------------------------

def _end(d: date | None) -> date:
    return date.max if d is None else d


def _subtract(windows: Iterable[Window], cuts: Iterable[Window]) -> list[Window]:
    """The days of `windows` outside every cut (all inclusive intervals)."""
    result = list(windows)
    for c_from, c_to in cuts:
        c_end = _end(c_to)
        if c_end < c_from:
            continue
        kept: list[Window] = []
        for w_from, w_to in result:
            w_end = _end(w_to)
            if c_end < w_from or w_end < c_from:
                kept.append((w_from, w_to))
                continue
            if w_from < c_from:
                kept.append((w_from, c_from - _ONE))
            if c_end < w_end:
                kept.append((c_end + _ONE, w_to))
        result = kept
    return result


def _overlaps(windows: Iterable[Window], period_from: date, period_to: date) -> bool:
    return any(w_from <= period_to and _end(w_to) >= period_from for w_from, w_to in windows)


# --- the rules ------------------------------------------------------------------------------

def term(f: PartnershipFacts) -> Window:
    ends = [d for d in (f.end_date, f.terminated_on) if d is not None]
    return f.start_date, (min(ends) if ends else None)


def suspended_days(f: PartnershipFacts) -> list[Window]:
    """Suspensions as inclusive intervals (the resume date is active again)."""
    return [(s, None if r is None else r - _ONE) for s, r in f.suspensions]


def besar_days(party: PartyFacts, graduated_grace_days: int = 0) -> list[Window]:
    """The days on which the small party was `besar` (had graduated out of UMKM). With
    `graduated_grace_days` (an obligation's `graduated_partner_grace_days`), the first that many
    days after each graduation still count as UMKM days (Peraturan BKPM 3/2025 Pasal 22)."""
    periods = sorted(enumerate(party.scale_periods), key=lambda x: (x[1][0], x[0]))
    days: list[Window] = []
    graduated_on: date | None = None  # the first day of the current run of besar periods
    for i, (_, (start, scale)) in enumerate(periods):
        if scale != "besar":
            graduated_on = None
            continue
        from_day = date.min if i == 0 else start
        if i > 0 and graduated_on is None:
            graduated_on = start
        if graduated_grace_days and graduated_on is not None:
            from_day = max(from_day, graduated_on + timedelta(days=graduated_grace_days))
        to_day = periods[i + 1][1][0] - _ONE if i + 1 < len(periods) else None
        if to_day is None or to_day >= from_day:
            days.append((from_day, to_day))
    return days


def active_windows(f: PartnershipFacts) -> list[Window]:
    """The days of the term on which it was not suspended (whatever its confirmation)."""
    return _subtract([term(f)], suspended_days(f))


def eligible_windows(f: PartnershipFacts, party: PartyFacts,
                     graduated_grace_days: int = 0) -> list[Window]:
    """The days on which the partnership can count as real: confirmed, inside its term, not
    suspended, the parties not affiliated, the small party not `besar`. Sorted, disjoint."""
    if f.withdrawn or f.declined or not f.confirmed:
        return []
    return sorted(_subtract(_subtract(active_windows(f), party.affiliations),
                            besar_days(party, graduated_grace_days)))


def counts(r: RealizationFacts) -> bool:
    return bool(r.evidence_reviews) and all(d == "verified" for d in r.evidence_reviews)


def counted_realizations(f: PartnershipFacts) -> list[RealizationFacts]:
    """Realizations with at least one evidence, all of it verified."""
    return [r for r in f.realizations if counts(r)]


def in_period(r: RealizationFacts, period_from: date, period_to: date) -> bool:
    return r.period_start <= period_to and r.period_end >= period_from


def assess(f: PartnershipFacts, party: PartyFacts, period_from: date,
           period_to: date, graduated_grace_days: int = 0) -> Assessment:
    """The funnel stage of `f` in the period, and why it is not real (reasons from `REASONS`).
    `graduated_grace_days`: see `besar_days` (0, the default, is the contract's plain rule)."""
    if period_to < period_from:
        raise ValueError("period_to is before period_from")
    start, end = term(f)
    reported = not f.withdrawn and _overlaps([(start, end)], period_from, period_to)
    confirmed = reported and f.confirmed and not f.declined
    documented = confirmed and f.perjanjian_verified
    realized = [r for r in counted_realizations(f) if in_period(r, period_from, period_to)]
    eligible = _overlaps(eligible_windows(f, party, graduated_grace_days), period_from, period_to)
    graduated = besar_days(party, graduated_grace_days)
    if documented and realized and eligible:
        return Assessment("real", [], sum(r.value_idr or 0 for r in realized))

    reasons = []
    if not (f.confirmed and not f.withdrawn and not f.declined):
        reasons.append("not_confirmed")
    if not f.perjanjian_verified:
        reasons.append("no_verified_perjanjian")
    if not realized:
        reasons.append("no_verified_realization")
    active = [w for w in active_windows(f) if _overlaps([w], period_from, period_to)]
    if not active:
        reasons.append("inactive_in_period")
    else:
        unaffiliated = _subtract(active, party.affiliations)
        affiliated = not _overlaps(unaffiliated, period_from, period_to)
        not_umkm = not _overlaps(_subtract(active, graduated), period_from, period_to)
        if not (affiliated or not_umkm) and not _overlaps(
                _subtract(unaffiliated, graduated), period_from, period_to):
            affiliated = not_umkm = True  # each alone leaves days, together they leave none
        if affiliated:
            reasons.append("affiliated")
        if not_umkm:
            reasons.append("partner_not_umkm")
    stage: Stage | None = ("documented" if documented else "confirmed" if confirmed
                           else "reported" if reported else None)
    return Assessment(stage, reasons, 0)


# --- building facts from the aggregates -------------------------------------------------------

def facts_from_partnership(p: Any) -> PartnershipFacts:
    """Facts from a `Partnership` aggregate (current, or loaded as of a past instant)."""
    suspensions: list[list[Any]] = []
    for status, since in p.status_periods:
        day = date.fromisoformat(since)
        if status == "suspended":
            suspensions.append([day, None])
        elif suspensions and suspensions[-1][1] is None:  # resumed, or terminated while suspended
            if status == "active":
                suspensions[-1][1] = day
    reviews = {eid: (e.review or {}).get("decision") for eid, e in p.evidence.items()}
    return PartnershipFacts(
        id=str(p.id), large_nib=p.large_nib, umkm_nib=p.umkm_nib, pola=p.pola,
        program=p.program, location_region_code=p.location_region_code,
        large_region_code=p.large_region_code, umkm_region_code=p.umkm_region_code,
        start_date=p.start_date, end_date=p.end_date, terminated_on=p.terminated_on,
        confirmed=p.confirmed_on is not None, withdrawn=p.status == "withdrawn",
        declined=p.status == "declined",
        suspensions=tuple((s, r) for s, r in suspensions), value_idr=p.value_idr,
        perjanjian_verified=any(e.kind == "perjanjian" and reviews[eid] == "verified"
                                for eid, e in p.evidence.items()),
        realizations=tuple(
            RealizationFacts(r.realization_id, r.period_start, r.period_end, r.value_idr,
                             r.quantity, r.unit, tuple(reviews.get(e) for e in r.evidence_ids))
            for r in p.realizations.values()))


def party_from_businesses(umkm: Any, large: Any) -> PartyFacts:
    """Party facts from the two `Business` aggregates (either may be None: unknown)."""
    periods = large.affiliation_periods(umkm.nib) if (large is not None and umkm) else ()
    return PartyFacts(
        scale_periods=tuple(umkm.scale_periods()) if umkm is not None else (),
        affiliations=tuple((a.effective_date, a.ended_date) for a in periods))

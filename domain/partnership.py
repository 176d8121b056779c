"""The Partnership aggregate: one kemitraan agreement, from proposal to termination.

Public methods check the rules (they may change); the events' `apply` only assigns, so that old
streams always load after a rule changes. Lifecycle:

    proposed -> active (the UMKM confirmed) | declined | withdrawn
    active <-> suspended;  active/suspended -> terminated
    an end_date in the past makes it `expired` in reports, without any write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.base import LedgerEvent, actor_fields, opt_date, opt_iso
from domain.errors import InvalidValue, NotFound, TransitionForbidden
from domain.values import Actor

PROPOSED, ACTIVE, SUSPENDED = "proposed", "active", "suspended"
DECLINED, WITHDRAWN, TERMINATED = "declined", "withdrawn", "terminated"
TERMINAL = {DECLINED, WITHDRAWN, TERMINATED}
# Evidence and realizations may still arrive after termination (a final invoice), not after a
# partnership that never started.
NEVER_STARTED = {DECLINED, WITHDRAWN}

_NS = uuid5(NAMESPACE_URL, "https://kemitraan-ledger.example/partnership")


def partnership_id_for_key(scope: str, key: str) -> UUID:
    """Deterministic id for an Idempotency-Key or import row key: a second create fails on save."""
    return uuid5(_NS, f"{scope}\x1f{key}")


@dataclass
class EvidenceItem:
    evidence_id: str
    kind: str
    sha256: str
    size: int
    media_type: str
    period_start: date | None
    period_end: date | None
    description: str | None
    submitted_by: str
    submitted_at: datetime
    review: dict[str, Any] | None = None  # {decision, reason, reviewed_by, reviewed_at}


@dataclass
class Realization:
    realization_id: str
    period_start: date
    period_end: date
    value_idr: int | None
    quantity: float | None
    unit: str | None
    evidence_ids: list[str] = field(default_factory=list)
    reported_by: str = ""
    reported_at: datetime | None = None


class Partnership(Aggregate):
    TOPIC = "kemitraan.Partnership"

    class Event(LedgerEvent):
        TOPIC = "kemitraan.Partnership.Event"

    class Proposed(Event, Aggregate.Created):
        TOPIC = "kemitraan.Partnership.Proposed"
        large_nib: str
        umkm_nib: str
        pola: str
        program: str | None
        title: str
        start_date: str
        end_date: str | None
        value_idr: int | None
        location_region_code: str
        description: str | None
        large_region_code: str
        umkm_region_code: str
        external_ref: str | None
        request_hash: str | None

        def apply(self, p: Partnership) -> None:
            p.large_nib, p.umkm_nib = self.large_nib, self.umkm_nib
            p.pola, p.program, p.title = self.pola, self.program, self.title
            p.start_date, p.end_date = date.fromisoformat(self.start_date), opt_date(self.end_date)
            p.value_idr, p.description = self.value_idr, self.description
            p.location_region_code = self.location_region_code
            p.large_region_code, p.umkm_region_code = self.large_region_code, self.umkm_region_code
            p.external_ref, p.request_hash = self.external_ref, self.request_hash
            p.status = PROPOSED
            p.proposed_by = self.actor_id
            p.evidence, p.realizations = {}, {}
            p.confirmed_on = p.terminated_on = None
            p.status_periods = []  # [[status, from_date]] business-dated lifecycle

    class Confirmed(Event):
        TOPIC = "kemitraan.Partnership.Confirmed"
        note: str | None

        def apply(self, p: Partnership) -> None:
            p.status = ACTIVE
            p.confirmed_on = date.fromisoformat(self.effective_date)
            p.status_periods.append([ACTIVE, self.effective_date])

    class Declined(Event):
        TOPIC = "kemitraan.Partnership.Declined"
        reason: str

        def apply(self, p: Partnership) -> None:
            p.status = DECLINED

    class Withdrawn(Event):
        TOPIC = "kemitraan.Partnership.Withdrawn"
        reason: str

        def apply(self, p: Partnership) -> None:
            p.status = WITHDRAWN

    class Suspended(Event):
        TOPIC = "kemitraan.Partnership.Suspended"
        reason: str

        def apply(self, p: Partnership) -> None:
            p.status = SUSPENDED
            p.status_periods.append([SUSPENDED, self.effective_date])

    class Resumed(Event):
        TOPIC = "kemitraan.Partnership.Resumed"

        def apply(self, p: Partnership) -> None:
            p.status = ACTIVE
            p.status_periods.append([ACTIVE, self.effective_date])

    class Terminated(Event):
        TOPIC = "kemitraan.Partnership.Terminated"
        reason: str

        def apply(self, p: Partnership) -> None:
            p.status = TERMINATED
            p.terminated_on = date.fromisoformat(self.effective_date)
            p.status_periods.append([TERMINATED, self.effective_date])

    class Amended(Event):
        TOPIC = "kemitraan.Partnership.Amended"
        changes: dict[str, Any]  # only the fields that changed; dates as ISO strings

        def apply(self, p: Partnership) -> None:
            for name, value in self.changes.items():
                setattr(p, name, opt_date(value) if name == "end_date" else value)

    class EvidenceSubmitted(Event):
        TOPIC = "kemitraan.Partnership.EvidenceSubmitted"
        evidence_id: str
        kind: str
        sha256: str
        size: int
        media_type: str
        period_start: str | None
        period_end: str | None
        description: str | None

        def apply(self, p: Partnership) -> None:
            p.evidence[self.evidence_id] = EvidenceItem(
                evidence_id=self.evidence_id, kind=self.kind, sha256=self.sha256,
                size=self.size, media_type=self.media_type,
                period_start=opt_date(self.period_start), period_end=opt_date(self.period_end),
                description=self.description, submitted_by=self.actor_id,
                submitted_at=self.timestamp,
            )

    class EvidenceReviewed(Event):
        TOPIC = "kemitraan.Partnership.EvidenceReviewed"
        evidence_id: str
        decision: str
        reason: str | None

        def apply(self, p: Partnership) -> None:
            p.evidence[self.evidence_id].review = {
                "decision": self.decision, "reason": self.reason,
                "reviewed_by": self.actor_id, "reviewed_at": self.timestamp,
                "effective_date": self.effective_date,
            }

    class RealizationReported(Event):
        TOPIC = "kemitraan.Partnership.RealizationReported"
        realization_id: str
        period_start: str
        period_end: str
        value_idr: int | None
        quantity: float | None
        unit: str | None
        evidence_ids: list[str]

        def apply(self, p: Partnership) -> None:
            p.realizations[self.realization_id] = Realization(
                realization_id=self.realization_id,
                period_start=date.fromisoformat(self.period_start),
                period_end=date.fromisoformat(self.period_end),
                value_idr=self.value_idr, quantity=self.quantity, unit=self.unit,
                evidence_ids=list(self.evidence_ids), reported_by=self.actor_id,
                reported_at=self.timestamp,
            )

    # State (large_nib, status, start_date, evidence, realizations...) is assigned by
    # Proposed.apply: annotations here would become __init__ parameters of the aggregate.

    # ---- commands -------------------------------------------------------------------------

    @classmethod
    def propose(cls, *, id: UUID, actor: Actor, now: datetime, large_nib: str, umkm_nib: str,
                pola: str, program: str | None, title: str, start_date: date,
                end_date: date | None, value_idr: int | None, location_region_code: str,
                description: str | None, large_region_code: str, umkm_region_code: str,
                external_ref: str | None = None, request_hash: str | None = None) -> Partnership:
        if end_date is not None and end_date < start_date:
            raise InvalidValue.single("end_date", "must not be before start_date")
        if large_nib == umkm_nib:
            raise InvalidValue.single("umkm_nib", "must differ from large_nib")
        return cls._create(
            cls.Proposed, id=id, **actor_fields(actor, start_date, now),
            large_nib=large_nib, umkm_nib=umkm_nib, pola=pola, program=program, title=title,
            start_date=start_date.isoformat(), end_date=opt_iso(end_date), value_idr=value_idr,
            location_region_code=location_region_code, description=description,
            large_region_code=large_region_code, umkm_region_code=umkm_region_code,
            external_ref=external_ref, request_hash=request_hash,
        )

    def confirm(self, actor: Actor, now: datetime, on: date, note: str | None) -> None:
        self._require({PROPOSED}, "confirm")
        self.trigger_event(self.Confirmed, **actor_fields(actor, on, now), note=note)

    def decline(self, actor: Actor, now: datetime, on: date, reason: str) -> None:
        self._require({PROPOSED}, "decline")
        self.trigger_event(self.Declined, **actor_fields(actor, on, now), reason=reason)

    def withdraw(self, actor: Actor, now: datetime, on: date, reason: str) -> None:
        self._require({PROPOSED}, "withdraw")
        self.trigger_event(self.Withdrawn, **actor_fields(actor, on, now), reason=reason)

    def suspend(self, actor: Actor, now: datetime, on: date, reason: str) -> None:
        self._require({ACTIVE}, "suspend")
        self._not_before_last_change(on)
        self.trigger_event(self.Suspended, **actor_fields(actor, on, now), reason=reason)

    def resume(self, actor: Actor, now: datetime, on: date) -> None:
        self._require({SUSPENDED}, "resume")
        self._not_before_last_change(on)
        self.trigger_event(self.Resumed, **actor_fields(actor, on, now))

    def terminate(self, actor: Actor, now: datetime, on: date, reason: str) -> None:
        self._require({ACTIVE, SUSPENDED}, "terminate")
        self._not_before_last_change(on)
        self.trigger_event(self.Terminated, **actor_fields(actor, on, now), reason=reason)

    def amend(self, actor: Actor, now: datetime, on: date, changes: dict[str, Any]) -> None:
        """`changes` holds only the fields the caller sent; unchanged values are dropped."""
        self._require({PROPOSED, ACTIVE, SUSPENDED}, "amend")
        end = changes.get("end_date", self.end_date)
        if "end_date" in changes and end is not None and end < self.start_date:
            raise InvalidValue.single("end_date", "must not be before start_date")
        effective = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if not effective:
            raise InvalidValue.single("body", "changes nothing: every value is already current")
        stored = {k: (opt_iso(v) if k == "end_date" else v) for k, v in effective.items()}
        self.trigger_event(self.Amended, **actor_fields(actor, on, now), changes=stored)

    def check_evidence(self, period_start: date | None, period_end: date | None) -> None:
        """What `submit_evidence` refuses, asked before the file is kept (no file for a refusal)."""
        if self.status in NEVER_STARTED:
            raise TransitionForbidden(f"cannot add evidence to a {self.status} partnership")
        if period_start and period_end and period_end < period_start:
            raise InvalidValue.single("period_end", "must not be before period_start")

    def submit_evidence(self, actor: Actor, now: datetime, on: date, *, evidence_id: str,
                        kind: str, sha256: str, size: int, media_type: str,
                        period_start: date | None, period_end: date | None,
                        description: str | None) -> None:
        self.check_evidence(period_start, period_end)
        self.trigger_event(
            self.EvidenceSubmitted, **actor_fields(actor, on, now), evidence_id=evidence_id,
            kind=kind, sha256=sha256, size=size, media_type=media_type,
            period_start=opt_iso(period_start), period_end=opt_iso(period_end),
            description=description,
        )

    def review_evidence(self, actor: Actor, now: datetime, on: date, *, evidence_id: str,
                        decision: str, reason: str | None) -> None:
        item = self.evidence.get(evidence_id)
        if item is None:
            raise NotFound(f"evidence {evidence_id} not found on this partnership")
        if decision not in ("verified", "rejected"):
            raise InvalidValue.single("decision", "must be verified or rejected")
        if item.review is not None:
            raise TransitionForbidden(
                f"evidence {evidence_id} was already reviewed ({item.review['decision']});"
                " submit a new file instead")
        self.trigger_event(self.EvidenceReviewed, **actor_fields(actor, on, now),
                           evidence_id=evidence_id, decision=decision, reason=reason)

    def report_realization(self, actor: Actor, now: datetime, on: date, *, realization_id: str,
                           period_start: date, period_end: date, value_idr: int | None,
                           quantity: float | None, unit: str | None,
                           evidence_ids: list[str]) -> None:
        if self.status in NEVER_STARTED or self.status == PROPOSED:
            raise TransitionForbidden(
                f"cannot report a realization on a {self.status} partnership")
        if period_end < period_start:
            raise InvalidValue.single("period_end", "must not be before period_start")
        # value_idr and quantity are both optional (contract): a mentoring session (bapak
        # angkat) is realized without either, its evidence being the mentoring log.
        if quantity is not None and not unit:
            raise InvalidValue.single("unit", "is required with quantity")
        unknown = [e for e in evidence_ids if e not in self.evidence]
        if unknown:
            raise InvalidValue.single("evidence_ids", f"not evidence of this partnership: {unknown}")
        if len(set(evidence_ids)) != len(evidence_ids):
            raise InvalidValue.single("evidence_ids", "lists the same evidence twice")
        self.trigger_event(
            self.RealizationReported, **actor_fields(actor, on, now),
            realization_id=realization_id, period_start=period_start.isoformat(),
            period_end=period_end.isoformat(), value_idr=value_idr, quantity=quantity,
            unit=unit, evidence_ids=list(evidence_ids),
        )

    # ---- queries ----------------------------------------------------------------------------

    def effective_status(self, today: date) -> str:
        """The lifecycle status, with `expired` for a running partnership past its end_date."""
        return effective_status(self.status, self.end_date, today)

    def _require(self, allowed: set[str], action: str) -> None:
        if self.status not in allowed:
            raise TransitionForbidden(f"cannot {action} a partnership that is {self.status}")

    def _not_before_last_change(self, on: date) -> None:
        if self.status_periods and on < date.fromisoformat(self.status_periods[-1][1]):
            raise InvalidValue.single(
                "effective_date",
                f"must not be before the last status change ({self.status_periods[-1][1]})")


def effective_status(status: str, end_date: date | None, today: date) -> str:
    """What reports show (contract: "an end_date in the past makes it `expired` in reports
    without any write"): the lifecycle status, or `expired` for a running partnership (proposed,
    active, suspended) whose end_date is before `today`."""
    if status in (ACTIVE, SUSPENDED, PROPOSED) and end_date is not None and end_date < today:
        return "expired"
    return status

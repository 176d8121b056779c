"""The Business aggregate: a registered business (by NIB), its scale over time, declared facts
and affiliations. A scale is a dated fact, not a constant: history is kept by effective date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.base import LedgerEvent, actor_fields, opt_date, opt_iso
from domain.errors import InvalidValue, TransitionForbidden
from domain.values import Actor, Scale

_NS = uuid5(NAMESPACE_URL, "https://kemitraan-ledger.example/business")


def business_id(nib: str) -> UUID:
    """One business per NIB: the id is derived from it, so a second registration fails on save."""
    return uuid5(_NS, nib)


@dataclass(frozen=True)
class ScaleEntry:
    scale: str
    effective_date: date
    recorded_at: datetime
    basis: dict[str, int] | None


def ordered_scales(entries: list[ScaleEntry]) -> list[ScaleEntry]:
    """The registration's entry (the first recorded) first, then the changes by effective date
    (ties: recorded order). The registered scale is the baseline before the first change,
    whatever date the registration carries: a business registered today as mikro whose
    graduation to besar on 2024-02-15 is recorded next was mikro before 2024-02-15 and besar
    since (until 2026-12-05 the registration's date sorted it after such a change, making the
    business besar "before" and mikro again from its registration day). Robust to the order
    snapshots stored: the registration is found by its instant."""
    if not entries:
        return []
    first = min(range(len(entries)), key=lambda i: (entries[i].recorded_at, i))
    rest = entries[:first] + entries[first + 1:]
    return [entries[first], *sorted(rest, key=lambda e: (e.effective_date, e.recorded_at))]


@dataclass(frozen=True)
class Fact:
    name: str
    value: Decimal
    unit: str
    effective_date: date
    evidence_id: str | None
    recorded_at: datetime


@dataclass
class Affiliation:
    umkm_nib: str
    kind: str
    effective_date: date
    ended_date: date | None


class Business(Aggregate):
    TOPIC = "kemitraan.Business"
    # v2: `affiliations` keeps every period (a list), not the latest one per UMKM (a dict).
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, object]) -> None:
        """A v1 snapshot held {umkm_nib: Affiliation}: the latest period of each pair only
        (earlier periods had been overwritten, so they cannot be recovered from a snapshot;
        the events still hold them and a replay without the snapshot restores them)."""
        old = state.get("affiliations") or {}
        state["affiliations"] = sorted(old.values() if isinstance(old, dict) else old,
                                       key=lambda a: (a.effective_date, a.umkm_nib))

    class Event(LedgerEvent):
        TOPIC = "kemitraan.Business.Event"

    class Registered(Event, Aggregate.Created):
        TOPIC = "kemitraan.Business.Registered"
        nib: str
        name: str
        scale: str
        region_code: str
        kbli: list[str]
        kbli_version: str
        address: str | None

        def apply(self, b: Business) -> None:
            b.nib, b.name, b.region_code = self.nib, self.name, self.region_code
            b.kbli, b.kbli_version, b.address = list(self.kbli), self.kbli_version, self.address
            b.scale_history = [ScaleEntry(self.scale, date.fromisoformat(self.effective_date),
                                          self.timestamp, None)]
            b.facts, b.affiliations = [], []

    class ScaleChanged(Event):
        TOPIC = "kemitraan.Business.ScaleChanged"
        from_scale: str
        to_scale: str
        basis: dict[str, int] | None

        def apply(self, b: Business) -> None:
            entry = ScaleEntry(self.to_scale, date.fromisoformat(self.effective_date),
                               self.timestamp, self.basis)
            b.scale_history = ordered_scales([*b.scale_history, entry])

    class FactDeclared(Event):
        TOPIC = "kemitraan.Business.FactDeclared"
        name: str
        value: str  # a decimal as text: JSON floats would round m2 and ha
        unit: str
        evidence_id: str | None

        def apply(self, b: Business) -> None:
            b.facts.append(Fact(self.name, Decimal(self.value), self.unit,
                                date.fromisoformat(self.effective_date), self.evidence_id,
                                self.timestamp))

    class AffiliationDeclared(Event):
        TOPIC = "kemitraan.Business.AffiliationDeclared"
        umkm_nib: str
        kind: str
        ended_date: str | None

        def apply(self, b: Business) -> None:
            b.affiliations.append(Affiliation(
                self.umkm_nib, self.kind, date.fromisoformat(self.effective_date),
                opt_date(self.ended_date)))

    class AffiliationEnded(Event):
        TOPIC = "kemitraan.Business.AffiliationEnded"
        umkm_nib: str

        def apply(self, b: Business) -> None:
            # The open period (at most one: open periods of a pair always overlap). Before
            # back-dated periods were allowed it was always the latest declared, so streams
            # recorded then replay the same.
            period = b.open_affiliation(self.umkm_nib) or b.latest_affiliation(self.umkm_nib)
            assert period is not None  # the command checked it
            period.ended_date = date.fromisoformat(self.effective_date)

    # ---- commands -------------------------------------------------------------------------

    @classmethod
    def register(cls, *, actor: Actor, now: datetime, on: date, nib: str, name: str,
                 scale: Scale, region_code: str, kbli: list[str], address: str | None,
                 kbli_version: str = "2020") -> Business:
        if not kbli:
            raise InvalidValue.single("kbli", "give at least one KBLI code")
        return cls._create(cls.Registered, id=business_id(nib), **actor_fields(actor, on, now),
                           nib=nib, name=name, scale=scale.value, region_code=region_code,
                           kbli=list(dict.fromkeys(kbli)), kbli_version=kbli_version,
                           address=address)

    def change_scale(self, actor: Actor, now: datetime, on: date, to: Scale,
                     basis: dict[str, int] | None) -> None:
        current = self.scale_on(on)
        if current == to.value:
            raise TransitionForbidden(f"{self.nib} is already {to.value} on {on.isoformat()}")
        self.trigger_event(self.ScaleChanged, **actor_fields(actor, on, now),
                           from_scale=current, to_scale=to.value, basis=basis or None)

    def declare_fact(self, actor: Actor, now: datetime, on: date, *, name: str, value: Decimal,
                     unit: str, evidence_id: str | None) -> None:
        if value < 0:
            raise InvalidValue.single("value", "must not be negative")
        self.trigger_event(self.FactDeclared, **actor_fields(actor, on, now), name=name,
                           value=str(value), unit=unit, evidence_id=evidence_id)

    def declare_affiliation(self, actor: Actor, now: datetime, on: date, *, umkm_nib: str,
                            kind: str, ended: date | None) -> None:
        if umkm_nib == self.nib:
            raise InvalidValue.single("umkm_nib", "a business cannot be affiliated with itself")
        if ended is not None and ended < on:
            raise InvalidValue.single("ended_date", "must not be before effective_date")
        # Any period of the pair that overlaps this one (a pair may have several, earlier
        # ones recorded later too: only the latest declared was compared until 2026-12-05).
        for a in self.affiliation_periods(umkm_nib):
            if (a.ended_date is None or on <= a.ended_date) and (ended is None
                                                                  or a.effective_date <= ended):
                raise TransitionForbidden(
                    f"an affiliation with {umkm_nib} is already declared for "
                    f"{a.effective_date.isoformat()}..{a.ended_date or ''}")
        self.trigger_event(self.AffiliationDeclared, **actor_fields(actor, on, now),
                           umkm_nib=umkm_nib, kind=kind, ended_date=opt_iso(ended))

    def end_affiliation(self, actor: Actor, now: datetime, on: date, umkm_nib: str) -> None:
        if not self.affiliation_periods(umkm_nib):
            raise InvalidValue.single("umkm_nib", "no affiliation with this business")
        existing = self.open_affiliation(umkm_nib)
        if existing is None:
            raise TransitionForbidden(f"the affiliation with {umkm_nib} has already ended")
        if on < existing.effective_date:
            raise InvalidValue.single("ended_date", "must not be before the affiliation began")
        self.trigger_event(self.AffiliationEnded, **actor_fields(actor, on, now),
                           umkm_nib=umkm_nib)

    # ---- queries ----------------------------------------------------------------------------

    def scale_periods(self) -> list[tuple[date, str]]:
        """(from, scale) in date order: the registered scale from the beginning (`date.min`),
        then each change from its effective date (see `ordered_scales`)."""
        registered, *changes = ordered_scales(self.scale_history)
        return [(date.min, registered.scale), *((e.effective_date, e.scale) for e in changes)]

    def scale_on(self, day: date) -> str:
        """The scale in force on `day`: the last change effective by then, else the registered
        scale (whatever the registration's own date: a change dated before it still counts)."""
        current = ""
        for start, scale in self.scale_periods():
            if start <= day:
                current = scale
        return current

    def latest_affiliation(self, umkm_nib: str) -> Affiliation | None:
        """The most recently declared affiliation period with `umkm_nib` (None: never)."""
        return next((a for a in reversed(self.affiliations) if a.umkm_nib == umkm_nib), None)

    def open_affiliation(self, umkm_nib: str) -> Affiliation | None:
        """The period with `umkm_nib` that has not ended (None: none open)."""
        return next((a for a in self.affiliations
                     if a.umkm_nib == umkm_nib and a.ended_date is None), None)

    def affiliation_periods(self, umkm_nib: str) -> list[Affiliation]:
        """Every affiliation period with `umkm_nib`, in the order declared."""
        return [a for a in self.affiliations if a.umkm_nib == umkm_nib]

    def affiliated_with(self, umkm_nib: str, day: date) -> bool:
        return any(a.effective_date <= day and (a.ended_date is None or day <= a.ended_date)
                   for a in self.affiliation_periods(umkm_nib))

"""The Regulation aggregate: a versioned rule pack (Perda, Perbup, Permen...) kept as plain JSON
data inside its events. Each version is in force from its pack's `effective_from`; a revocation
ends the last one. Semantic checks a JSON schema cannot express live here (`validate_pack`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.base import LedgerEvent, actor_fields
from domain.errors import FieldError, InvalidValue, TransitionForbidden
from domain.values import Actor

_NS = uuid5(NAMESPACE_URL, "https://kemitraan-ledger.example/regulation")

MEASURES = ("real_partnerships", "distinct_umkm_partners", "realization_value_idr",
            "realization_quantity", "share")


def regulation_id(pack_id: str) -> UUID:
    """One stream per pack id: a second enactment of the same id fails on save."""
    return uuid5(_NS, pack_id)


def validate_pack(pack: dict[str, Any]) -> None:
    """Rules a JSON schema cannot express; every problem is reported with its JSON path."""
    errors: list[FieldError] = []
    try:
        start = date.fromisoformat(pack["effective_from"])
    except (KeyError, TypeError, ValueError):
        errors.append(FieldError("effective_from", "must be a date YYYY-MM-DD"))
        start = None
    end_raw = pack.get("effective_to")
    if end_raw is not None:
        try:
            end = date.fromisoformat(end_raw)
            if start is not None and end < start:
                errors.append(FieldError("effective_to", "must not be before effective_from"))
        except (TypeError, ValueError):
            errors.append(FieldError("effective_to", "must be a date YYYY-MM-DD"))
    obligations = pack.get("obligations") or []
    if not obligations:
        errors.append(FieldError("obligations", "give at least one obligation"))
    seen: set[str] = set()
    for i, ob in enumerate(obligations):
        path = f"obligations[{i}]"
        oid = ob.get("id")
        if oid in seen:
            errors.append(FieldError(f"{path}.id", "is used by another obligation"))
        seen.add(oid)
        measure = ob.get("measure")
        if measure not in MEASURES:
            errors.append(FieldError(f"{path}.measure", "must be one of " + ", ".join(MEASURES)))
            continue
        if measure == "share":
            for name in ("unit", "of_fact", "at_least_pct"):
                if ob.get(name) is None:
                    errors.append(FieldError(f"{path}.{name}", "is required for measure share"))
            if ob.get("at_least") is not None:
                errors.append(FieldError(f"{path}.at_least", "use at_least_pct for measure share"))
            pct = ob.get("at_least_pct")
            if pct is not None and not 0 <= pct <= 100:
                errors.append(FieldError(f"{path}.at_least_pct", "must be between 0 and 100"))
        else:
            if ob.get("at_least") is None:
                errors.append(FieldError(f"{path}.at_least", f"is required for measure {measure}"))
            elif ob["at_least"] < 0:
                errors.append(FieldError(f"{path}.at_least", "must not be negative"))
            if ob.get("at_least_pct") is not None:
                errors.append(FieldError(f"{path}.at_least_pct", "only measure share takes it"))
            if measure == "realization_quantity" and not ob.get("unit"):
                errors.append(FieldError(f"{path}.unit",
                                         "is required for measure realization_quantity"))
        for name in ("grace_days", "graduated_partner_grace_days"):
            if ob.get(name) is not None and ob[name] < 0:
                errors.append(FieldError(f"{path}.{name}", "must not be negative"))
    if errors:
        raise InvalidValue(errors)


@dataclass(frozen=True)
class Version:
    number: int
    pack: dict[str, Any]
    effective_from: date
    effective_to: date | None  # the last day in force (None: open-ended)
    recorded_at: datetime


class Regulation(Aggregate):
    TOPIC = "kemitraan.Regulation"

    class Event(LedgerEvent):
        TOPIC = "kemitraan.Regulation.Event"

    class Enacted(Event, Aggregate.Created):
        TOPIC = "kemitraan.Regulation.Enacted"
        pack: dict[str, Any]

        def apply(self, r: Regulation) -> None:
            r.pack_id, r.region_code = self.pack["id"], self.pack["region_code"]
            r.packs = [(dict(self.pack), self.timestamp)]
            r.revoked_on, r.revoke_reason = None, None

    class Amended(Event):
        TOPIC = "kemitraan.Regulation.Amended"
        pack: dict[str, Any]

        def apply(self, r: Regulation) -> None:
            r.packs.append((dict(self.pack), self.timestamp))
            r.region_code = self.pack["region_code"]

    class Revoked(Event):
        TOPIC = "kemitraan.Regulation.Revoked"
        reason: str

        def apply(self, r: Regulation) -> None:
            r.revoked_on, r.revoke_reason = date.fromisoformat(self.effective_date), self.reason

    # ---- commands -------------------------------------------------------------------------

    @classmethod
    def enact(cls, *, actor: Actor, now: datetime, pack: dict[str, Any]) -> Regulation:
        validate_pack(pack)
        return cls._create(cls.Enacted, id=regulation_id(pack["id"]),
                           **actor_fields(actor, date.fromisoformat(pack["effective_from"]), now),
                           pack=pack)

    def amend(self, actor: Actor, now: datetime, pack: dict[str, Any]) -> None:
        validate_pack(pack)
        if self.revoked_on is not None:
            raise TransitionForbidden(f"regulation {self.pack_id} is revoked")
        if pack["id"] != self.pack_id:
            raise TransitionForbidden(f"the pack's id {pack['id']} is not {self.pack_id}")
        start = date.fromisoformat(pack["effective_from"])
        previous = date.fromisoformat(self.packs[-1][0]["effective_from"])
        if start < previous:
            raise TransitionForbidden(f"an amendment may not take effect ({start}) before the "
                                      f"version it replaces ({previous})")
        self.trigger_event(self.Amended, **actor_fields(actor, start, now), pack=pack)

    def revoke(self, actor: Actor, now: datetime, on: date, reason: str) -> None:
        if self.revoked_on is not None:
            raise TransitionForbidden(f"regulation {self.pack_id} is already revoked")
        errors: list[FieldError] = []
        if not reason or not reason.strip():
            errors.append(FieldError("reason", "is required"))
        # Not before the current (latest) version starts: it would end that version before it
        # began (and every version after the revocation date with it). On the same day is
        # allowed: the current version then never comes into force, like a same-day amendment.
        current = date.fromisoformat(self.pack["effective_from"])
        if on < current:
            errors.append(FieldError(
                "effective_date", f"must not precede {current.isoformat()}, the effective_from "
                                  f"of version {len(self.packs)} (the current version)"))
        if errors:
            raise InvalidValue(errors)
        self.trigger_event(self.Revoked, **actor_fields(actor, on, now), reason=reason.strip())

    # ---- queries ----------------------------------------------------------------------------

    @property
    def pack(self) -> dict[str, Any]:
        """The latest version's pack."""
        return self.packs[-1][0]

    @property
    def revoked(self) -> bool:
        return self.revoked_on is not None

    @property
    def versions(self) -> list[Version]:
        """Every version with the days it is (or was) in force: a version ends the day before
        the next one starts, at its own effective_to, or the day before the revocation."""
        out: list[Version] = []
        for i, (pack, recorded) in enumerate(self.packs):
            start = date.fromisoformat(pack["effective_from"])
            ends = [date.fromisoformat(pack["effective_to"])] if pack.get("effective_to") else []
            if i + 1 < len(self.packs):
                ends.append(date.fromordinal(
                    date.fromisoformat(self.packs[i + 1][0]["effective_from"]).toordinal() - 1))
            if self.revoked_on is not None:
                ends.append(date.fromordinal(self.revoked_on.toordinal() - 1))
            out.append(Version(i + 1, pack, start, min(ends) if ends else None, recorded))
        return out

    def version_in_force(self, on: date) -> Version | None:
        """The version that applies on a business date, or None (before, after, revoked)."""
        for version in reversed(self.versions):
            if version.effective_from <= on and (version.effective_to is None
                                                  or on <= version.effective_to):
                return version
        return None

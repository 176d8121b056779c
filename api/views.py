"""Mapping aggregates, events and view rows to the wire models."""

from __future__ import annotations

from datetime import date
from typing import Any

from api.schemas import EventRead, PartnershipRead, PartnershipSummary
from domain.partnership import Partnership, effective_status

_ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic",
             "actor_id", "actor_role"}


def partnership_read(p: Partnership, today: date) -> PartnershipRead:
    return PartnershipRead(
        id=str(p.id), large_nib=p.large_nib, umkm_nib=p.umkm_nib, pola=p.pola,
        program=p.program, title=p.title, description=p.description, status=p.status,
        effective_status=p.effective_status(today), start_date=p.start_date,
        end_date=p.end_date, value_idr=p.value_idr, location_region_code=p.location_region_code,
        confirmed_on=p.confirmed_on, terminated_on=p.terminated_on,
        evidence=[{**vars(e), "review": e.review} for e in p.evidence.values()],
        realizations=[vars(r) for r in p.realizations.values()],
        version=p.version, recorded_at=p.modified_on)


def event_type(event: Any) -> str:
    return type(event).TOPIC.removeprefix("kemitraan.")


def event_data(event: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(event).items() if k not in _ENVELOPE}


def event_read(event: Any, seq: int) -> EventRead:
    return EventRead(seq=seq, version=event.originator_version, type=event_type(event),
                     recorded_at=event.timestamp,
                     actor={"principal_id": event.actor_id, "role": event.actor_role},
                     data=event_data(event))


def summary_read(row: Any, today: date) -> PartnershipSummary:
    """A list row: a report, so its `status` is `expired` past the end_date (contract)."""
    return PartnershipSummary(
        id=row.id, large_nib=row.large_nib, umkm_nib=row.umkm_nib, pola=row.pola,
        program=row.program, title=row.title,
        status=effective_status(row.status, row.end_date, today), start_date=row.start_date,
        end_date=row.end_date, value_idr=row.value_idr,
        location_region_code=row.location_region_code, version=row.version)

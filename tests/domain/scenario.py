"""Given events / when command / then events, for aggregates, without any store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

from domain.base import project
from domain.partnership import Partnership
from domain.values import Actor

T0 = datetime(2024, 1, 10, 2, 0, tzinfo=timezone.utc)
COMPANY = Actor("token-company", "company")
UMKM = Actor("token-umkm", "umkm")
DINAS = Actor("token-dinas", "dinas")


def proposed(pid: UUID | None = None, **overrides: Any) -> list[Any]:
    fields: dict[str, Any] = dict(
        id=pid or uuid4(), actor=COMPANY, now=T0, large_nib="3216000000001",
        umkm_nib="3216000000101", pola="perdagangan_umum", program="penempatan_ritel",
        title="Penempatan keripik di rak", start_date=date(2024, 1, 1),
        end_date=date(2025, 12, 31), value_idr=120_000_000, location_region_code="32.16",
        description=None, large_region_code="32.16", umkm_region_code="32.16.01")
    fields.update(overrides)
    return Partnership.propose(**fields).collect_events()


def given(events: list[Any]) -> Partnership:
    """Rebuild the aggregate from stored-style events, as the repository would."""
    p = project(None, events)
    assert isinstance(p, Partnership)
    return p


def when(p: Partnership, command: Callable[[Partnership], None]) -> list[Any]:
    command(p)
    return list(p.collect_events())


def history(*steps: Callable[[Partnership], None], **overrides: Any) -> list[Any]:
    """Events of a partnership taken through `steps` from its proposal."""
    events = proposed(**overrides)
    p = given(events)
    for step in steps:
        events += when(p, step)
    return events


def at(days: int) -> datetime:
    return T0 + timedelta(days=days)


# Steps, usable as `when` commands.
def confirm(p: Partnership) -> None:
    p.confirm(UMKM, at(1), date(2024, 1, 11), "benar")


def decline(p: Partnership) -> None:
    p.decline(UMKM, at(1), date(2024, 1, 11), "tidak kenal")


def withdraw(p: Partnership) -> None:
    p.withdraw(COMPANY, at(1), date(2024, 1, 11), "salah input")


def suspend(p: Partnership) -> None:
    p.suspend(COMPANY, at(2), date(2024, 2, 1), "renovasi toko")


def resume(p: Partnership) -> None:
    p.resume(COMPANY, at(3), date(2024, 3, 1))


def terminate(p: Partnership) -> None:
    p.terminate(COMPANY, at(4), date(2024, 4, 1), "kontrak selesai")


def amend(p: Partnership) -> None:
    p.amend(COMPANY, at(5), date(2024, 4, 2), {"value_idr": 150_000_000})


def submit_evidence(p: Partnership, evidence_id: str = "ev-1", kind: str = "perjanjian") -> None:
    p.submit_evidence(COMPANY, at(1), date(2024, 1, 11), evidence_id=evidence_id, kind=kind,
                      sha256="a" * 64, size=1234, media_type="application/pdf",
                      period_start=None, period_end=None, description=None)


def report_realization(p: Partnership) -> None:
    p.report_realization(COMPANY, at(6), date(2024, 4, 5), realization_id="r-1",
                         period_start=date(2024, 1, 1), period_end=date(2024, 3, 31),
                         value_idr=10_000_000, quantity=None, unit=None,
                         evidence_ids=list(p.evidence))

"""The command cache is exact for one writer, and a second writer only costs a 409 once."""

from __future__ import annotations

from datetime import date, datetime, timezone
from uuid import uuid4

import pytest

from api.settings import Settings
from api.wiring import build
from domain.access import SYSTEM
from domain.errors import StaleVersion, TransitionForbidden

T0 = datetime(2024, 2, 1, tzinfo=timezone.utc)


@pytest.fixture
def two_processes(settings):  # type: ignore[no-untyped-def]
    """Two containers on one store, as two server processes would be, both caching."""
    cached = Settings(**{**settings.model_dump(), "command_cache_size": 100})
    first, second = build(cached), build(cached)
    yield first.ledger, second.ledger
    first.close()
    second.close()


def propose(ledger):  # type: ignore[no-untyped-def]
    for nib, scale, region in (("3216000000001", "besar", "32.16"),
                               ("3216000000101", "mikro", "32.16.01")):
        ledger.register_business(SYSTEM, T0, nib=nib, name="Sampel", scale=scale,
                                 region_code=region, kbli=["47111"])
    return ledger.propose_partnership(SYSTEM, T0, uuid4(), large_nib="3216000000001",
                                      umkm_nib="3216000000101", pola="rantai_pasok",
                                      title="Sampel", start_date=date(2024, 1, 1),
                                      location_region_code="32.16").id


def test_commands_in_one_process_see_their_own_writes(two_processes) -> None:  # type: ignore[no-untyped-def]
    a, _ = two_processes
    pid = propose(a)
    a.confirm(SYSTEM, T0, pid)
    a.suspend(SYSTEM, T0, pid, reason="renovasi", effective_date=date(2024, 2, 1))
    with pytest.raises(TransitionForbidden):
        a.suspend(SYSTEM, T0, pid, reason="lagi", effective_date=date(2024, 2, 2))
    a.resume(SYSTEM, T0, pid, effective_date=date(2024, 3, 1))  # a refusal kept the state
    assert a.get_partnership(SYSTEM, pid).version == 4


def test_a_write_from_another_process_costs_one_conflict_then_commands_succeed(
        two_processes) -> None:  # type: ignore[no-untyped-def]
    a, b = two_processes
    pid = propose(a)
    a.confirm(SYSTEM, T0, pid)  # a caches version 2
    b.amend(SYSTEM, T0, pid, changes={"title": "Dari proses lain"})  # the store is at 3
    with pytest.raises(StaleVersion):
        a.amend(SYSTEM, T0, pid, changes={"value_idr": 5})  # stale: refused, nothing lost
    a.amend(SYSTEM, T0, pid, changes={"value_idr": 5})  # reloaded from the store
    p = a.get_partnership(SYSTEM, pid)
    assert (p.version, p.title, p.value_idr) == (4, "Dari proses lain", 5)

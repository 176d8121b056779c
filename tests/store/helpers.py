"""Shared set-up for the store tests."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any
from uuid import UUID, uuid4

from domain.access import SYSTEM

T0 = datetime(2024, 2, 1, tzinfo=timezone.utc)


def propose(ledger: Any) -> UUID:
    """A large business and an UMKM in 32.16, and a partnership between them, proposed."""
    for nib, scale, region in (("3216000000001", "besar", "32.16"),
                               ("3216000000101", "mikro", "32.16.01")):
        ledger.register_business(SYSTEM, T0, nib=nib, name="Sampel", scale=scale,
                                 region_code=region, kbli=["47111"])
    return ledger.propose_partnership(SYSTEM, T0, uuid4(), large_nib="3216000000001",
                                      umkm_nib="3216000000101", pola="rantai_pasok",
                                      title="Sampel", start_date=date(2024, 1, 1),
                                      location_region_code="32.16").id

"""Types shared by the wire models.

Request and response models of the public contract. Separate from events on purpose: events
are a storage contract that must load forever, these are the wire format."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, StrictInt,
)

from domain.clock import WIB
from domain.values import DAY_OUT_OF_RANGE, FIRST_DAY, LAST_DAY, REGION_PATTERN
from domain.values import REGION_PREFIX_PATTERN as REGION_PREFIX_PATTERN  # re-exported

# ASCII digits only: `\d` also takes full-width and Arabic-Indic digits (a second registration of
# the same NIB, a region no dinas prefix matches). The region patterns are the domain's own
# (no part all zeros, e.g. 32.00); api/problems.py words a mismatch as the domain does.
NIB = Annotated[str, Field(pattern=r"^[0-9]{13}$", examples=["3216010000001"])]
KBLI = Annotated[str, Field(pattern=r"^[0-9]{5}$", examples=["47111"])]
Region = Annotated[str, Field(pattern=REGION_PATTERN, examples=["32.16"])]


def _iso_day(value: Any) -> Any:
    """Only `YYYY-MM-DD`: pydantic's lax mode would also take Unix timestamps and datetimes."""
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    elif not isinstance(value, str) or len(value) != 10:
        raise ValueError("must be a date YYYY-MM-DD")
    else:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a date YYYY-MM-DD") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(DAY_OUT_OF_RANGE)
    return day


def _wib(instant: datetime) -> str:
    return instant.astimezone(WIB).isoformat()


Instant = Annotated[datetime, PlainSerializer(_wib, return_type=str),
                    Field(description="RFC 3339 instant, shown in Asia/Jakarta (+07:00)")]

Day = Annotated[date, BeforeValidator(_iso_day), Field(description="YYYY-MM-DD",
                                                       json_schema_extra={"format": "date"})]
IDR = Annotated[StrictInt, Field(ge=0, le=10**18, description="integer rupiah")]
Text = Annotated[str, Field(min_length=1, max_length=300)]
LongText = Annotated[str, Field(max_length=5000)]
Scale = Literal["mikro", "kecil", "menengah", "besar"]
Pola = Literal["inti_plasma", "subkontrak", "waralaba", "perdagangan_umum",
               "distribusi_keagenan", "rantai_pasok", "bagi_hasil", "kerja_sama_operasional",
               "usaha_patungan", "penyumberluaran", "lainnya"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

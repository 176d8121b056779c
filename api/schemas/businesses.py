"""Wire models: businesses, scale changes, facts and affiliations."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from api.schemas.common import IDR, KBLI, NIB, Day, Instant, Region, Scale, Strict, Text


class BusinessCreate(Strict):
    nib: NIB
    name: Text
    scale: Scale
    region_code: Region
    kbli: Annotated[list[KBLI], Field(min_length=1, max_length=50)]
    address: Annotated[str, Field(max_length=500)] | None = None


class ScaleBasis(Strict):
    annual_sales_idr: IDR | None = None
    capital_idr: IDR | None = None


class ScaleChangeCreate(Strict):
    scale: Scale
    effective_date: Day
    basis: ScaleBasis | None = None


class FactCreate(Strict):
    name: Annotated[str, Field(min_length=1, max_length=100, examples=["commercial_area"])]
    value: Annotated[Decimal, Field(ge=0, max_digits=20, decimal_places=4,
                                    allow_inf_nan=False)]
    unit: Annotated[str, Field(min_length=1, max_length=50, examples=["m2"])]
    effective_date: Day
    evidence_id: Annotated[str, Field(
        max_length=64, description="An evidence file submitted on one of this business's "
        "partnerships (`POST /v1/partnerships/{id}/evidence`); any other id is refused (422)")
    ] | None = None


class AffiliationCreate(Strict):
    umkm_nib: NIB
    kind: Literal["owns", "controls"]
    effective_date: Day
    ended_date: Day | None = None


class AffiliationEnd(Strict):
    ended_date: Day


class ScaleEntryRead(BaseModel):
    scale: Scale
    effective_date: date
    recorded_at: Instant
    registered: bool = Field(False, description=(
        "the registration's entry, always first: its scale holds from the beginning until the "
        "first change, whatever its effective_date; the changes follow by effective_date"))


class FactRead(BaseModel):
    name: str
    value: Decimal
    unit: str
    effective_date: date
    evidence_id: str | None
    recorded_at: Instant


class AffiliationRead(BaseModel):
    umkm_nib: str
    kind: str
    effective_date: date
    ended_date: date | None


class BusinessRead(BaseModel):
    nib: str
    name: str
    scale: Scale
    region_code: str
    kbli: list[str]
    kbli_version: str
    address: str | None
    scale_history: list[ScaleEntryRead]
    facts: list[FactRead]
    affiliations: list[AffiliationRead]
    version: int


class BusinessWritten(BaseModel):
    nib: str
    version: int
    position: int

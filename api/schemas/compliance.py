"""Wire models: compliance with regulations (contract: Regulations and compliance)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.common import Instant

Status = Literal["compliant", "non_compliant"]
Reason = Literal["not_confirmed", "no_verified_perjanjian", "no_verified_realization",
                 "inactive_in_period", "affiliated", "partner_not_umkm",
                 "outside_partner_filter"]


class ComplianceItem(BaseModel):
    nib: str
    name: str
    regulation_id: str
    regulation_version: int = Field(description="the version in force on the period's last "
                                                "day on which one is in force")
    obligation_id: str
    period: str = Field(description="the obligation's own period: a year (2024) or a quarter "
                                    "(2024-Q1)")
    measure: str
    unit: str | None
    measured: float
    required: float = Field(description="at_least, or at_least_pct for measure share")
    status: Status
    illustrative: bool = Field(description="the threshold is not published by the instrument: "
                                           "an illustration, not law")
    reasons: list[Literal["fact_missing"]] = Field(
        description="why the obligation itself could not be met (fact_missing: measure share "
                    "and no declared fact in force at the period's end)")


class ComplianceList(BaseModel):
    period: str
    region: str | None
    as_of: Instant
    position: int
    items: list[ComplianceItem]


class CountedPartnership(BaseModel):
    id: str
    umkm_nib: str
    realization_value_idr: int
    quantity: float = Field(description="realized quantity in the obligation's unit (0 "
                                        "without one)")


class LeftOutPartnership(BaseModel):
    id: str
    umkm_nib: str
    reasons: list[Reason] = Field(description="every reason that holds, in a fixed order")


class FactUsed(BaseModel):
    name: str
    value: str
    unit: str
    effective_date: str


class ObligationExplanation(ComplianceItem):
    description: str
    regulation_title: str
    fact: FactUsed | None = Field(description="the declared fact measure share divided by")
    quantity: float | None = Field(description="measure share: the realized quantity divided")
    counted: list[CountedPartnership]
    left_out: list[LeftOutPartnership]


class ComplianceExplanation(BaseModel):
    nib: str
    name: str
    period: str
    as_of: Instant = Field(description="the instant the facts were taken as recorded at")
    position: int = Field(description="the views' position (the last seq folded in) when "
                                      "read; with `as_of`, the facts are still as recorded then")
    obligations: list[ObligationExplanation]

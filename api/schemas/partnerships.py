"""Wire models: partnerships, their lifecycle, evidence, realizations and history."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictFloat, StrictInt

from api.schemas.common import IDR, NIB, Day, Instant, LongText, Pola, Region, Strict, Text


class PartnershipCreate(Strict):
    large_nib: NIB
    umkm_nib: NIB
    pola: Pola
    program: Annotated[str, Field(max_length=100, examples=["penempatan_ritel"])] | None = None
    title: Text
    start_date: Day
    end_date: Day | None = None
    value_idr: IDR | None = None
    location_region_code: Region
    description: LongText | None = None


class ConfirmBody(Strict):
    note: LongText | None = None
    effective_date: Day | None = None


class ReasonBody(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    effective_date: Day | None = None


class DatedReasonBody(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    effective_date: Day


class ResumeBody(Strict):
    effective_date: Day


class AmendBody(Strict):
    end_date: Day | None = None
    value_idr: IDR | None = None
    title: Text | None = None
    description: LongText | None = None
    effective_date: Day | None = None


class ReviewBody(Strict):
    decision: Literal["verified", "rejected"]
    reason: Annotated[str, Field(max_length=2000)] | None = None
    effective_date: Day | None = None


class RealizationCreate(Strict):
    period_start: Day
    period_end: Day
    value_idr: IDR | None = None
    quantity: Annotated[StrictInt | StrictFloat, Field(ge=0, le=1e15, allow_inf_nan=False)] | None = None
    unit: Annotated[str, Field(min_length=1, max_length=50)] | None = None
    # Required by the contract (`evidence_ids: [...]`); an empty list is accepted: such a
    # realization is recorded but never counts until evidence is linked to it.
    evidence_ids: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=100)]
    effective_date: Day | None = None


class PartnershipWritten(BaseModel):
    id: str
    status: str
    version: int
    position: int


class EvidenceWritten(BaseModel):
    evidence_id: str
    sha256: str
    size: int
    media_type: str
    version: int
    position: int
    leaf_index: int | None = Field(None, description="the submission's leaf in the audit log "
                                   "(GET /v1/audit/proofs/inclusion); null if not yet logged")


class RealizationWritten(BaseModel):
    realization_id: str
    version: int
    position: int


class ReviewRead(BaseModel):
    decision: str
    reason: str | None
    reviewed_by: str
    reviewed_at: Instant


class EvidenceRead(BaseModel):
    evidence_id: str
    kind: str
    sha256: str
    size: int
    media_type: str
    period_start: date | None
    period_end: date | None
    description: str | None
    submitted_by: str
    submitted_at: Instant
    review: ReviewRead | None
    leaf_index: int | None = Field(None, description="the submission's leaf in the audit log")


class RealizationRead(BaseModel):
    realization_id: str
    period_start: date
    period_end: date
    value_idr: int | None
    quantity: float | None
    unit: str | None
    evidence_ids: list[str]
    reported_by: str
    reported_at: Instant | None


class PartnershipSummary(BaseModel):
    """A row of the partnership list; the full read adds evidence, realizations and dates."""

    id: str
    large_nib: str
    umkm_nib: str
    pola: str
    program: str | None
    title: str
    status: str = Field(description="the lifecycle status; in lists (reports), `expired` for "
                                    "a running partnership past its end_date, as `status=expired` "
                                    "filters; the single read keeps the recorded status and "
                                    "adds `effective_status`")
    start_date: date
    end_date: date | None
    value_idr: int | None
    location_region_code: str
    version: int


class PartnershipRead(PartnershipSummary):
    description: str | None
    effective_status: str = Field(description="status, or `expired` when running past end_date")
    confirmed_on: date | None
    terminated_on: date | None
    evidence: list[EvidenceRead]
    realizations: list[RealizationRead]
    recorded_at: Instant = Field(description="when the last event shown was recorded")


class PartnershipPage(BaseModel):
    items: list[PartnershipSummary]
    next_cursor: str | None
    position: int
    as_of: Instant


class ActorRead(BaseModel):
    principal_id: str
    role: str


class EventRead(BaseModel):
    seq: int
    version: int
    type: str
    recorded_at: Instant
    actor: ActorRead
    data: dict[str, Any]


class EventPage(BaseModel):
    items: list[EventRead]

"""Wire models: the partnership funnel (contract: Statistics)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from api.schemas.common import Instant


class FunnelFigures(BaseModel):
    reported: int = Field(description="term overlaps the period, touches the region, "
                                      "not withdrawn")
    confirmed: int = Field(description="of those, confirmed by the UMKM")
    documented: int = Field(description="of those, with a perjanjian a dinas verified")
    real: int = Field(description="of those, real in the period (contract: What real means)")
    real_relationships: int = Field(description="distinct (large NIB, UMKM NIB, pola) among "
                                                "the real ones")
    large_partners: int = Field(description="distinct large businesses among the real ones")
    umkm_partners: int = Field(description="distinct UMKM among the real ones")
    agreement_value_idr: int = Field(description="sum of the declared value_idr of the real "
                                                 "ones")
    realization_value_idr: int = Field(description="sum of the counted realizations of the "
                                                   "real ones that overlap the period")


class FunnelGroup(FunnelFigures):
    key: str | None = Field(description="the pola, program, region code or large NIB; null "
                                        "for partnerships without a program")


class FunnelStats(BaseModel):
    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    as_of: Instant = Field(description="the instant the figures were read from the views: "
                           "now, or when pre-computed figures that still answer were computed")
    position: int = Field(description="the last log position the figures fold in")
    group_by: str
    region: str | None
    groups: list[FunnelGroup]
    totals: FunnelFigures
    next_cursor: str | None = Field(default=None, description="with `limit`: the `cursor` of "
                                    "the next page; null on the last page and without `limit`")

    model_config = {"populate_by_name": True}

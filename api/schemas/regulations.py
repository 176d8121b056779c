"""Wire models: the rule-pack format (contract, "Regulations and compliance"), strict.

Structure and types are checked here; rules a JSON schema cannot express (effective_to after
effective_from, fields a measure requires) are checked in `domain.regulation.validate_pack`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictBool, StrictInt

from api.schemas.common import REGION_PREFIX_PATTERN, Day, Scale, Strict

PackId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{2,99}$",
                              examples=["perbup-bekasi-73-2020"])]
RegionPrefix = Annotated[str, Field(pattern=REGION_PREFIX_PATTERN)]
Note = Annotated[str, Field(max_length=2000)]


class AppliesTo(Strict):
    scale: Annotated[list[Scale], Field(min_length=1)]
    kbli_prefix: list[Annotated[str, Field(pattern=r"^[0-9]{1,5}$")]] = []
    region_prefix: RegionPrefix = ""
    declared_fact: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,49}$", description=(
        "only businesses that declared this fact (e.g. `commercial_area`), from its first "
        "effective date: the operators an instrument binds where no KBLI names them (a "
        "shopping centre, a terminal); an operator that declared none is not evaluated"))] \
        | None = None


class PartnerFilter(Strict):
    scale: Annotated[list[Scale], Field(min_length=1)]
    region_prefix: RegionPrefix = ""


class Obligation(Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-_]{0,99}$")]
    description: Annotated[str, Field(min_length=1, max_length=2000)]
    applies_to: AppliesTo
    measure: Literal["real_partnerships", "distinct_umkm_partners", "realization_value_idr",
                     "realization_quantity", "share"]
    partner_filter: PartnerFilter
    period: Literal["quarter", "year"]
    at_least: Annotated[StrictInt, Field(ge=0, le=10**18)] | None = None
    at_least_pct: Annotated[float, Field(ge=0, le=100, strict=True)] | None = None
    unit: Annotated[str, Field(min_length=1, max_length=50)] | None = None
    of_fact: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    grace_days: Annotated[StrictInt, Field(ge=0, le=36500)] | None = None
    graduated_partner_grace_days: Annotated[StrictInt, Field(ge=0, le=36500)] | None = None
    illustrative: StrictBool = False
    source_note: Note | None = None


class RulePack(Strict):
    id: PackId
    title: Annotated[str, Field(min_length=1, max_length=500)]
    instrument: Annotated[str, Field(min_length=1, max_length=40, examples=["perbup"])]
    region_code: Annotated[str, Field(pattern=REGION_PREFIX_PATTERN,
                                      description="\"\" for a national instrument")]
    effective_from: Day
    effective_to: Day | None = None
    source_url: Annotated[str, Field(min_length=1, max_length=2000)]
    source_note: Note | None = None
    obligations: Annotated[list[Obligation], Field(min_length=1, max_length=200)]

    def as_data(self) -> dict:
        """Plain JSON-able data for the event (dates as ISO strings, unset optionals dropped)."""
        return self.model_dump(mode="json", exclude_none=True) | {
            "effective_to": self.effective_to.isoformat() if self.effective_to else None}


class RevokeBody(Strict):
    effective_date: Day
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class RegulationWritten(BaseModel):
    id: str
    version: int
    position: int


class VersionRead(BaseModel):
    version: int
    effective_from: str
    effective_to: str | None
    recorded_at: str


class RegulationRead(BaseModel):
    id: str
    version: int
    revoked_on: str | None
    revoke_reason: str | None
    pack: dict
    versions: list[VersionRead]


def json_path(loc: tuple) -> str:
    """pydantic's loc as a JSON path: ('obligations', 0, 'measure') -> obligations[0].measure"""
    out = ""
    for part in loc:
        if part in ("body",):
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"

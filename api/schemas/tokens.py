"""Wire models: tokens and health."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from api.schemas.common import NIB, Strict


class TokenCreate(Strict):
    role: Literal["admin", "dinas", "auditor", "company", "umkm"]
    region: Annotated[str, Field(max_length=13)] | None = None
    nibs: Annotated[list[NIB], Field(max_length=100)] = []
    name: Annotated[str, Field(max_length=200)] | None = None


class TokenCreated(BaseModel):
    id: str
    token: str = Field(description="shown once; only its hash is stored")
    role: str
    region: str | None
    nibs: list[str]
    name: str
    position: int


class TokenRevoked(BaseModel):
    id: str
    revoked: bool
    position: int


class ViewLag(BaseModel):
    view: str
    position: int = Field(description="the last seq folded into this view")
    lag: int = Field(description="events recorded but not yet folded in")


class Health(BaseModel):
    status: Literal["ok"]
    store: Literal["sqlite", "postgresql"]
    position: int
    projections_lag: int = Field(0, description="the largest lag of any view, in events")
    projections: list[ViewLag] = []

"""Wire models: tokens and health."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from api.schemas.common import NIB, Instant, Strict


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


class TokenRead(BaseModel):
    id: str
    role: str
    region: str | None
    nibs: list[str]
    name: str
    issued_at: Instant
    issued_by: str = Field(description="principal id of whoever issued it")
    revoked_at: Instant | None
    revoked_by: str | None


class TokenPage(BaseModel):
    items: list[TokenRead]
    next_cursor: str | None = Field(description="cursor of the next page; null on the last")
    position: int = Field(description="the log position the answer reflects")


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

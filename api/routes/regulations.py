"""Regulations: versioned rule packs (enact, amend, revoke, read, and the pack's JSON Schema).

Packs are validated by `RulePack` here (structure, every problem with its JSON path such as
`obligations[0].measure`), then by the domain (rules a schema cannot express)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import ValidationError

from api import deps, exports
from api.auth import principal
from api.logs import command_done
from api.problems import Problem, validation_message
from api.schemas.common import REGION_PATTERN
from api.schemas.regulations import (
    RegulationRead, RegulationWritten, RevokeBody, RulePack, json_path,
)
from domain.access import Principal
from domain.regulation import Regulation

router = APIRouter(prefix="/v1/regulations", tags=["regulations"])

PackBody = Annotated[dict[str, Any], Body(description="a rule pack: see GET /v1/regulations/schema")]


def parse_pack(raw: Any) -> dict[str, Any]:
    """The pack as plain data, or a 422 naming the JSON path of every problem."""
    try:
        return RulePack.model_validate(raw).as_data()
    except ValidationError as e:
        errors = [{"field": json_path(tuple(x["loc"])), "message": validation_message(x)}
                  for x in e.errors()]
        raise Problem(422, "; ".join(f"{x['field']}: {x['message']}" for x in errors[:5]),
                      errors=errors) from None


def regulation_read(r: Regulation) -> RegulationRead:
    return RegulationRead(
        id=r.pack_id, version=r.version,
        revoked_on=r.revoked_on.isoformat() if r.revoked_on else None,
        revoke_reason=r.revoke_reason, pack=r.pack,
        versions=[{"version": v.number, "effective_from": v.effective_from.isoformat(),
                   "effective_to": v.effective_to.isoformat() if v.effective_to else None,
                   "recorded_at": deps_instant(v.recorded_at)} for v in r.versions])


def deps_instant(instant: Any) -> str:
    from domain.clock import WIB
    return instant.astimezone(WIB).isoformat()


@router.get("/schema", responses=deps.errors())
def pack_schema(who: Principal = Depends(principal)) -> dict[str, Any]:
    """The JSON Schema of a rule pack (a token is needed, as for every route but health)."""
    return RulePack.model_json_schema()


@router.post("", status_code=201, response_model=RegulationWritten,
             responses=deps.errors(403, 409, 422))
def enact(body: PackBody, request: Request, response: Response,
          who: Principal = Depends(principal)) -> RegulationWritten:
    pack = parse_pack(body)
    w = deps.container(request).ledger.enact_regulation(who, deps.now(request), pack)
    command_done(request, "regulation.enact", w)
    deps.set_etag(response, w.version)
    return RegulationWritten(id=pack["id"], version=w.version, position=w.position or 0)


@router.put("/{reg_id}", response_model=RegulationWritten,
            responses=deps.errors(403, 404, 409, 422))
def amend(reg_id: str, body: PackBody, request: Request, response: Response,
          who: Principal = Depends(principal)) -> RegulationWritten:
    pack = parse_pack(body)
    w = deps.container(request).ledger.amend_regulation(who, deps.now(request), reg_id, pack)
    command_done(request, "regulation.amend", w)
    deps.set_etag(response, w.version)
    return RegulationWritten(id=reg_id, version=w.version, position=w.position or 0)


@router.post("/{reg_id}/revoke", response_model=RegulationWritten,
             responses=deps.errors(403, 404, 409, 422))
def revoke(reg_id: str, body: RevokeBody, request: Request, response: Response,
           who: Principal = Depends(principal)) -> RegulationWritten:
    w = deps.container(request).ledger.revoke_regulation(
        who, deps.now(request), reg_id, effective_date=body.effective_date, reason=body.reason)
    command_done(request, "regulation.revoke", w)
    deps.set_etag(response, w.version)
    return RegulationWritten(id=reg_id, version=w.version, position=w.position or 0)


@router.get("/{reg_id}", response_model=RegulationRead, responses=deps.errors(404, 422))
def get_regulation(reg_id: str, request: Request, response: Response,
                   who: Principal = Depends(principal),
                   version: Annotated[int | None, Query(ge=1, le=10**9)] = None) -> RegulationRead:
    r = deps.container(request).ledger.get_regulation(who, reg_id, version=version)
    if version is not None and r.version != version:
        raise Problem(404, f"regulation {reg_id} has no version {version}")
    deps.set_etag(response, r.version)
    return regulation_read(r)


LIST_COLUMNS = [exports.Column(key, header) for key, header in (
    ("id", "ID aturan"), ("title", "Judul"), ("instrument", "Instrumen"),
    ("region_code", "Kode wilayah"), ("version", "Versi"),
    ("effective_from", "Berlaku sejak"), ("revoked_on", "Dicabut pada"))]


@router.get("", responses={**deps.errors(422, 503), **exports.tabular_responses(paged=True)})
def list_regulations(
    request: Request, who: Principal = Depends(principal),
    region: Annotated[str | None, Query(pattern=REGION_PATTERN)] = None,
    limit: deps.PageLimit = 100,
    cursor: deps.PageCursor = None,
    min_position: deps.MinPosition = None,
    format: Annotated[exports.Format, Query(description=exports.FORMAT_DESCRIPTION)] = "json",
) -> Any:
    """Regulations touching `region` (inside it, or a parent such as a national instrument),
    limited to the caller's region for dinas and auditors; by region code, then id."""
    from projections import regulations as view
    from domain.access import Role
    from domain.use_cases.regulations import touches

    after = None
    if cursor is not None:  # "region_code|id" of the last item of the previous page
        after = tuple(exports.decode_cursor(cursor).split("|", 1))
        if len(after) != 2:
            raise Problem(422, "cursor is not one this server issued",
                          errors=[{"field": "cursor", "message": "invalid cursor"}])
    c = deps.container(request)
    position = deps.caught_up(request, min_position)
    with c.engine.connect() as conn:
        rows = view.query(conn, region)  # a few rule packs: paged here, not in SQL
    if who.role in (Role.DINAS, Role.AUDITOR):
        rows = [r for r in rows if touches(r["region_code"], who.region or "")]
    rows.sort(key=lambda r: (r["region_code"], r["id"]))  # the cursor's order, in Python
    if after is not None:
        rows = [r for r in rows if (r["region_code"], r["id"]) > after]
    page, more = rows[:limit], len(rows) > limit
    next_cursor = exports.encode_cursor(f"{page[-1]['region_code']}|{page[-1]['id']}") \
        if more else None
    items = [{k: r[k] for k in ("id", "title", "instrument", "region_code", "version",
                                "effective_from", "revoked_on")} for r in page]
    if format != "json":
        return exports.tabular_response(format, LIST_COLUMNS, items, "aturan", "Aturan",
                                        headers=exports.next_page_headers(request, next_cursor,
                                                                          position))
    return {"items": items, "next_cursor": next_cursor, "position": position,
            "as_of": deps_instant(deps.now(request))}

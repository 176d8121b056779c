"""Businesses: registration, scale changes (naik kelas), declared facts, affiliations."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from api import deps
from api.auth import principal
from api.logs import command_done
from api.routes import evidence
from api.schemas import (
    AffiliationCreate, AffiliationEnd, BusinessCreate, BusinessRead, BusinessWritten,
    FactCreate, NIB, ScaleChangeCreate,
)
from domain.access import Principal
from domain.application import Written
from domain.business import Business, ordered_scales
from domain.clock import jakarta_date

router = APIRouter(prefix="/v1/businesses", tags=["businesses"])


def _written(request: Request, response: Response, command: str, nib: str,
             w: Written) -> BusinessWritten:
    command_done(request, command, w)
    deps.set_etag(response, w.version)
    return BusinessWritten(nib=nib, version=w.version, position=w.position)


def business_read(b: Business, today: date) -> BusinessRead:
    return BusinessRead(
        nib=b.nib, name=b.name, scale=b.scale_on(today),
        region_code=b.region_code, kbli=b.kbli, kbli_version=b.kbli_version, address=b.address,
        scale_history=[{"scale": e.scale, "effective_date": e.effective_date,
                        "recorded_at": e.recorded_at, "registered": i == 0}
                       for i, e in enumerate(ordered_scales(b.scale_history))],
        facts=[vars(f) for f in b.facts],
        affiliations=[vars(a) for a in b.affiliations], version=b.version)


@router.post("", status_code=201, response_model=BusinessWritten,
             responses=deps.errors(400, 403, 409, 422))
def register_business(body: BusinessCreate, request: Request, response: Response,
                      who: Principal = Depends(principal)) -> BusinessWritten:
    w = deps.container(request).ledger.register_business(
        who, deps.now(request), **body.model_dump())
    return _written(request, response, "business.register", body.nib, w)


@router.get("/{nib}", response_model=BusinessRead, responses=deps.errors(404, 422))
def get_business(nib: NIB, request: Request, response: Response,
                 who: Principal = Depends(principal),
                 as_of: Annotated[str | None, Query(description=(
                     "RFC 3339 instant: the business as recorded then (its scale history, "
                     "facts and affiliations as known at that instant)"))] = None,
                 ) -> BusinessRead:
    instant = deps.parse_instant(as_of, "as_of")
    b = deps.container(request).ledger.get_business(who, nib, as_of=instant)
    deps.set_etag(response, b.version)
    # `scale`: on the day of the instant asked about (Jakarta), else today
    return business_read(b, jakarta_date(instant or deps.now(request)))


@router.post("/{nib}/scale-changes", status_code=201, response_model=BusinessWritten,
             responses=deps.errors(400, 403, 404, 409, 422))
def change_scale(nib: NIB, body: ScaleChangeCreate, request: Request, response: Response,
                 who: Principal = Depends(principal)) -> BusinessWritten:
    basis = body.basis.model_dump(exclude_none=True) if body.basis else None
    w = deps.container(request).ledger.change_scale(
        who, deps.now(request), nib, scale=body.scale, effective_date=body.effective_date,
        basis=basis, expected_version=deps.if_match(request))
    return _written(request, response, "business.change_scale", nib, w)


@router.post("/{nib}/facts", status_code=201, response_model=BusinessWritten,
             responses=deps.errors(400, 403, 404, 409, 422))
def declare_fact(nib: NIB, body: FactCreate, request: Request, response: Response,
                 who: Principal = Depends(principal)) -> BusinessWritten:
    c = deps.container(request)
    w = c.ledger.declare_fact(who, deps.now(request), nib, expected_version=deps.if_match(request),
                              evidence_partnership=lambda eid: evidence.partnership_of(c, eid),
                              **body.model_dump())
    return _written(request, response, "business.declare_fact", nib, w)


@router.post("/{nib}/affiliations", status_code=201, response_model=BusinessWritten,
             responses=deps.errors(400, 403, 404, 409, 422))
def declare_affiliation(nib: NIB, body: AffiliationCreate, request: Request, response: Response,
                        who: Principal = Depends(principal)) -> BusinessWritten:
    w = deps.container(request).ledger.declare_affiliation(
        who, deps.now(request), nib, expected_version=deps.if_match(request),
        **body.model_dump())
    return _written(request, response, "business.declare_affiliation", nib, w)


@router.post("/{nib}/affiliations/{umkm_nib}/end", status_code=200,
             response_model=BusinessWritten,
             responses=deps.errors(400, 403, 404, 409, 422))
def end_affiliation(nib: NIB, umkm_nib: NIB, body: AffiliationEnd, request: Request,
                    response: Response, who: Principal = Depends(principal)) -> BusinessWritten:
    w = deps.container(request).ledger.end_affiliation(who, deps.now(request), nib,
                                                       umkm_nib=umkm_nib,
                                                       ended_date=body.ended_date,
                                                       expected_version=deps.if_match(request))
    return _written(request, response, "business.end_affiliation", nib, w)

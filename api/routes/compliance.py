"""Compliance: which businesses meet the obligations of the rule packs, and why (ADR 0015)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api import compliance_report as cr
from api import deps
from api.auth import principal
from api.exports import FORMAT_DESCRIPTION, Format, tabular_response, tabular_responses
from api.problems import Problem
from api.routes.stats import REGION, stats_region
from api.schemas.common import NIB
from api.schemas.compliance import (
    ComplianceExplanation, ComplianceItem, ComplianceList, ObligationExplanation,
)
from domain.access import Principal, Role, may_read_business
from domain.clock import jakarta_date
from domain.compliance import ObligationResult, Period, parse_period
from domain.errors import Forbidden, NotFound

router = APIRouter(prefix="/v1/compliance", tags=["compliance"])
PERIOD = r"^[0-9]{4}(-Q[1-4])?$"
PeriodQuery = Annotated[str | None, Query(
    pattern=PERIOD, description="a year (2024) or a quarter (2024-Q1); default: the current "
                                "year in Asia/Jakarta")]


def period_of(request: Request, text: str | None) -> Period:
    if text is None:
        return cr.today_period(jakarta_date(deps.now(request)))
    try:
        return parse_period(text)
    except ValueError as e:
        raise Problem(422, str(e), errors=[{"field": "period", "message": str(e)}]) from None


def _no_umkm(who: Principal) -> None:
    if who.role is Role.UMKM:
        raise Forbidden("the umkm role may not read compliance")


@router.get(
    "", response_model=ComplianceList,
    responses={**deps.errors(403, 422, 503), **tabular_responses()},
    summary="Compliance of the businesses of a region with the rule packs",
    description=(
        "One item per business, obligation and period due: measured against required, with the "
        "regulation version applied. Businesses registered in `region` (a prefix; `admin` "
        "default: national). `dinas` and `auditor` ask about their region or inside it (403 "
        "outside); `company` sees its own NIBs only; `umkm` gets 403. `illustrative` marks a "
        "threshold the instrument does not publish."))
def compliance_list(
    request: Request, who: Principal = Depends(principal),
    region: Annotated[str | None, Query(pattern=REGION)] = None,
    period: PeriodQuery = None,
    regulation: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9-]{2,99}$",
                                            description="one rule pack's id")] = None,
    format: Annotated[Format, Query(description=FORMAT_DESCRIPTION)] = "json",
    min_position: deps.MinPosition = None,
) -> ComplianceList | Response:
    _no_umkm(who)
    nibs = None
    if who.role is Role.COMPANY:
        area, nibs = region, list(who.nibs)
    else:
        area = stats_region(who, region)
    p = period_of(request, period)
    c = deps.container(request)
    position = deps.caught_up(request, min_position)
    with c.engine.connect() as conn:
        _, results = cr.measure_region(c.ledger, conn, region=area, period=p,
                                       regulation=regulation, nibs=nibs)
    now = deps.now(request)
    if format != "json":
        return tabular_response(format, cr.COLUMNS, [cr.row(r) for r in results],
                                f"kepatuhan-{area or 'nasional'}-{p.label}", "Kepatuhan",
                                headers={"X-Position": str(position)})
    return ComplianceList(period=p.label, region=area, as_of=now, position=position,
                          items=[ComplianceItem(**cr.item(r)) for r in results])


def explanation(r: ObligationResult, title: str) -> ObligationExplanation:
    return ObligationExplanation(
        **cr.item(r), description=r.description, regulation_title=title,
        fact=None if r.fact is None else {
            "name": r.fact.name, "value": str(r.fact.value), "unit": r.fact.unit,
            "effective_date": r.fact.effective_date.isoformat()},
        quantity=None if r.quantity is None else cr.number(r.quantity),
        counted=[{"id": x.id, "umkm_nib": x.umkm_nib,
                  "realization_value_idr": x.realization_value_idr, "quantity": x.quantity}
                 for x in r.counted],
        left_out=[{"id": x.id, "umkm_nib": x.umkm_nib, "reasons": list(x.reasons)}
                  for x in r.left_out])


@router.get(
    "/{nib}", response_model=ComplianceExplanation,
    responses={**deps.errors(403, 404, 422, 503), **tabular_responses(
        "The JSON answer, or one row per obligation (the list's columns) as CSV or XLSX with "
        "`format=csv|xlsx`")},
    summary="Why a business is (not) compliant",
    description=(
        "Each obligation due in the period: measured and required, the regulation version "
        "applied, the partnerships counted, and those left out with every reason. With `as_of` "
        "(RFC 3339), the business, its partnerships (reviews, realizations), its partners and "
        "the regulations are all taken as recorded at that instant. Scope as for businesses: "
        "outside it, 404; `umkm` gets 403."))
def compliance_explain(
    nib: NIB, request: Request, who: Principal = Depends(principal),
    period: PeriodQuery = None,
    as_of: Annotated[str | None, Query(description="RFC 3339 instant")] = None,
    format: Annotated[Format, Query(description=FORMAT_DESCRIPTION)] = "json",
    min_position: deps.MinPosition = None,
) -> ComplianceExplanation | Response:
    _no_umkm(who)
    instant = deps.parse_instant(as_of, "as_of")
    p = period_of(request, period)
    c = deps.container(request)
    position = deps.caught_up(request, min_position)
    with c.engine.connect() as conn:
        b, rule_list, results = cr.explain(c.ledger, conn, nib, p, as_of=instant)
    if b is None or not may_read_business(who, b.nib, b.region_code):
        raise NotFound(f"business {nib} not found" + (" at that time" if instant else ""))
    if format != "json":
        return tabular_response(format, cr.COLUMNS, [cr.row(r) for r in results],
                                f"kepatuhan-{b.nib}-{p.label}", "Kepatuhan",
                                headers={"X-Position": str(position)})
    titles = {r.id: r.title for r in rule_list}
    return ComplianceExplanation(
        nib=b.nib, name=b.name, period=p.label, as_of=instant or deps.now(request),
        position=position,
        obligations=[explanation(r, titles.get(r.regulation_id, "")) for r in results])

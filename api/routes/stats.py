"""Statistics: the partnership funnel (reported → confirmed → documented → real)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api import deps
from api.auth import principal
from api.exports import (
    Column, Format, FORMAT_DESCRIPTION, decode_cursor, encode_cursor, next_page_headers,
    tabular_response, tabular_responses,
)
from api.problems import Problem
from api.schemas.common import REGION_PATTERN, Day
from api.schemas.stats import FunnelStats
from domain.access import Principal, Role
from domain.clock import jakarta_date
from domain.errors import Forbidden
from domain.values import region_within
from projections import funnel_cube

router = APIRouter(prefix="/v1/stats", tags=["statistics"])
REGION = REGION_PATTERN
COLUMNS = [Column("key", "Kelompok"), Column("reported", "Dilaporkan"),
           Column("confirmed", "Dikonfirmasi"), Column("documented", "Terdokumentasi"),
           Column("real", "Riil"), Column("real_relationships", "Hubungan riil"),
           Column("large_partners", "Usaha besar"), Column("umkm_partners", "UMKM"),
           Column("agreement_value_idr", "Nilai perjanjian (Rp)"),
           Column("realization_value_idr", "Nilai realisasi (Rp)")]


def current_quarter(today: date) -> tuple[date, date]:
    first = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    after = date(first.year + (first.month == 10), (first.month + 2) % 12 + 1, 1)
    return first, after - timedelta(days=1)


def stats_region(who: Principal, region: str | None) -> str | None:
    """The region the caller may ask about: admin anything; dinas and auditors inside their
    prefix (default: the prefix itself); company and UMKM never (403)."""
    if who.role is Role.ADMIN:
        return region
    if who.role not in (Role.DINAS, Role.AUDITOR) or who.region is None:
        raise Forbidden(f"the {who.role.value} role may not read statistics")
    if region is None:
        return who.region or None
    if not region_within(region, who.region):
        raise Forbidden(f"region {region} lies outside this token's region {who.region}")
    return region


@router.get(
    "/partnerships", response_model=FunnelStats, response_model_by_alias=True,
    responses={**deps.errors(403, 422, 503), **tabular_responses(paged=True)},
    summary="The partnership funnel by pola, program, region or large partner",
    description=(
        "Counts the partnerships whose term overlaps `from`..`to` (default: the current quarter "
        "in Asia/Jakarta) and that touch `region`: reported, confirmed, documented and real, "
        "with distinct relationships and partners and the agreement and realization values of "
        "the real ones. Every group is present, with 0 when empty. `admin` may ask about any "
        "region; `dinas` and `auditor` about their own region prefix (the default) and the "
        "regions inside it — a region outside it answers **403**; `company` and `umkm` "
        "tokens answer 403. `group_by=region` and `large_nib` may have thousands of groups: "
        "with `limit`, the groups come in pages in key order (byte order), each answer giving "
        "`next_cursor` to pass as `cursor` for the next page (null on the last); `totals` are "
        "always the whole answer's (an extension of the contract). A calendar quarter or year "
        "at national, province or kabupaten level may be answered from figures computed in "
        "advance, at most `KEMITRAAN_STATS_MAX_AGE` seconds (default 180) ago, even if a write "
        "has touched the period since: `as_of` and `position` then say exactly what the answer "
        "reflects, and never less than `min_position`."))
def partnership_funnel(
    request: Request, who: Principal = Depends(principal),
    region: Annotated[str | None, Query(pattern=REGION)] = None,
    date_from: Annotated[Day | None, Query(alias="from")] = None,
    date_to: Annotated[Day | None, Query(alias="to")] = None,
    group_by: Literal["pola", "program", "region", "large_nib"] = "pola",
    min_position: deps.MinPosition = None,
    format: Annotated[Format, Query(description=FORMAT_DESCRIPTION)] = "json",
    limit: Annotated[int | None, Query(ge=1, le=10_000, description="groups per page "
                                       "(group_by=region or large_nib)")] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="the previous page's "
                                        "next_cursor")] = None,
) -> FunnelStats | Response:
    area = stats_region(who, region)
    if (limit is not None or cursor is not None) and group_by not in funnel_cube.PAGED:
        field = "limit" if limit is not None else "cursor"
        raise Problem(422, f"{field} pages only group_by=region or large_nib",
                      errors=[{"field": field, "message": "only with group_by=region or "
                               "large_nib"}])
    if cursor is not None and limit is None:
        raise Problem(422, "cursor needs limit",
                      errors=[{"field": "cursor", "message": "only together with limit"}])
    after = decode_cursor(cursor) if cursor is not None else None
    now = deps.now(request)
    start, end = current_quarter(jakarta_date(now))
    date_from, date_to = date_from or start, date_to or end
    if date_from > date_to:
        raise Problem(422, "from is after to",
                      errors=[{"field": "from", "message": "must not be after to"}])
    c = deps.container(request)
    position = deps.caught_up(request, min_position)
    next_key = None
    tolerance = deps.funnel_tolerance(request, min_position)
    with c.engine.connect() as conn:
        if limit is None:
            groups, totals, behind = funnel_cube.funnel_stats(
                conn, region=area, date_from=date_from, date_to=date_to, group_by=group_by,
                tolerance=tolerance)
        else:
            groups, totals, next_key, behind = funnel_cube.funnel_page(
                conn, region=area, date_from=date_from, date_to=date_to, group_by=group_by,
                limit=limit, after=after, tolerance=tolerance)
    as_of = now
    if behind is not None:  # cells computed before a later write: the answer is as of them
        position, as_of = behind
    next_cursor = encode_cursor(next_key) if next_key is not None else None
    if format != "json":
        rows = [*groups, {"key": "total", **totals}]
        stem = f"funnel-{group_by}-{area or 'nasional'}-{date_from}-{date_to}"
        return tabular_response(format, COLUMNS, rows, stem, "Funnel kemitraan",
                                headers=next_page_headers(request, next_cursor, position))
    # Serialised here: a national `large_nib` answer has 13,000 groups at 1 M partnerships,
    # and as a model FastAPI would validate and dump every one of them twice, then encode
    # 2.7 MB with the json module, which cost more than the query (docs/benchmarks.md). The
    # envelope goes through the model; the groups are the view's plain dicts (the fields of
    # FunnelGroup: a key and int figures), encoded by orjson.
    answer = FunnelStats(from_=date_from, to=date_to, as_of=as_of, position=position,
                         group_by=group_by, region=area, groups=[], totals=totals,
                         next_cursor=next_cursor).model_dump(mode="json", by_alias=True)
    answer["groups"] = groups
    try:
        body = orjson.dumps(answer)
    except orjson.JSONEncodeError:  # a sum beyond 64 bits: the json module has no limit
        body = json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, media_type="application/json")


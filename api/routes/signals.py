"""Signals in the statistics: naik kelas counts and evidence files reused across partnerships.

Both read projections (`projections.scale_upgrades`, `projections.evidence_reuse`) and answer
JSON, CSV or XLSX (`format`). Who may read them (contract: Principals and scopes): an admin
everything; a dinas or an auditor its region prefix (a national auditor everything), where a
`region` outside that prefix is 403 and no `region` means the whole prefix; companies and UMKM
never (403).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api import deps, exports
from api.auth import principal
from api.problems import Problem
from api.schemas import Day, Instant
from api.schemas.common import REGION_PATTERN
from domain.access import Principal, Role
from domain.clock import jakarta_date
from domain.errors import Forbidden
from domain.values import region_within
from projections import evidence_reuse, scale_upgrades

router = APIRouter(prefix="/v1/stats", tags=["statistics"])

REGION = REGION_PATTERN
RegionQuery = Annotated[str | None, Query(
    pattern=REGION, description="a Kemendagri region prefix, e.g. 32.16; default: the "
                                "caller's whole scope")]
MinPosition = deps.MinPosition
FormatQuery = Annotated[exports.Format, Query(description=exports.FORMAT_DESCRIPTION)]


# ---- wire models ------------------------------------------------------------------------------

class ScaleUpgradeCount(BaseModel):
    from_scale: str
    to_scale: str
    count: int


class ScaleUpgrades(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    region: str = Field(description="the region prefix counted (\"\" = national)")
    as_of: Instant
    position: int
    items: list[ScaleUpgradeCount] = Field(
        description="every upward pair (mikro→kecil ... menengah→besar), 0 when none")
    total: int


class ReusePartnership(BaseModel):
    id: str
    large_nib: str
    umkm_nib: str
    title: str


class ReuseSubmission(BaseModel):
    evidence_id: str
    partnership_id: str
    kind: str
    submitted_by: str = Field(description="the principal id of the submitter")
    submitter_role: str
    submitted_at: Instant = Field(description="when the submission was recorded")
    effective_date: date


class ReusedFile(BaseModel):
    sha256: str
    partnership_count: int = Field(description="distinct partnerships in scope that used it")
    submission_count: int
    partnerships: list[ReusePartnership]
    submissions: list[ReuseSubmission]


class EvidenceReusePage(BaseModel):
    region: str = Field(description="the region prefix searched (\"\" = national)")
    as_of: Instant
    position: int
    items: list[ReusedFile]
    next_cursor: str | None


# ---- shared -----------------------------------------------------------------------------------

def stats_region(who: Principal, region: str | None) -> str:
    """The region prefix a statistics read covers for this caller ("" = national)."""
    if who.role is Role.ADMIN:
        return region or ""
    if who.role not in (Role.DINAS, Role.AUDITOR) or who.region is None:
        raise Forbidden(f"the {who.role.value} role may not read statistics")
    if region is None:
        return who.region
    if not region_within(region, who.region):
        raise Forbidden(f"region {region} lies outside your scope ({who.region or 'national'})")
    return region


# ---- naik kelas ------------------------------------------------------------------------------

SCALE_COLUMNS = [exports.Column("from_scale", "Dari skala"),
                 exports.Column("to_scale", "Ke skala"),
                 exports.Column("count", "Jumlah naik kelas")]


@router.get("/scale-upgrades", response_model=ScaleUpgrades,
            responses={**deps.errors(403, 422, 503), **exports.tabular_responses()},
            summary="Naik kelas counts by from_scale/to_scale")
def scale_upgrades_stats(
    request: Request, who: Principal = Depends(principal), region: RegionQuery = None,
    date_from: Annotated[Day | None, Query(alias="from", description="first effective date "
                                           "counted; default: 1 January of `to`'s year")] = None,
    date_to: Annotated[Day | None, Query(alias="to", description="last effective date "
                                         "counted; default: today (Asia/Jakarta)")] = None,
    format: FormatQuery = "json", min_position: MinPosition = None,
) -> ScaleUpgrades | Response:
    """Scale changes up the order mikro < kecil < menengah < besar, of businesses registered in
    the region, counted by effective date in [from, to]. Every upward pair is listed, 0 when
    there was none. As CSV/XLSX: one row per pair (`from_scale, to_scale, count`)."""
    scope = stats_region(who, region)
    now = deps.now(request)
    last = date_to or jakarta_date(now)
    first = date_from or date(last.year, 1, 1)
    if first > last:
        raise Problem(422, "from must not be after to",
                      errors=[{"field": "from", "message": f"{first} is after to ({last})"}])
    position = deps.caught_up(request, min_position)
    with deps.container(request).engine.connect() as conn:
        items = scale_upgrades.counts(conn, scope, first, last)
    if format != "json":
        stem = f"naik-kelas-{scope or 'nasional'}-{first}-{last}"
        return exports.tabular_response(format, SCALE_COLUMNS, items, stem, "Naik kelas",
                                        headers=exports.next_page_headers(request, None,
                                                                          position))
    return ScaleUpgrades(from_=first, to=last, region=scope, as_of=now, position=position,
                         items=items, total=sum(i["count"] for i in items))


# ---- evidence reuse --------------------------------------------------------------------------

REUSE_COLUMNS = [exports.Column(key, header) for key, header in (
    ("sha256", "SHA-256 berkas"), ("partnership_count", "Jumlah kemitraan"),
    ("submission_count", "Jumlah pengiriman"), ("evidence_id", "ID bukti"),
    ("kind", "Jenis bukti"), ("partnership_id", "ID kemitraan"),
    ("large_nib", "NIB usaha besar"), ("umkm_nib", "NIB UMKM"), ("title", "Judul kemitraan"),
    ("submitted_by", "Pengirim"), ("submitter_role", "Peran pengirim"),
    ("submitted_at", "Dicatat pada"), ("effective_date", "Tanggal efektif"))]


def _reuse_rows(files: list[dict]) -> list[dict]:  # type: ignore[type-arg]
    """One row per submission, with its file's and its partnership's fields."""
    rows = []
    for f in files:
        by_id = {p["id"]: p for p in f["partnerships"]}
        for s in f["submissions"]:
            p = by_id[s["partnership_id"]]
            rows.append({"sha256": f["sha256"], "partnership_count": f["partnership_count"],
                         "submission_count": f["submission_count"], **s,
                         "large_nib": p["large_nib"], "umkm_nib": p["umkm_nib"],
                         "title": p["title"]})
    return rows


@router.get("/evidence-reuse", response_model=EvidenceReusePage,
            responses={**deps.errors(403, 422, 503), **exports.tabular_responses(paged=True)},
            summary="Evidence files submitted for more than one partnership")
def evidence_reuse_stats(
    request: Request, who: Principal = Depends(principal), region: RegionQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="files per page")] = 100,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9a-f]{64}$",
                                        description="next_cursor of the previous page")] = None,
    format: FormatQuery = "json", min_position: MinPosition = None,
) -> EvidenceReusePage | Response:
    """Files (by sha256) submitted as evidence for at least two distinct partnerships touching
    the region, with those partnerships and every submission of the file to them: the classic
    sign of staged evidence. Ordered by sha256. Partnerships outside the region are neither
    shown nor counted. As CSV/XLSX: one row per submission, with its file's and partnership's
    fields; the next page's cursor is in `X-Next-Cursor` and `Link`."""
    scope = stats_region(who, region)
    position = deps.caught_up(request, min_position)
    now = deps.now(request)
    with deps.container(request).engine.connect() as conn:
        files, next_sha = evidence_reuse.reused(conn, region=scope, limit=limit,
                                                after_sha256=cursor)
    if format != "json":
        return exports.tabular_response(
            format, REUSE_COLUMNS, _reuse_rows(files), f"bukti-ganda-{scope or 'nasional'}",
            "Bukti ganda", headers=exports.next_page_headers(request, next_sha, position))
    return EvidenceReusePage(region=scope, as_of=now, position=position, items=files,
                             next_cursor=next_sha)

"""Spreadsheet import of partnerships: the template, and the upload (dry run or for real)."""

from __future__ import annotations

from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel

from api import deps, imports
from api.auth import principal
from api.exports import CSV_MEDIA, XLSX_MEDIA
from api.problems import Problem
from domain.access import Principal, require_role

router = APIRouter(prefix="/v1/imports", tags=["imports"])
log = structlog.get_logger("kemitraan.api")


class CellError(BaseModel):
    column: str
    message: str


class RejectedRow(BaseModel):
    row: int
    errors: list[CellError]


class ImportAnswer(BaseModel):
    rows: int
    accepted: int
    unchanged: int
    rejected: list[RejectedRow]
    created: list[str]
    dry_run: bool
    position: int | None


@router.get("/partnerships/template", response_class=Response,
            responses={200: {"description": "The import template: a header row, and in XLSX an "
                                            "explanation sheet (Penjelasan)",
                             "content": {CSV_MEDIA: {"schema": {"type": "string"}},
                                         XLSX_MEDIA: {"schema": {"type": "string",
                                                                 "format": "binary"}}}},
                       **deps.errors(422)})
def import_template(who: Principal = Depends(principal),
                    format: Literal["xlsx", "csv"] = Query("xlsx")) -> Response:
    if format == "csv":
        body, media = imports.template_csv(), f"{CSV_MEDIA}; charset=utf-8"
    else:
        body, media = imports.template_xlsx(), XLSX_MEDIA
    return Response(body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="template-impor-kemitraan.{format}"'})


@router.post("/partnerships", response_model=ImportAnswer,
             responses=deps.errors(400, 403, 413, 415, 422),
             summary="Import partnerships from a CSV or XLSX file",
             description=(
                 "One row per partnership, keyed by (`large_nib`, `external_ref`): importing the "
                 "same file again creates nothing (`unchanged`). Every row is checked like "
                 "`POST /v1/partnerships`, in the caller's scope; a rejected row changes nothing "
                 "and is listed with its spreadsheet row number (the header is row 1), column "
                 "and message, while the other rows still go in. `dry_run=true` checks and "
                 "counts without recording (`created` then lists the ids the rows would get)."))
def import_partnerships(
    request: Request,
    file: Annotated[UploadFile, File(description=".csv or .xlsx with the template's header")],
    dry_run_form: Annotated[bool | None, Form(alias="dry_run")] = None,
    dry_run_query: Annotated[bool | None, Query(
        alias="dry_run", description="the same as the form field `dry_run` (either may be "
                                     "given; both must then agree)")] = None,
    who: Principal = Depends(principal),
) -> ImportAnswer:
    require_role(who, "partnership.propose")  # 403 before reading a byte of the file
    # `?dry_run=true` on the URL used to be ignored and the file imported for real: a caller
    # who asked for a dry run, either way, must never get a write.
    if None not in (dry_run_form, dry_run_query) and dry_run_form != dry_run_query:
        raise Problem(422, "dry_run differs between the URL and the form", errors=[
            {"field": "dry_run", "message": "the URL and the form disagree"}])
    dry_run = bool(dry_run_form or dry_run_query)
    c = deps.container(request)
    limit = c.settings.max_upload_bytes
    content = file.file.read(limit + 1)
    upload = imports.read_upload(content, file.filename, limit)
    result = imports.run_import(c, who, deps.now(request), upload, dry_run=dry_run)
    log.info("partnership.import", rows=result.rows, accepted=result.accepted,
             unchanged=result.unchanged, rejected=len(result.rejected), dry_run=dry_run,
             position=result.position, principal=who.id, role=who.role.value)
    return ImportAnswer.model_validate(imports.result_body(result, dry_run))

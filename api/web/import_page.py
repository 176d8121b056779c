"""The import page: template downloads, upload with a dry run, each rejected row shown."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from api import deps, imports
from api.exports import CSV_MEDIA, XLSX_MEDIA
from api.problems import Problem
from api.web.common import guard, guard_form, render

router = APIRouter(include_in_schema=False)


@router.get("/impor")
def import_page(request: Request) -> Response:
    page = guard(request, "impor")
    if isinstance(page, Response):
        return page
    return render(request, "impor.html", page, active="impor", columns=imports.EXPLANATION)


@router.get("/impor/template.{ext}")
def template(request: Request, ext: str) -> Response:
    page = guard(request, "impor")
    if isinstance(page, Response):
        return page
    if ext == "csv":
        body, media = imports.template_csv(), f"{CSV_MEDIA}; charset=utf-8"
    elif ext == "xlsx":
        body, media = imports.template_xlsx(), XLSX_MEDIA
    else:
        return Response(status_code=404)
    return Response(body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="template-impor-kemitraan.{ext}"'})


@router.post("/impor")
def upload(request: Request, csrf: Annotated[str, Form(max_length=200)],
           file: Annotated[UploadFile, File()],
           uji: Annotated[str, Form(max_length=10)] = "") -> Response:
    page = guard_form(request, "impor", csrf)
    if isinstance(page, Response):
        return page
    c = deps.container(request)
    dry_run = uji == "ya"
    limit = c.settings.max_upload_bytes
    try:
        parsed = imports.read_upload(file.file.read(limit + 1), file.filename, limit)
        result = imports.run_import(c, page, deps.now(request), parsed, dry_run=dry_run)
    except Problem as e:
        return render(request, "impor.html", page, active="impor", status=e.status,
                      columns=imports.EXPLANATION, galat=e.detail, errors=e.errors or [])
    return render(request, "impor.html", page, active="impor", columns=imports.EXPLANATION,
                  hasil=imports.result_body(result, dry_run), filename=file.filename)

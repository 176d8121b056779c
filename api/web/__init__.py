"""The dashboard at `/`: server-rendered pages in Bahasa Indonesia (ADR 0017)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.staticfiles import StaticFiles

from api.web import import_page, oversight, pages, review, tokens_page
from api.web.common import HERE, invalid_request, missing_page

router = APIRouter(include_in_schema=False)
for module in (pages, review, import_page, oversight, tokens_page):
    router.include_router(module.router)

static = StaticFiles(directory=str(HERE / "static"))
__all__ = ["invalid_request", "missing_page", "router", "static"]

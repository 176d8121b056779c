"""What every page shares: the templates, the menu each role sees, and the page guards."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api import deps
from api.web import format as fmt
from api.web import pesan
from api.web.session import COOKIE, check_csrf, csrf_token, shown_message, web_principal
from domain.access import Principal, Role
from domain.values import REGION_PATTERN
from projections.compliance_facts import business_names as _names

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters.update(fmt.FILTERS)
templates.env.filters["terjemah"] = pesan.indonesian
templates.env.globals["persen"] = fmt.persen
templates.env.globals["rentang"] = fmt.rentang
# the region inputs' `pattern` attribute (the browser anchors it itself): the API's own pattern
templates.env.globals["pola_wilayah"] = REGION_PATTERN.removeprefix("^").removesuffix("$")

_READERS = frozenset(Role)
# page -> (menu label, path, roles that see it). A page a role may not see is not in its menu
# and its URL answers 404 (contract: no existence leaks).
PAGES: dict[str, tuple[str, str, frozenset[Role]]] = {
    "ringkasan": ("Ringkasan wilayah", "/", frozenset({Role.ADMIN, Role.DINAS, Role.AUDITOR})),
    "kemitraan": ("Daftar kemitraan", "/kemitraan", _READERS),
    "bukti": ("Antrean bukti", "/bukti", frozenset({Role.ADMIN, Role.DINAS})),
    "kepatuhan": ("Kepatuhan", "/kepatuhan", frozenset({Role.ADMIN, Role.DINAS, Role.AUDITOR,
                                                         Role.COMPANY})),
    "audit": ("Audit", "/audit", frozenset({Role.ADMIN, Role.DINAS, Role.AUDITOR})),
    "impor": ("Impor", "/impor", frozenset({Role.ADMIN, Role.COMPANY})),
    "token": ("Token akses", "/token", frozenset({Role.ADMIN})),
}
ROLE_NAMES = {Role.ADMIN: "Admin", Role.DINAS: "Dinas", Role.AUDITOR: "Auditor",
              Role.COMPANY: "Perusahaan", Role.UMKM: "UMKM"}
# Pages built only when the modules they read exist (see ADR 0017).
AVAILABLE: set[str] = {"ringkasan", "kemitraan", "bukti", "impor", "kepatuhan", "audit",
                       "token"}


def may_see(who: Principal, page: str) -> bool:
    return page in AVAILABLE and who.role in PAGES[page][2]


def menu(who: Principal) -> list[tuple[str, str, str]]:
    return [(key, label, path) for key, (label, path, _) in PAGES.items() if may_see(who, key)]


def sign_in_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/masuk?lanjut={quote(target, safe='')}", status_code=303)


def guard(request: Request, page: str) -> Principal | Response:
    """The signed-in caller allowed on `page`, or the answer instead: sign-in (303) or 404."""
    who = web_principal(request)
    if who is None:
        return sign_in_redirect(request)
    if not may_see(who, page):
        return not_found(request, who)
    return who


def guard_form(request: Request, page: str, csrf: str) -> Principal | Response:
    """`guard` for a form posted from `page`, and its CSRF token checked (403 when wrong)."""
    who = guard(request, page)
    if isinstance(who, Response):
        return who
    if not check_csrf(request, csrf):
        return Response("CSRF token salah", status_code=403)
    return who


def render(request: Request, name: str, who: Principal | None, *, status: int = 200,
           active: str = "", **context: Any) -> HTMLResponse:
    secret = request.cookies.get(COOKIE)
    response = templates.TemplateResponse(request, name, {
        "who": who, "role_name": ROLE_NAMES.get(who.role) if who else None,
        "menu": menu(who) if who else [], "active": active,
        "csrf": csrf_token(secret) if (who and secret) else "",
        "pesan": shown_message(request), **context}, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'")
    return response


def not_found(request: Request, who: Principal | None) -> HTMLResponse:
    return render(request, "404.html", who, status=404)


def missing_page(request: Request) -> HTMLResponse:
    """A dashboard URL that names no page (or a method a page does not take): the 404 page,
    as for a page the caller may not see, not the API's problem+json in English."""
    return not_found(request, web_principal(request))


def invalid_request(request: Request, fields: list[str]) -> HTMLResponse:
    """A page's answer to a parameter or form field it cannot use (`tahun=abc`): 422 as an
    HTML page in Bahasa Indonesia, naming the fields, instead of the API's problem+json."""
    return render(request, "422.html", web_principal(request), status=422,
                  fields=sorted(set(fields)))


def unavailable(request: Request, who: Principal, *, title: str, reason: str,
                retry_after: str | None, active: str = "") -> HTMLResponse:
    """A page that cannot be shown yet (503) as an HTML page in Bahasa Indonesia, with the
    API's Retry-After, instead of the API's problem+json in English."""
    response = render(request, "503.html", who, status=503, active=active, title=title,
                      reason=reason, retry_after=retry_after)
    if retry_after:
        response.headers["Retry-After"] = retry_after
    return response


def business_names(request: Request, nibs: Iterable[str]) -> dict[str, str]:
    """The registered names of the businesses a page shows by NIB, in one query for the whole
    page (for the `_usaha.html` macro). Pass only NIBs the viewer may see (the parties of
    partnerships in its scope): outside it a business is as if it did not exist (ADR 0004)."""
    wanted = {n for n in nibs if n}
    if not wanted:
        return {}
    with deps.container(request).engine.connect() as conn:
        return _names(conn, sorted(wanted))


def safe_next(target: str | None) -> str:
    """Only paths on this site (never //host or a scheme): no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target

"""Token akses (admin): who holds which token, issue one (shown once), revoke one.

The same use cases as `POST /v1/tokens`, `DELETE /v1/tokens/{id}` and `GET /v1/tokens`; the list
reads the `access_tokens` view. A new token's secret is shown once, on the answer to the form
that issued it, and never stored (only its hash is)."""

from __future__ import annotations

import re
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from api import deps
from api.auth import new_secret, secret_hash
from api.logs import command_done
from api.web import pesan
from api.web.common import ROLE_NAMES, guard, guard_form, not_found, render
from api.web.session import message_url
from domain.access import Principal
from domain.errors import DomainError, InvalidValue, NotFound
from projections import access_tokens

router = APIRouter(include_in_schema=False)

ROLES = {role.value: label for role, label in ROLE_NAMES.items()}
FIELDS = {"role": "Peran", "region": "Wilayah", "nibs": "NIB", "name": "Nama"}


def _page(request: Request, who: Principal, *, semua: bool, status: int = 200,
          posisi: int | None = None, **context: object) -> Response:
    """`posisi`: a write's position, which the list waits for (a few seconds at most) when the
    views are folded in the background, so that it shows what was just issued or revoked."""
    c = deps.container(request)
    c.views.read_position(posisi)
    with c.engine.connect() as conn:
        rows = access_tokens.every(conn, include_revoked=semua)
    return render(request, "token.html", who, status=status, active="token", tokens=rows,
                  roles=ROLES, semua=semua, **context)


@router.get("/token")
def tokens(request: Request, semua: Annotated[bool, Query()] = False,
           posisi: Annotated[int | None, Query(ge=0, le=2**62)] = None) -> Response:
    who = guard(request, "token")
    if isinstance(who, Response):
        return who
    return _page(request, who, semua=semua, posisi=posisi)


@router.post("/token")
def issue(request: Request, csrf: Annotated[str, Form(max_length=200)],
          peran: Annotated[str, Form(max_length=20)],
          wilayah: Annotated[str, Form(max_length=20)] = "",
          nib: Annotated[str, Form(max_length=2000)] = "",
          nama: Annotated[str, Form(max_length=200)] = "") -> Response:
    who = guard_form(request, "token", csrf)
    if isinstance(who, Response):
        return who
    c = deps.container(request)
    secret = new_secret()
    try:
        w = c.ledger.issue_token(who, deps.now(request), secret_sha256_hex=secret_hash(secret),
                                 role=peran, region=wilayah.strip() or None,
                                 nibs=[n for n in re.split(r"[\s,;]+", nib) if n],
                                 name=nama.strip())
    except InvalidValue as e:
        errors = [f"{FIELDS.get(x.field, x.field)}: {pesan.indonesian(x.message)}"
                  for x in e.errors]
        return _page(request, who, semua=False, status=422, gagal=errors,
                     isian={"peran": peran, "wilayah": wilayah, "nib": nib, "nama": nama})
    except DomainError as e:  # not expected once the guard let an admin in
        return _page(request, who, semua=False, status=409, gagal=[pesan.indonesian(e.detail)])
    command_done(request, "token.issue", w)
    return _page(request, who, semua=False, posisi=w.position,
                 baru={"id": str(w.id), "token": secret, "peran": ROLES.get(peran, peran),
                       "nama": nama.strip()})


@router.post("/token/cabut")
def revoke(request: Request, csrf: Annotated[str, Form(max_length=200)],
           token_id: Annotated[str, Form(max_length=40)]) -> Response:
    who = guard_form(request, "token", csrf)
    if isinstance(who, Response):
        return who
    c = deps.container(request)
    try:
        w = c.ledger.revoke_token(who, deps.now(request), UUID(token_id), reason=None)
    except (ValueError, NotFound):
        return not_found(request, who)
    except DomainError as e:
        message = "Gagal: " + pesan.indonesian(e.detail)
    else:
        request.app.state.principals.forget(str(w.id))
        command_done(request, "token.revoke", w)
        message = "Token dicabut: permintaan dengan token itu kini ditolak."
        return RedirectResponse(message_url(request, "/token", message, posisi=w.position),
                                status_code=303)
    return RedirectResponse(message_url(request, "/token", message), status_code=303)

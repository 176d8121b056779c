"""The evidence review queue: open the file, verify it or reject it with a reason (dinas)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl
from uuid import UUID

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from api import deps
from api.logs import command_done
from api.problems import Problem
from api.routes.evidence import serve_evidence
from api.web import pesan
from api.web.common import business_names, guard, guard_form, not_found, render, safe_next
from api.web.pages import NAMES
from api.web.session import message_url, web_principal
from api.web.common import sign_in_redirect
from domain.access import partnership_scope_filter
from domain.errors import DomainError, NotFound
from projections import review_queue

router = APIRouter(include_in_schema=False)


PAGE_SIZE = 50  # files per page of the queue
COUNTED = 1000  # the waiting files counted at most ("more than 1.000" beyond)


@router.get("/bukti")
def queue(request: Request,
          posisi: Annotated[int | None, Query(ge=0, le=2**62)] = None,
          setelah: Annotated[int | None, Query(ge=0, le=2**62)] = None) -> Response:
    """`posisi`: a review just made, which the queue waits for (a few seconds at most) when
    the views are folded in the background, so that the reviewed file is gone from it.
    `setelah`: the next page, after the file submitted at that log position (a cursor, not an
    offset: files reviewed or submitted meanwhile move no other file to another page)."""
    page = guard(request, "bukti")
    if isinstance(page, Response):
        return page
    c = deps.container(request)
    c.views.read_position(posisi)
    scope = partnership_scope_filter(page)
    with c.engine.connect() as conn:
        items, next_seq = review_queue.pending(conn, scope=scope, limit=PAGE_SIZE,
                                               after_seq=setelah)
        total = review_queue.count(conn, scope=scope, cap=COUNTED)
    # the parties of partnerships in the caller's scope: their names may be shown
    nama = business_names(request, [n for i in items for n in (i["large_nib"], i["umkm_nib"])])
    here = "/bukti" if setelah is None else f"/bukti?setelah={setelah}"
    return render(request, "bukti.html", page, active="bukti", items=items, names=NAMES,
                  nama=nama, next_seq=next_seq, total=total, counted=COUNTED,
                  setelah=setelah, kembali=here)


@router.get("/bukti/{evidence_id}/berkas")
def evidence_file(request: Request, evidence_id: str) -> Response:
    """The file itself, to whoever may read its partnership (the API's own check)."""
    who = web_principal(request)
    if who is None:
        return sign_in_redirect(request)
    try:
        return serve_evidence(evidence_id, request, who, inline=True)
    except (Problem, NotFound):
        return not_found(request, who)


@router.post("/bukti/tinjau")
def review(request: Request, csrf: Annotated[str, Form(max_length=200)],
           partnership_id: Annotated[str, Form(max_length=40)],
           evidence_id: Annotated[str, Form(max_length=40)],
           keputusan: Annotated[str, Form(max_length=20)],
           alasan: Annotated[str, Form(max_length=2000)] = "",
           kembali: Annotated[str, Form(max_length=2000)] = "/bukti") -> Response:
    page = guard_form(request, "bukti", csrf)
    if isinstance(page, Response):
        return page
    c = deps.container(request)
    position = None
    if keputusan == "verified" and alasan.strip():
        # Only the rejection's form carries a reason: a reason with "verified" is a form
        # filled by hand or an old page, and verifying cannot be undone.
        message = "Gagal: alasan hanya untuk menolak; bukti tidak diverifikasi"
    elif keputusan == "rejected" and not alasan.strip():
        # The API takes a rejection without a reason (contract: reason?); this page asks for
        # one, so that the company learns what to fix.
        message = "Gagal: alasan wajib diisi bila menolak bukti"
    else:
        try:
            written = c.ledger.review_evidence(page, deps.now(request), UUID(partnership_id),
                                     evidence_id=evidence_id, decision=keputusan,
                                     reason=alasan.strip() or None, effective_date=None,
                                     expected_version=None)
        except (ValueError, NotFound):
            return not_found(request, page)
        except DomainError as e:
            message = "Gagal: " + pesan.indonesian(e.detail)
        else:
            message = ("Bukti diverifikasi." if keputusan == "verified"
                       else "Bukti ditolak dengan alasan tercatat.")
            position = written.position
            command_done(request, "partnership.review_evidence", written)
    path, _, query = safe_next(kembali).partition("?")
    kept = {k: v for k, v in parse_qsl(query) if k not in ("pesan", "tanda", "posisi")}
    if position is not None and path == "/bukti":
        kept["posisi"] = str(position)
    return RedirectResponse(message_url(request, path, message, **kept), status_code=303)



"""Compliance and audit pages: thin callers of the API route functions (api/routes/compliance.py,
api/routes/audit.py), so a page shows exactly what the API answers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.compliance_report import REASON_ID
from api.problems import Problem
from api.routes import audit as audit_routes
from api.routes import compliance as compliance_routes
from api.web.common import business_names, guard, not_found, render, unavailable
from domain.errors import DomainError
from projections.merkle import verify_inclusion

router = APIRouter(include_in_schema=False)
STATUS = {"compliant": "Patuh", "non_compliant": "Tidak patuh"}


@router.get("/kepatuhan")
def compliance(request: Request,
               periode: Annotated[str | None, Query(max_length=7)] = None,
               nib: Annotated[str | None, Query(pattern=r"^[0-9]{13}$")] = None) -> Response:
    page = guard(request, "kepatuhan")
    if isinstance(page, Response):
        return page
    try:
        listing = compliance_routes.compliance_list(request, page, region=None,
                                                    period=periode or None, regulation=None,
                                                    format="json")
        detail = (compliance_routes.compliance_explain(nib, request, page,
                                                       period=periode or None, as_of=None)
                  if nib else None)
    except (DomainError, Problem) as e:
        if getattr(e, "status", 404) == 422:
            return render(request, "kepatuhan.html", page, active="kepatuhan", status=422,
                          listing=None, detail=None, periode=periode or "",
                          galat=getattr(e, "detail", str(e)), status_names=STATUS,
                          reason_names=REASON_ID)
        return not_found(request, page)
    # the UMKM of the partnerships explained: the business's own, which the caller may read
    nama = business_names(request, [x.umkm_nib for o in (detail.obligations if detail else [])
                                    for x in (*o.counted, *o.left_out)])
    return render(request, "kepatuhan.html", page, active="kepatuhan", listing=listing,
                  detail=detail, periode=periode or listing.period, status_names=STATUS,
                  reason_names=REASON_ID, nama=nama)


@router.get("/audit")
def audit(request: Request,
          seq: Annotated[int | None, Query(ge=1, le=2**62)] = None) -> Response:
    page = guard(request, "audit")
    if isinstance(page, Response):
        return page
    try:
        checkpoint = audit_routes.latest_checkpoint(request, page)
    except audit_routes.NoCheckpointYet as e:  # a server that follows, before the first one
        return unavailable(
            request, page, active="audit", title="Belum ada checkpoint",
            reason="Belum ada checkpoint yang ditandatangani. Checkpoint ditandatangani oleh "
                   "proses yang memperbarui data tampilan (kemitraan project), bukan oleh "
                   "server ini.", retry_after=(e.headers or {}).get("Retry-After"))
    except audit_routes.CannotSign as e:  # a server still holding a retired key
        return unavailable(
            request, page, active="audit", title="Checkpoint tidak dapat ditandatangani",
            reason="Server ini masih memakai kunci audit yang sudah dipensiunkan, sehingga "
                   "tidak dapat menandatangani checkpoint baru. Administrator perlu "
                   "menjalankan ulang server dengan kunci yang berlaku.",
            retry_after=(e.headers or {}).get("Retry-After"))
    check = None
    if seq is not None:
        events = audit_routes.audit_events(request, page, after=seq - 1, limit=1,
                                           evidence_sha256=None, min_position=None)
        event = events.items[0] if events.items and events.items[0].seq == seq else None
        if event is None or event.leaf_index >= checkpoint.tree_size:
            check = {"seq": seq, "found": False}
        else:
            proof = audit_routes.inclusion_proof(request, event.leaf_index,
                                                 checkpoint.tree_size, page)
            ok = verify_inclusion(proof.leaf_index, proof.tree_size,
                                  bytes.fromhex(proof.leaf_hash),
                                  [bytes.fromhex(h) for h in proof.audit_path],
                                  bytes.fromhex(checkpoint.root_hash))
            check = {"seq": seq, "found": True, "event": event, "proof": proof, "ok": ok}
    return render(request, "audit.html", page, active="audit", checkpoint=checkpoint,
                  check=check)

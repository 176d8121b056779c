"""Evidence downloads: the bytes, only to those who may read the partnership."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse

from api import deps
from api.auth import principal
from api.problems import Problem
from domain.access import Principal
from projections.tables import evidence_index

router = APIRouter(prefix="/v1/evidence", tags=["evidence"])
_EXT = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp",
        "text/csv": "csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx"}


def _indexed(c: Any, evidence_id: str) -> Any:
    c.views.read_position(None)
    with c.engine.connect() as conn:
        return conn.execute(sa.select(evidence_index)
                            .where(evidence_index.c.evidence_id == evidence_id)).first()


def indexed(c: Any, evidence_id: str) -> Any:
    """The evidence index's row of a file, or None; a file not (yet) in the index waits up to
    3 s for the views to fold the log's head (it may have been uploaded a moment ago)."""
    row = _indexed(c, evidence_id)
    if row is None:
        head = c.views.head()  # one read of the log's head, for the check and the wait
        if c.views.position() < head:
            c.views.wait_for(head, timeout=3.0)
            row = _indexed(c, evidence_id)
    return row


def partnership_of(c: Any, evidence_id: str) -> UUID | None:
    """Which partnership an evidence file was submitted on, by the index (for the domain's
    checks, which confirm it from the partnership's events)."""
    row = indexed(c, evidence_id)
    return None if row is None else UUID(row.partnership_id)


@router.get("/{evidence_id}/content", response_class=FileResponse,
            responses={200: {"content": {t: {} for t in _EXT}, "description": "The file"},
                       **deps.errors(404)})
def evidence_content(evidence_id: Annotated[str, "evidence id"], request: Request,
                     who: Principal = Depends(principal)) -> FileResponse:
    return serve_evidence(evidence_id, request, who)


# Shown in the browser when opened from the dashboard (a dinas looks at a shelf photo before
# deciding); still sandboxed and never sniffed. PDFs stay downloads: browsers do not run their
# PDF viewer in a sandboxed document. XLSX and CSV are downloaded too.
_VIEWABLE = frozenset({"image/jpeg", "image/png", "image/webp"})


def serve_evidence(evidence_id: str, request: Request, who: Principal,
                   inline: bool = False) -> FileResponse:
    """The file, as an attachment (`inline`: shown in the browser when it is an image, for
    the dashboard)."""
    c = deps.container(request)
    row = indexed(c, evidence_id)
    if row is None:
        raise Problem(404, f"evidence {evidence_id} not found")
    c.ledger.get_partnership(who, UUID(row.partnership_id))  # 404 outside the caller's scope
    if not c.evidence.exists(row.sha256):
        raise Problem(404, f"the file of evidence {evidence_id} is missing from this server")
    shown = inline and row.media_type in _VIEWABLE
    return FileResponse(c.evidence.path(row.sha256), media_type=row.media_type,
                        filename=f"{row.sha256}.{_EXT.get(row.media_type, 'bin')}",
                        content_disposition_type="inline" if shown else "attachment",
                        headers={"X-Content-Type-Options": "nosniff",
                                 "Content-Security-Policy": "sandbox"})

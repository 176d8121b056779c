"""Partnerships: proposal, the whole lifecycle, evidence, realizations, history and time travel."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import (
    APIRouter, Body, Depends, File, Form, Header, Query, Request, Response, UploadFile,
)
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api import audit, deps, exports
from api.auth import principal
from api.calls import run_command
from api.command_lane import Command
from api.logs import command_done
from api.problems import Problem
from api.schemas.common import REGION_PATTERN
from api.schemas import (
    AmendBody, ConfirmBody, DatedReasonBody, Day, EventPage, EvidenceWritten, PartnershipCreate,
    PartnershipPage, PartnershipRead, PartnershipWritten, RealizationCreate, RealizationWritten,
    ReasonBody, ResumeBody, ReviewBody,
)
from api.views import partnership_read, event_read, summary_read
from domain.access import Principal, partnership_scope_filter
from domain.application import Written
from domain.clock import jakarta_date
from domain.values import Pola
from projections import partnership_list

router = APIRouter(prefix="/v1/partnerships", tags=["partnerships"])

# The list's columns as files: exactly the fields of a JSON item, in their order.
LIST_COLUMNS = [exports.Column(key, header) for key, header in (
    ("id", "ID kemitraan"), ("large_nib", "NIB usaha besar"), ("umkm_nib", "NIB UMKM"),
    ("pola", "Pola kemitraan"), ("program", "Program"), ("title", "Judul"),
    ("status", "Status"), ("start_date", "Tanggal mulai"), ("end_date", "Tanggal berakhir"),
    ("value_idr", "Nilai kontrak (Rp)"), ("location_region_code", "Kode wilayah lokasi"),
    ("version", "Versi"))]
PID = Annotated[str, "the partnership id"]


def _done(request: Request, response: Response, command: str, w: Written) -> Written:
    command_done(request, command, w)
    deps.set_etag(response, w.version)
    return w


@router.post("", status_code=201, response_model=PartnershipWritten,
             responses={200: {"model": PartnershipWritten,
                              "description": "A repeat of an earlier request with the same "
                                             "Idempotency-Key and body"},
                        **deps.errors(400, 403, 409, 422)})
async def propose(body: PartnershipCreate, request: Request, response: Response,
                  who: Principal = Depends(principal),
                  idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)]
                  = None,
                  ) -> PartnershipWritten:
    return await _propose(request, response, body, who, idempotency_key)


async def _propose(request: Request, response: Response, body: PartnershipCreate,
                   who: Principal, idempotency_key: str | None) -> PartnershipWritten:
    """The route's work, shared with the command lane (api/command_lane.py)."""
    c = deps.container(request)

    w = await run_command(request, c.ledger.propose_partnership, who, deps.now(request),
                          uuid.uuid4(), idempotency_key=idempotency_key, **body.model_dump())
    # A repeat answers the position of the first write: a read of the log, in the threadpool.
    position = (await run_in_threadpool(c.event_log.position_of, w.id, 1) if w.repeat
                else w.position)
    _done(request, response, "partnership.propose", w)
    if w.repeat:
        response.status_code = 200
    return PartnershipWritten(id=str(w.id), status=w.status or "", version=w.version,
                              position=position)


def _real_period(real_from: Any, real_to: Any) -> Any:
    """`real_from` and `real_to` go together (the real_partnerships view), in order."""
    if (real_from is None) != (real_to is None):
        missing, other = ("real_to", "real_from") if real_to is None else ("real_from", "real_to")
        raise Problem(422, f"{missing} is required with {other}",
                      errors=[{"field": missing, "message": f"is required with {other}"}])
    if real_from is not None and real_from > real_to:
        raise Problem(422, "real_from is after real_to",
                      errors=[{"field": "real_from", "message": "must not be after real_to"}])
    return (real_from, real_to) if real_from is not None else None


@router.get("", response_model=PartnershipPage,
            responses={**deps.errors(422, 503), **exports.tabular_responses(paged=True)})
def list_partnerships(
    request: Request, who: Principal = Depends(principal),
    region: Annotated[str | None, Query(pattern=REGION_PATTERN)] = None,
    pola: Pola | None = None,
    program: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[str | None, Query(pattern="^(proposed|active|suspended|declined|"
                                                "withdrawn|terminated|expired)$")] = None,
    large_nib: Annotated[str | None, Query(pattern=r"^[0-9]{13}$")] = None,
    umkm_nib: Annotated[str | None, Query(pattern=r"^[0-9]{13}$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
    min_position: deps.MinPosition = None,
    format: Annotated[exports.Format, Query(description=exports.FORMAT_DESCRIPTION)] = "json",
    real_from: Annotated[Day | None, Query(description="with real_to: only partnerships "
                                           "real in this period")] = None,
    real_to: Annotated[Day | None, Query(description="with real_from")] = None,
) -> PartnershipPage | Response:
    real_between = _real_period(real_from, real_to)
    c = deps.container(request)
    after = None
    if cursor is not None:
        after = int(exports.decode_cursor(cursor, digits=True))
    position = deps.caught_up(request, min_position)
    now = deps.now(request)
    today = jakarta_date(now)
    with c.engine.connect() as conn:
        rows, next_seq = partnership_list.query(
            conn, scope=partnership_scope_filter(who), today=today, limit=limit,
            after_seq=after, region=region, pola=pola.value if pola else None, program=program,
            status=status, large_nib=large_nib, umkm_nib=umkm_nib, real_between=real_between)
    items = [summary_read(r, today) for r in rows]
    next_cursor = exports.encode_cursor(str(next_seq)) if next_seq is not None else None
    if format != "json":
        # The same page as the JSON (limit, cursor): the next cursor travels in headers.
        return exports.tabular_response(
            format, LIST_COLUMNS, [i.model_dump() for i in items], "kemitraan", "Kemitraan",
            headers=exports.next_page_headers(request, next_cursor, position))
    return PartnershipPage(items=items, position=position, as_of=now, next_cursor=next_cursor)


@router.get("/{pid}", response_model=PartnershipRead, responses=deps.errors(404, 422))
def get_partnership(pid: PID, request: Request, response: Response,
                    who: Principal = Depends(principal),
                    as_of: Annotated[str | None, Query(description="RFC 3339 instant")] = None,
                    version: Annotated[int | None, Query(ge=1, le=10**9)] = None,
                    ) -> PartnershipRead:
    if as_of is not None and version is not None:
        raise Problem(422, "give as_of or version, not both",
                      errors=[{"field": "version", "message": "cannot be combined with as_of"}])
    instant = deps.parse_instant(as_of, "as_of")
    p = deps.container(request).ledger.get_partnership(
        who, deps.parse_uuid(pid, "partnership"), version=version, as_of=instant)
    deps.set_etag(response, p.version)
    read = partnership_read(p, jakarta_date(deps.now(request)))
    logged = audit.evidence_leaves(deps.container(request), str(p.id))  # evidence receipts
    for item in read.evidence:
        item.leaf_index = logged.get(item.evidence_id)
    return read


EVENT_COLUMNS = [exports.Column(key, header) for key, header in (
    ("seq", "Nomor urut (seq)"), ("version", "Versi"), ("type", "Jenis peristiwa"),
    ("recorded_at", "Dicatat pada"), ("actor_principal_id", "ID pelaku"),
    ("actor_role", "Peran pelaku"), ("data", "Data (JSON)"))]


@router.get("/{pid}/events", response_model=EventPage,
            responses={**deps.errors(404, 422), **exports.tabular_responses(
                "The JSON answer, or the same events as CSV or XLSX with `format=csv|xlsx` "
                "(the actor in two columns, `data` as JSON text)")})
def partnership_events(
    pid: PID, request: Request, who: Principal = Depends(principal),
    format: Annotated[exports.Format, Query(description=exports.FORMAT_DESCRIPTION)] = "json",
) -> EventPage | Response:
    c = deps.container(request)
    agg_id = deps.parse_uuid(pid, "partnership")
    events = c.ledger.partnership_events(who, agg_id)
    seqs = c.event_log.positions(agg_id)
    items = [event_read(e, seqs[e.originator_version]) for e in events]
    if format != "json":
        return exports.tabular_response(format, EVENT_COLUMNS,
                                        [exports.event_row(e) for e in items],
                                        f"riwayat-{agg_id}", "Riwayat")
    return EventPage(items=items)


def _transition(command: str, method: str, body_model: type | None):
    """One route per lifecycle command: parse the body, call the use case, answer the state."""

    async def handler(request: Request, response: Response, pid: str, body: Any,
                      who: Principal) -> PartnershipWritten:
        c = deps.container(request)
        kwargs = body.model_dump(exclude_unset=(method == "amend")) if body else {}
        if method == "amend":
            effective = kwargs.pop("effective_date", None)
            kwargs = {"changes": kwargs, "effective_date": effective}
        w = await run_command(request, getattr(c.ledger, method), who, deps.now(request),
                              deps.parse_uuid(pid, "partnership"),
                              expected_version=deps.if_match(request), **kwargs)
        _done(request, response, command, w)
        return PartnershipWritten(id=str(w.id), status=w.status or "", version=w.version,
                                  position=w.position)
    return handler


def _register(path: str, command: str, method: str, body_model: type, summary: str) -> None:
    handler = _transition(command, method, body_model)

    async def route(pid: PID, request: Request, response: Response, body: Any = Body(None),
                    who: Principal = Depends(principal)) -> PartnershipWritten:
        if body is None:  # no body at all: fine when every field is optional (confirm)
            try:
                body = body_model()
            except ValidationError as e:
                raise RequestValidationError(e.errors(include_url=False)) from None
        return await handler(request, response, pid, body, who)

    # The annotation is set here because a local class cannot be resolved from a string.
    route.__annotations__["body"] = body_model | None
    route.__name__ = method
    router.add_api_route(f"/{{pid}}/{path}", route, methods=["POST"], summary=summary,
                         response_model=PartnershipWritten,
                         responses=deps.errors(400, 403, 404, 409, 422))
    LANE[path] = Command(body_model, handler)


# The commands the lane takes when they are plainly well formed (ADR 0021), by path segment.
LANE: dict[str, Command] = {"": Command(
    PartnershipCreate, status=201, idempotency_key=True,
    handler=lambda request, response, _pid, body, who: _propose(
        request, response, body, who, request.headers.get("idempotency-key")))}
_register("confirm", "partnership.confirm", "confirm", ConfirmBody,
          "The UMKM party confirms the partnership is real")
_register("decline", "partnership.decline", "decline", ReasonBody,
          "The UMKM party declines a proposed partnership")
_register("withdraw", "partnership.withdraw", "withdraw", ReasonBody,
          "The large party withdraws its proposal")
_register("suspend", "partnership.suspend", "suspend", DatedReasonBody,
          "Suspend an active partnership")
_register("resume", "partnership.resume", "resume", ResumeBody, "Resume a suspended partnership")
_register("terminate", "partnership.terminate", "terminate", DatedReasonBody,
          "Terminate an active or suspended partnership")
_register("amend", "partnership.amend", "amend", AmendBody,
          "Amend end date, value, title or description")


@router.post("/{pid}/evidence", status_code=201, response_model=EvidenceWritten,
             responses=deps.errors(400, 403, 404, 409, 413, 415, 422))
def submit_evidence(
    pid: PID, request: Request, response: Response,
    file: Annotated[UploadFile, File(description="PDF, JPEG, PNG, WebP, XLSX or CSV")],
    kind: Annotated[str, Form(pattern="^(perjanjian|purchase_order|invoice|delivery_note|"
                                      "payment_proof|shelf_photo|mentoring_log|other)$")],
    period_start: Annotated[Day | None, Form()] = None,
    period_end: Annotated[Day | None, Form()] = None,
    description: Annotated[str | None, Form(max_length=2000)] = None,
    effective_date: Annotated[Day | None, Form(description="business date of the submission")] = None,
    who: Principal = Depends(principal),
) -> EvidenceWritten:
    c = deps.container(request)
    agg_id = deps.parse_uuid(pid, "partnership")
    expected = deps.if_match(request)
    # Everything the command would refuse is asked before keeping the bytes: no file for a
    # request that fails (only a concurrent write recorded in between can still refuse it).
    c.ledger.check_evidence(who, agg_id, kind=kind, period_start=period_start,
                            period_end=period_end, description=description,
                            expected_version=expected)
    stored = c.evidence.save(file.file, c.settings.max_upload_bytes)
    evidence_id = str(uuid.uuid4())
    w = c.ledger.submit_evidence(who, deps.now(request), agg_id, evidence_id=evidence_id,
                                 kind=kind, sha256=stored.sha256, size=stored.size,
                                 media_type=stored.media_type, period_start=period_start,
                                 period_end=period_end, description=description,
                                 effective_date=effective_date, expected_version=expected)
    _done(request, response, "partnership.submit_evidence", w)
    return EvidenceWritten(evidence_id=evidence_id, sha256=stored.sha256, size=stored.size,
                           media_type=stored.media_type, version=w.version, position=w.position,
                           leaf_index=audit.leaf_index_of(c, w.position))


@router.post("/{pid}/evidence/{evidence_id}/review", response_model=PartnershipWritten,
             responses=deps.errors(400, 403, 404, 409, 422))
async def review_evidence(pid: PID, evidence_id: Annotated[str, "evidence id"],
                          body: ReviewBody, request: Request, response: Response,
                          who: Principal = Depends(principal)) -> PartnershipWritten:
    c = deps.container(request)
    w = await run_command(request, c.ledger.review_evidence, who, deps.now(request),
                          deps.parse_uuid(pid, "partnership"), evidence_id=evidence_id,
                          decision=body.decision, reason=body.reason,
                          effective_date=body.effective_date,
                          expected_version=deps.if_match(request))
    _done(request, response, "partnership.review_evidence", w)
    return PartnershipWritten(id=str(w.id), status=w.status or "", version=w.version,
                              position=w.position)


@router.post("/{pid}/realizations", status_code=201, response_model=RealizationWritten,
             responses=deps.errors(400, 403, 404, 409, 422))
async def report_realization(pid: PID, body: RealizationCreate, request: Request,
                             response: Response,
                             who: Principal = Depends(principal)) -> RealizationWritten:
    c = deps.container(request)
    realization_id = str(uuid.uuid4())
    w = await run_command(request, c.ledger.report_realization, who, deps.now(request),
                          deps.parse_uuid(pid, "partnership"), realization_id=realization_id,
                          expected_version=deps.if_match(request), **body.model_dump())
    _done(request, response, "partnership.report_realization", w)
    return RealizationWritten(realization_id=realization_id, version=w.version,
                              position=w.position)

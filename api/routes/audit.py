"""The audit log (contract: Audit): events with their leaves, keys, signed checkpoints, proofs.

Readers: admin, auditors and dinas. Events are filtered by the caller's region (ADR 0013);
checkpoints and proofs are global (hashes only).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request, Response

from api import deps, exports
from api.audit import checkpointer, signs
from api.auth import principal
from api.problems import Problem
from api.schemas.audit import (
    AuditEvent, AuditEventPage, AuditKey, Checkpoint, ConsistencyProof, InclusionProof,
)
from domain.access import Principal, Role
from projections import audit_log
from projections.audit_format import record_display
from projections.checkpoints import KeyRetired

router = APIRouter(prefix="/v1/audit", tags=["audit"])

READERS = {Role.ADMIN, Role.AUDITOR, Role.DINAS}


def _reader(who: Principal) -> None:
    if who.role not in READERS:
        raise Problem(403, f"the {who.role.value} role may not read the audit log")


def _instant(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


EVENT_COLUMNS = [exports.Column(key, header) for key, header in (
    ("seq", "Nomor urut (seq)"), ("leaf_index", "Indeks daun"), ("stream_id", "ID aliran"),
    ("version", "Versi"), ("type", "Jenis peristiwa"), ("topic", "Topik"),
    ("recorded_at", "Dicatat pada"), ("actor_principal_id", "ID pelaku"),
    ("actor_role", "Peran pelaku"), ("data", "Data (JSON)"), ("leaf_hash", "Hash daun"),
    ("record_sha256", "SHA-256 rekaman"))]


@router.get("/events", response_model=AuditEventPage,
            responses={**deps.errors(403, 422, 503), **exports.tabular_responses(
                "The JSON answer, or the same events as CSV or XLSX with `format=csv|xlsx` "
                "(the actor in two columns, `data` as JSON text; the next page's `after` in "
                "`X-Next-After`)")})
def audit_events(
    request: Request, who: Principal = Depends(principal),
    after: Annotated[int, Query(ge=0, le=2**62, description="the last seq already seen")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    evidence_sha256: Annotated[str | None, Query(
        pattern="^[0-9a-f]{64}$", description="only the submissions of this file")] = None,
    min_position: deps.MinPosition = None,
    format: Annotated[exports.Format, Query(description=exports.FORMAT_DESCRIPTION)] = "json",
) -> AuditEventPage | Response:
    _reader(who)
    position = deps.caught_up(request, min_position)
    c = deps.container(request)
    lv, sc = audit_log.leaves, audit_log.scopes
    q = (sa.select(lv).select_from(lv.outerjoin(sc, sc.c.stream_id == lv.c.stream_id))
         .where(lv.c.seq > after).order_by(lv.c.seq).limit(limit))
    if who.role is not Role.ADMIN and who.region:  # "" is a national auditor
        q = q.where(audit_log.stream_in_region(who.region))
    if evidence_sha256 is not None:
        q = q.where(lv.c.evidence_sha256 == evidence_sha256)
    with c.engine.connect() as conn:
        rows = conn.execute(q).all()
        records = audit_log.records_by_seq(conn, [int(r.seq) for r in rows])
    items = []
    for r in rows:
        record = records.get(int(r.seq))
        shown = record_display(r.topic, bytes(record.state)) if record is not None else None
        items.append(AuditEvent(
            seq=r.seq, leaf_index=r.leaf_index, stream_id=r.stream_id, version=r.version,
            type=r.topic.removeprefix("kemitraan."), topic=r.topic,
            recorded_at=_instant(shown["recorded_at"]) if shown else None,
            actor=shown["actor"] if shown and shown["actor"]["principal_id"] else None,
            data=shown["data"] if shown else None, leaf_hash=r.leaf_hash,
            record_sha256=r.record_sha256))
    next_after = int(rows[-1].seq) if len(rows) == limit else None
    if format != "json":
        headers = {"X-Position": str(position)}
        if next_after is not None:
            headers["X-Next-After"] = str(next_after)
            url = request.url.include_query_params(after=next_after)
            headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
        return exports.tabular_response(format, EVENT_COLUMNS, [exports.event_row(e) for e in items],
                                        "log-audit", "Log audit", headers=headers)
    return AuditEventPage(items=items, next_after=next_after, position=position)


@router.get("/keys", response_model=list[AuditKey], responses=deps.errors(403))
def audit_keys(request: Request, who: Principal = Depends(principal)) -> list[AuditKey]:
    _reader(who)
    return [AuditKey(key_id=k["key_id"], name=k["name"], public_key=k["public_key"],
                     valid_from=_instant(k["valid_from"]), valid_to=_instant(k["valid_to"]))
            for k in checkpointer(deps.container(request)).keys()]


def _checkpoint(row: dict[str, Any]) -> Checkpoint:
    return Checkpoint(**{**row, "issued_at": _instant(row["issued_at"])})


class NoCheckpointYet(Problem):
    """503 on a server that follows (it signs nothing) before the folding process signed one."""

    def __init__(self) -> None:
        super().__init__(503, "no checkpoint is signed yet: the process folding the views "
                              "(kemitraan project) signs them", headers={"Retry-After": "30"})


class CannotSign(Problem):
    """503 on a server still holding a retired key (ADR 0014): it must not sign with it."""

    def __init__(self, reason: KeyRetired) -> None:
        super().__init__(503, f"this server cannot sign: {reason}; restart it with the current "
                              "key", headers={"Retry-After": "60"})


@router.get("/checkpoints/latest", response_model=Checkpoint, responses=deps.errors(403, 503))
def latest_checkpoint(request: Request, who: Principal = Depends(principal)) -> Checkpoint:
    """The newest signed checkpoint. Without a background signer in this process (tests, a
    bare API), one is signed on the spot when the log grew past the newest (ADR 0014); a server
    that follows answers the newest the folding process signed."""
    _reader(who)
    deps.caught_up(request, None)
    c = deps.container(request)
    signer = checkpointer(c)
    if not signs(c):
        row = signer.latest()
        if row is None:
            raise NoCheckpointYet()
        return _checkpoint(row)
    try:
        row = signer.latest() if signer.running else signer.fresh()
        return _checkpoint(row or signer.sign())
    except KeyRetired as e:
        raise CannotSign(e) from None


@router.get("/checkpoints", response_model=Checkpoint, responses=deps.errors(403, 404, 422))
def checkpoint_at(request: Request, tree_size: Annotated[int, Query(ge=0, le=2**62)],
                  who: Principal = Depends(principal)) -> Checkpoint:
    _reader(who)
    row = checkpointer(deps.container(request)).at(tree_size)
    if row is None:
        raise Problem(404, f"no checkpoint was signed at tree size {tree_size}")
    return _checkpoint(row)


def _size(request: Request) -> int:
    deps.caught_up(request, None)
    with deps.container(request).engine.connect() as conn:
        return audit_log.tree_size(conn)


@router.get("/proofs/inclusion", response_model=InclusionProof,
            responses=deps.errors(403, 404, 422))
def inclusion_proof(request: Request, leaf_index: Annotated[int, Query(ge=0, le=2**62)],
                    tree_size: Annotated[int, Query(ge=1, le=2**62)],
                    who: Principal = Depends(principal)) -> InclusionProof:
    _reader(who)
    if leaf_index >= tree_size:
        raise Problem(422, "leaf_index must be smaller than tree_size",
                      errors=[{"field": "leaf_index", "message": "must be < tree_size"}])
    size = _size(request)
    if tree_size > size:
        raise Problem(404, f"the log has {size} leaves, not {tree_size}")
    with deps.container(request).engine.connect() as conn:
        path = audit_log.inclusion_proof(conn, leaf_index, tree_size)
        leaf = conn.execute(sa.select(audit_log.leaves.c.leaf_hash).where(
            audit_log.leaves.c.leaf_index == leaf_index)).scalar()
    return InclusionProof(leaf_index=leaf_index, tree_size=tree_size, leaf_hash=leaf,
                          audit_path=[h.hex() for h in path])


@router.get("/proofs/consistency", response_model=ConsistencyProof,
            responses=deps.errors(403, 404, 422))
def consistency_proof(request: Request, first: Annotated[int, Query(ge=1, le=2**62)],
                      second: Annotated[int, Query(ge=1, le=2**62)],
                      who: Principal = Depends(principal)) -> ConsistencyProof:
    _reader(who)
    if first > second:
        raise Problem(422, "first must not be larger than second",
                      errors=[{"field": "first", "message": "must be <= second"}])
    size = _size(request)
    if second > size:
        raise Problem(404, f"the log has {size} leaves, not {second}")
    with deps.container(request).engine.connect() as conn:
        proof = audit_log.consistency_proof(conn, first, second)
    return ConsistencyProof(first=first, second=second, proof=[h.hex() for h in proof])

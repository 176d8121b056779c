"""Token management for admins (the CLI's `kemitraan token create` does the same)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from api import deps, exports
from api.auth import new_secret, principal, secret_hash
from api.logs import command_done
from api.schemas import TokenCreate, TokenCreated, TokenRevoked
from api.schemas.tokens import TokenPage, TokenRead
from domain.access import Principal, require_role
from projections import access_tokens

router = APIRouter(prefix="/v1/tokens", tags=["tokens"])


@router.post("", status_code=201, response_model=TokenCreated,
             responses=deps.errors(400, 403, 409, 422))
def create_token(body: TokenCreate, request: Request,
                 who: Principal = Depends(principal)) -> TokenCreated:
    secret = new_secret()
    w = deps.container(request).ledger.issue_token(
        who, deps.now(request), secret_sha256_hex=secret_hash(secret), role=body.role,
        region=body.region, nibs=body.nibs, name=body.name or "")
    command_done(request, "token.issue", w)
    token = deps.container(request).ledger.authenticate(secret_hash(secret))
    assert token is not None
    return TokenCreated(id=str(w.id), token=secret, role=token.role.value, region=token.region,
                        nibs=list(token.nibs), name=token.name, position=w.position)


@router.delete("/{token_id}", response_model=TokenRevoked, responses=deps.errors(403, 404, 409))
def revoke_token(token_id: Annotated[str, "token id"], request: Request,
                 who: Principal = Depends(principal)) -> TokenRevoked:
    w = deps.container(request).ledger.revoke_token(
        who, deps.now(request), deps.parse_uuid(token_id, "token"), reason=None)
    request.app.state.principals.forget(str(w.id))
    command_done(request, "token.revoke", w)
    return TokenRevoked(id=token_id, revoked=True, position=w.position)


LIST_COLUMNS = [exports.Column(key, header) for key, header in (
    ("id", "ID token"), ("role", "Peran"), ("region", "Wilayah"), ("nibs", "NIB"),
    ("name", "Nama"), ("issued_at", "Diterbitkan pada"), ("issued_by", "Diterbitkan oleh"),
    ("revoked_at", "Dicabut pada"), ("revoked_by", "Dicabut oleh"))]


@router.get("", response_model=TokenPage,
            responses={**deps.errors(403, 422, 503), **exports.tabular_responses(paged=True)})
def list_tokens(
    request: Request, who: Principal = Depends(principal),
    role: Annotated[Literal["admin", "dinas", "auditor", "company", "umkm"] | None,
                    Query(description="only tokens of this role")] = None,
    include_revoked: Annotated[bool, Query(description="also list revoked tokens")] = False,
    limit: deps.PageLimit = 100,
    cursor: deps.PageCursor = None,
    min_position: deps.MinPosition = None,
    format: Annotated[exports.Format, Query(description=exports.FORMAT_DESCRIPTION)] = "json",
) -> Any:
    """Tokens in the order they were issued (admin only): whom each one is for, who issued it,
    and whether it was revoked. Never the token itself: only its hash is stored."""
    require_role(who, "token.manage")
    after = int(exports.decode_cursor(cursor, digits=True)) if cursor is not None else 0
    c = deps.container(request)
    position = deps.caught_up(request, min_position)
    with c.engine.connect() as conn:
        rows = access_tokens.query(conn, after_seq=after, limit=limit + 1,
                                   include_revoked=include_revoked, role=role)
    page, more = rows[:limit], len(rows) > limit
    next_cursor = exports.encode_cursor(str(page[-1]["seq"])) if more else None
    items = [TokenRead(**{k: v for k, v in r.items() if k != "seq"}) for r in page]
    if format != "json":
        return exports.tabular_response(
            format, LIST_COLUMNS,
            [{**i.model_dump(mode="json"), "nibs": " ".join(i.nibs)} for i in items],
            "token", "Token", headers=exports.next_page_headers(request, next_cursor, position))
    return TokenPage(items=items, next_cursor=next_cursor, position=position)

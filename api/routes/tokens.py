"""Token management for admins (the CLI's `kemitraan token create` does the same)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from api import deps
from api.auth import new_secret, principal, secret_hash
from api.logs import command_done
from api.schemas import TokenCreate, TokenCreated, TokenRevoked
from domain.access import Principal

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

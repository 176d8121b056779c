"""The partnership commands' short way in: the same handlers without FastAPI's per-request
machinery, for requests that are plainly well formed (ADR 0021).

A command through FastAPI costs ~0.8 ms of CPU in this process, of which the ledger's work is
~0.3: the rest is FastAPI's routing through the included routers, solving the dependencies,
validating and serializing through its generic field machinery. This route sits first in the
router and takes a `POST` to `/v1/partnerships` or `/v1/partnerships/{id}/{command}` only when
nothing about it needs FastAPI's judgement:

- a JSON body of at most `MAX_BODY` bytes with a declared length, no query string;
- a bearer token whose principal is in the process's cache (`api.auth.PrincipalCache`), not
  an auditor's (their writes are a 403 decided by `api.auth.principal`);
- a body that the route's own pydantic model accepts, read exactly as FastAPI reads it
  (`json.loads`, then the model in Python mode);
- an `Idempotency-Key`, where the route reads one, within the route's bounds.

Anything else is *declined* before any work is done: the request, its body replayed, goes on
to the FastAPI route, which answers it as it always has (401, 422, ...). A request the lane
takes runs the route's own handler (`api.routes.partnerships`); errors it raises (404, 409,
400 for a bad `If-Match`, 503) reach the app's exception handlers as the route's would. The
answer is byte for byte the route's (tests/api/test_command_lane.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute, Match

from api.auth import PrincipalCache, secret_hash
from domain.access import Principal, Role

MAX_BODY = 64 * 1024  # a command's JSON is a few hundred bytes; larger ones take the long way
DECLINED = "kemitraan.command_lane.declined"
_PATH = re.compile(r"^/v1/partnerships(?:/([^/]+)/([a-z_]+))?$")
_JSON_TYPES = frozenset({"application/json", "application/json; charset=utf-8"})

Handler = Callable[[Request, Response, str | None, Any, Principal], Awaitable[BaseModel]]


@dataclass(frozen=True)
class Command:
    """What the lane needs of one route: its body model, its handler (the route's own), the
    status of a success unless the handler sets one, and whether it reads `Idempotency-Key`."""

    body_model: type[BaseModel]
    handler: Handler
    status: int = 200
    idempotency_key: bool = False


class CommandLane(BaseRoute):
    """`commands`: by the path's last segment, `""` for `POST /v1/partnerships` itself."""

    path_format = "/v1/partnerships/{pid}/{command}"  # FastAPI's route telemetry reads it
    include_in_schema = False  # the FastAPI routes document these paths

    def __init__(self, commands: dict[str, Command]) -> None:
        self.commands = commands
        self.taken = 0  # requests answered here rather than by the FastAPI routes

    def matches(self, scope: dict[str, Any]) -> tuple[Match, dict[str, Any]]:
        if (scope["type"] != "http" or scope["method"] != "POST" or scope.get("query_string")
                or scope.get(DECLINED)):
            return Match.NONE, {}
        path, root = scope["path"], scope.get("root_path", "")
        m = _PATH.match(path[len(root):] if root and path.startswith(root) else path)
        if m is None or (m[2] or "") not in self.commands:
            return Match.NONE, {}
        return Match.FULL, {"kemitraan.command": (m[1], m[2] or "")}

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        pid, name = scope["kemitraan.command"]
        command = self.commands[name]
        request = Request(scope, receive)
        body = await self._body(request)
        taken = body is not None and await self._take(request, pid, command, body, send)
        if not taken:
            await self._decline(scope, receive, send, body)

    @staticmethod
    async def _body(request: Request) -> bytes | None:
        headers = request.headers
        length = headers.get("content-length", "")
        if (not length.isdigit() or int(length) > MAX_BODY
                or headers.get("content-type", "").lower() not in _JSON_TYPES):
            return None
        try:
            return await request.body()
        except ClientDisconnect:  # gone mid-body: the route meets the same end of the stream
            return None

    async def _take(self, request: Request, pid: str | None, command: Command, raw: bytes,
                    send: Any) -> bool:
        who = _cached_principal(request)
        key = request.headers.get("idempotency-key") if command.idempotency_key else None
        if who is None or (key is not None and not 1 <= len(key) <= 200):
            return False
        try:  # not JSON (undecodable, or nested deeper than json.loads goes), or not the
            body = command.body_model.model_validate(json.loads(raw))  # model's: the route's 422
        except (ValueError, RecursionError, ValidationError):
            return False
        self.taken += 1
        request.state.principal = who
        sub = Response()  # the route's `response` parameter, as FastAPI makes it
        del sub.headers["content-length"]
        sub.status_code = None  # type: ignore[assignment]
        written = await command.handler(request, sub, pid, body, who)
        content = type(written).__pydantic_serializer__.to_json(written, by_alias=True)
        response = Response(content, status_code=sub.status_code or command.status,
                            media_type="application/json")
        response.raw_headers.extend(sub.raw_headers)
        await response(request.scope, request.receive, send)
        return True

    async def _decline(self, scope: dict[str, Any], receive: Any, send: Any,
                       body: bytes | None) -> None:
        """On to the FastAPI routes, with the body replayed if this lane has read it."""
        scope[DECLINED] = True
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await scope["router"](scope, receive if body is None else replay, send)


def _cached_principal(request: Request) -> Principal | None:
    """The bearer token's principal if the cache holds it and it may write; else None (the
    FastAPI route authenticates, fills the cache, or answers 401/403)."""
    scheme, credentials = get_authorization_scheme_param(request.headers.get("authorization"))
    if scheme.lower() != "bearer" or not credentials:
        return None
    cache: PrincipalCache = request.app.state.principals
    who = cache.get(secret_hash(credentials))
    return None if who is None or who.role is Role.AUDITOR else who

"""Structured logs: configured once at the edge; JSON off a terminal, readable on one.

One line per command (request id, principal, command, stream id, new version). Tokens and file
contents are never logged: the bearer header is not bound, uploads are streamed past the logger.
"""

from __future__ import annotations

import logging
import sys
import time
import uuid
from typing import Any

import structlog
from fastapi import Request

from domain.application import Written

log = structlog.get_logger("kemitraan")


class _CurrentStderr:
    """Write to whatever `sys.stderr` is at the time of writing (test capture, redirection)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure(fmt: str | None = None) -> None:
    json_logs = (fmt == "json") if fmt else not sys.stderr.isatty()
    renderer = (structlog.processors.JSONRenderer() if json_logs
                else structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


class RequestContext:
    """Pure ASGI middleware (cheaper than `BaseHTTPMiddleware`): bind a request id — the
    client's `X-Request-ID` if sane, else a new one — echo it, and log rejected requests."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        ok = 0 < len(incoming) <= 64 and incoming.isprintable()
        request_id = incoming if ok else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", request_id.encode("latin-1"))]
                if message["status"] >= 400:
                    who = (scope.get("state") or {}).get("principal")  # set once authenticated
                    log.info("request.rejected", method=scope["method"], path=scope["path"],
                             status=message["status"],
                             principal=who.id if who else None,
                             role=who.role.value if who else None,
                             ms=round((time.perf_counter() - started) * 1000, 1))
            await send(message)

        await self.app(scope, receive, send_with_id)


def command_done(request: Request, command: str, written: Written) -> None:
    who = getattr(request.state, "principal", None)
    log.info("command.done", command=command, stream_id=str(written.id),
             version=written.version, position=written.position, repeat=written.repeat,
             principal=who.id if who else None, role=who.role.value if who else None)

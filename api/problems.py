"""Errors as RFC 9457 problem+json, mapped from their types in one place.

Never a stack trace, never a 500 for bad input: domain errors carry their meaning, the mapping
below gives each its status.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
import structlog
from eventsourcing import persistence as es
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.evidence_store import EmptyFile, EvidenceFileError, FileTooLarge, UnsupportedMediaType
from domain import errors as de
from domain import values

log = structlog.get_logger("kemitraan.api")

PROBLEM = "application/problem+json"
_TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
           405: "Method not allowed", 406: "Not acceptable", 409: "Conflict",
           412: "Precondition failed", 413: "Content too large", 415: "Unsupported media type",
           422: "Invalid field values", 428: "Precondition required",
           500: "Internal server error", 503: "Service unavailable"}
_STATUS_BY_ERROR: list[tuple[type[Exception], int]] = [
    (de.NotFound, 404), (de.Forbidden, 403), (de.Conflict, 409), (de.InvalidValue, 422),
    (FileTooLarge, 413), (UnsupportedMediaType, 415), (EmptyFile, 422),
]


class Problem(Exception):
    """An HTTP-level failure raised by the adapters (auth, headers, uploads)."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None,
                 errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers, self.errors = status, detail, headers, errors


def problem_response(status: int, detail: str, *, errors: list[dict[str, str]] | None = None,
                     headers: dict[str, str] | None = None, kind: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://kemitraan-ledger.example/problems/{kind or status}",
        "title": _TITLES.get(status, "Error"), "status": status, "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _kind(exc: Exception) -> str:
    name = type(exc).__name__
    return "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or "body"


_UNAVAILABLE = re.compile(r"locked|busy|time(d)? ?out|connect|server closed|terminating|"
                          r"unable to open|canceling statement|disk i/o", re.IGNORECASE)


def store_unavailable(exc: Exception) -> bool:
    """Whether a driver's error means "busy or unreachable" (retry later), not a bug."""
    if isinstance(exc, (es.InterfaceError, es.ConnectionUnavailableError, sa.exc.InterfaceError)):
        return True
    # SQLAlchemy's text carries the statement too: read only the driver's own message
    return bool(_UNAVAILABLE.search(str(getattr(exc, "orig", None) or exc)))


def validation_message(error: Any) -> str:
    """pydantic's message, except a region code against its pattern: the domain's words for it
    (`must be a Kemendagri code ...`), the same for a body field, a query parameter and the
    domain (the regular expression itself is no explanation)."""
    pattern = (error.get("ctx") or {}).get("pattern")
    if error.get("type") == "string_pattern_mismatch":
        if pattern == values.REGION_PATTERN:
            return values.region_code_error(error.get("input")) or "invalid"
        if pattern == values.REGION_PREFIX_PATTERN:
            return values.region_prefix_error(error.get("input")) or "invalid"
    return str(error.get("msg", "invalid"))


# Paths answered as problem+json whatever they are; the others are the dashboard's pages.
API_PREFIXES = ("/v1/", "/docs", "/redoc", "/openapi.json")


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.detail, headers=exc.headers, errors=exc.errors)

    @app.exception_handler(de.DomainError)
    async def _domain(_: Request, exc: de.DomainError) -> JSONResponse:
        status = next(s for t, s in _STATUS_BY_ERROR if isinstance(exc, t))
        errors = [e.as_dict() for e in exc.errors] if isinstance(exc, de.InvalidValue) else None
        return problem_response(status, exc.detail, errors=errors, kind=_kind(exc))

    @app.exception_handler(EvidenceFileError)
    async def _file(_: Request, exc: EvidenceFileError) -> JSONResponse:
        status = next(s for t, s in _STATUS_BY_ERROR if isinstance(exc, t))
        errors = [{"field": "file", "message": str(exc)}] if status == 422 else None
        return problem_response(status, str(exc), errors=errors, kind=_kind(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"field": _field(tuple(e.get("loc", ()))), "message": validation_message(e)}
                  for e in exc.errors()]
        page = getattr(request.app.state, "invalid_page", None)
        if page is not None and not request.url.path.startswith(API_PREFIXES):
            return page(request, [e["field"] for e in errors])  # the dashboard: HTML
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return problem_response(422, detail or "invalid request", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        page = getattr(request.app.state, "missing_page", None)
        if (page is not None and exc.status_code in (404, 405)
                and not request.url.path.startswith(API_PREFIXES)):
            return page(request)  # the dashboard's own 404 page, in Bahasa Indonesia
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):
            # FastAPI's answer to a body that is not even text (e.g. bytes that are no UTF-8):
            # bad input is a 422 with `errors` here, like every other invalid body.
            return problem_response(422, "the body is not valid JSON",
                                    errors=[{"field": "body", "message": "is not valid JSON"}])
        return problem_response(exc.status_code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(es.OperationalError)
    @app.exception_handler(es.InterfaceError)
    @app.exception_handler(sa.exc.OperationalError)
    @app.exception_handler(sa.exc.InterfaceError)
    async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The store is busy or gone: SQLite's write lock held past its timeout by another
        # writer (a rebuild, an import), the library's pool waiting for its one writer, a
        # lost PostgreSQL connection or a lock timeout. A timeout wrote nothing (the
        # transaction rolled back); a connection lost during a commit leaves it unknown,
        # which a retry with Idempotency-Key or If-Match settles. A 503, never a 500.
        # SQLite also calls a missing table or a syntax error "operational": a bug, a 500.
        if not store_unavailable(exc):
            return await _unexpected(request, exc)
        log.warning("request.store_unavailable", error=type(exc).__name__,
                    detail=str(exc).splitlines()[0] if str(exc) else "")
        return problem_response(503, "the store is busy or unavailable; retry shortly (with "
                                     "the same Idempotency-Key or If-Match, a retry is safe)",
                                headers={"Retry-After": "2"},
                                kind="store-unavailable")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("request.failed", error=type(exc).__name__)
        return problem_response(500, "an unexpected error occurred; it has been logged")

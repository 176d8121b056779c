"""Shared pieces of the routes: the container, the clock, If-Match, and documented errors."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any
from uuid import UUID

from fastapi import Query, Request, Response
from pydantic import BaseModel, BeforeValidator

from api.problems import PROBLEM, Problem
from api.wiring import Container
from domain.clock import WIB
from projections.funnel_cube import Tolerance


class ProblemDetail(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = None


_DESCRIPTIONS = {
    400: "Malformed header or parameter", 401: "No token, unknown token or revoked token",
    403: "The role may never do this", 404: "Not found, or outside the caller's scope",
    409: "Stale If-Match version, duplicate key, or a transition the lifecycle forbids",
    413: "File too large", 415: "File type not allowed", 422: "Invalid field values",
    503: "The store is busy or unavailable: nothing was written; retry after Retry-After",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the problem statuses an endpoint can return (plus 401 and 503
    always: every endpoint reads the store, which may be busy or unavailable)."""
    codes = sorted({401, 503, *statuses})
    return {code: {"model": ProblemDetail, "description": _DESCRIPTIONS[code],
                   "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/ProblemDetail"}}}}
            for code in codes}


def container(request: Request) -> Container:
    return request.app.state.container


def _whole_number(value: Any) -> Any:
    """A query integer as digits only: pydantic's lax mode would also take "0.0" or "1e3"."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError("must be a whole number written in digits")
    return value


MinPosition = Annotated[int | None, BeforeValidator(_whole_number), Query(
    ge=0, le=2**62, description="answer only once the views have folded in this position (a "
                                "write's `position`); 503 with Retry-After if they do not "
                                "within a few seconds")]


# A paged list's query parameters (the cursor is the previous page's `next_cursor`, opaque).
PageLimit = Annotated[int, Query(ge=1, le=1000)]
PageCursor = Annotated[str | None, Query(max_length=200,
                                         description="next_cursor of the previous page")]


def caught_up(request: Request, min_position: int | None) -> int:
    """The views' position, after waiting (a few seconds) for `min_position`; 503 with
    Retry-After when they have not reached it (contract, Conventions)."""
    position = container(request).views.read_position(min_position)
    if min_position is not None and position < min_position:
        raise Problem(503, f"the views have reached position {position}, not yet {min_position}",
                      headers={"Retry-After": "1"})
    return position


def funnel_tolerance(request: Request, min_position: int | None) -> Tolerance | None:
    """How far behind the view the funnel's cells may answer (`KEMITRAAN_STATS_MAX_AGE`;
    None when 0). Ages are wall-clock: the cells' refresh instants are, whatever the app's
    clock says."""
    max_age = container(request).settings.stats_max_age
    if not max_age:
        return None
    return Tolerance(datetime.now(timezone.utc), timedelta(seconds=max_age), min_position or 0)


def now(request: Request) -> datetime:
    clock = getattr(request.app.state, "clock", None)
    return clock() if clock else datetime.now(timezone.utc)


_IF_MATCH = re.compile(r'^(?:W/)?(?:"(\d{1,9})"|(\d{1,9}))$')


def if_match(request: Request) -> int | None:
    raw = request.headers.get("if-match")
    if raw is None or raw.strip() == "*":
        return None
    m = _IF_MATCH.match(raw.strip())
    if not m:
        raise Problem(400, 'If-Match must be a version such as "3"')
    return int(m.group(1) or m.group(2))


def parse_uuid(value: str, what: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise Problem(404, f"{what} {value} not found") from None


def showable(instant: datetime) -> bool:
    """Whether an instant with an offset exists in UTC (where it is stored) and in WIB (where
    it is shown): 0001-01-01T00:00:00+07:00 has no UTC instant, 9999-12-31T23:59Z none in WIB."""
    try:
        instant.astimezone(timezone.utc).astimezone(WIB)
    except OverflowError:
        return False
    return True


# RFC 3339 §5.6 date-time (with §5.6's note: "T" or a space, either case; "Z" either case).
# `datetime.fromisoformat` alone also takes ISO 8601 forms RFC 3339 does not (20241231T170000Z,
# week dates, +0700, +07, offsets with seconds).
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})",
                      re.ASCII)


def parse_instant(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    instant = None
    if _RFC3339.fullmatch(value):
        text = value[:10] + "T" + value[11:]
        text = text[:-1] + "+00:00" if text[-1] in "Zz" else text
        fraction = re.search(r"\.(\d+)", text)
        if fraction and len(fraction.group(1)) > 6:  # Python keeps microseconds
            text = text.replace(fraction.group(0), "." + fraction.group(1)[:6])
        try:
            instant = datetime.fromisoformat(text)
        except ValueError:  # 2024-02-30, 25:00
            instant = None
    if instant is None or instant.tzinfo is None:
        raise Problem(422, f"{field} must be an RFC 3339 instant with an offset",
                      errors=[{"field": field, "message": "must be an RFC 3339 instant with an "
                                                          "offset, e.g. 2024-03-31T17:00:00+07:00"}])
    if not showable(instant):
        raise Problem(422, f"{field} is out of range",
                      errors=[{"field": field, "message": "must lie between years 1 and "
                                                          "9999 in UTC and in WIB"}])
    return instant


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'

"""Spreadsheet answers (contract: Spreadsheets): the same rows and columns as an endpoint's JSON,
as CSV or XLSX.

An endpoint takes `format: Format = "json"`, builds its rows as dicts (one per JSON item, or per
flattened item), and for `csv`/`xlsx` returns `tabular_response(...)`. `tabular_responses()`
documents the two extra media types of its 200 response in OpenAPI.

- CSV: UTF-8, a header row of the column keys (the JSON field names), dates and instants ISO,
  integers as integers, empty for null. A text cell that a spreadsheet would run as a formula
  (starting with `=`, `+`, `-`, `@`, tab or carriage return) gets a leading `'` (OWASP CSV
  injection).
- XLSX: one sheet, a bold and frozen header row with the Indonesian headers, an autofilter,
  column widths from the content, real date cells, `#,##0` for `*_idr` columns. Text cells are
  stored as text (never formulas) with Excel's quote prefix for those starting with a formula
  character, so the value stays exactly what the JSON says.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from fastapi import Request, Response

from api.problems import Problem
from domain.clock import WIB

Format = Literal["json", "csv", "xlsx"]

CSV_MEDIA = "text/csv"
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FORMAT_DESCRIPTION = ("`json` (default), or `csv` / `xlsx`: the same rows and columns as a file "
                      "download")

_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_ILLEGAL_XML = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
_STEM = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Column:
    """One column: `key` is the JSON field (and the CSV header), `header_id` the XLSX header."""

    key: str
    header_id: str


def cell_text(value: Any) -> str:
    """A value as CSV text: ISO dates, RFC 3339 instants in WIB, `true`/`false`, '' for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return (value.astimezone(WIB) if value.tzinfo else value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_START) else value
    return str(value)


def to_csv(columns: Sequence[Column], rows: Iterable[Mapping[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.key for c in columns])
    for row in rows:
        writer.writerow([cell_text(row.get(c.key)) for c in columns])
    return buffer.getvalue().encode("utf-8")


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, datetime):
        # Excel has no time zones: an instant stays RFC 3339 text, offset included.
        return cell_text(value)
    if isinstance(value, str):
        return _ILLEGAL_XML.sub("", value)
    return value


def to_xlsx(columns: Sequence[Column], rows: Iterable[Mapping[str, Any]],
            sheet_title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = (_SHEET_FORBIDDEN.sub(" ", sheet_title).strip() or "Data")[:31]
    bold = Font(bold=True)
    widths = [len(c.header_id) for c in columns]
    for i, column in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=i, value=column.header_id)
        cell.font = bold
    n = 1
    for n, row in enumerate(rows, start=2):
        for i, column in enumerate(columns, start=1):
            value = _xlsx_value(row.get(column.key))
            cell = ws.cell(row=n, column=i)
            if isinstance(value, str):
                cell.value = value
                cell.data_type = "s"  # text, never a formula
                if value.startswith(FORMULA_START):
                    cell.quotePrefix = True
                shown = len(value)
            else:
                cell.value = value
                if isinstance(value, date):
                    cell.number_format = "yyyy-mm-dd"
                    shown = 10
                elif isinstance(value, int) and not isinstance(value, bool) \
                        and column.key.endswith("_idr"):
                    cell.number_format = "#,##0"
                    shown = len(f"{value:,}")
                else:
                    shown = len(cell_text(value))
            widths[i - 1] = max(widths[i - 1], shown)
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 8), 60)
    ws.freeze_panes = "A2"
    if columns:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(n, 1)}"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def tabular_response(fmt: Format, columns: Sequence[Column], rows: list[dict[str, Any]],
                     filename_stem: str, sheet_title: str,
                     headers: Mapping[str, str] | None = None) -> Response:
    """The rows as a CSV or XLSX attachment (`fmt` "json" is the endpoint's own business)."""
    stem = _STEM.sub("-", filename_stem).strip("-") or "export"
    if fmt == "csv":
        body, media, ext = to_csv(columns, rows), f"{CSV_MEDIA}; charset=utf-8", "csv"
    elif fmt == "xlsx":
        body, media, ext = to_xlsx(columns, rows, sheet_title), XLSX_MEDIA, "xlsx"
    else:
        raise ValueError(f"tabular_response answers csv or xlsx, not {fmt!r}")
    return Response(content=body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{stem}.{ext}"', **(headers or {})})


def encode_cursor(text: str) -> str:
    """An opaque page cursor for `text` (a log position, a group key): base64url, unpadded."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, digits: bool = False) -> str:
    """The text behind a cursor (only digits, with `digits`); 422 for one this server did not
    issue."""
    try:
        text = base64.b64decode((cursor + "=" * (-len(cursor) % 4)).encode(), altchars=b"-_",
                                validate=True).decode()
    except ValueError:
        text = ""
    # digits: ASCII only ("²".isdigit() is true) and within a BIGINT, as the server issues them
    if not text or not text.isprintable() or (digits and not (
            text.isascii() and text.isdigit() and len(text) <= 18)):
        raise Problem(422, "cursor is not one this server issued",
                      errors=[{"field": "cursor", "message": "invalid cursor"}])
    return text


def event_row(item: Any) -> dict[str, Any]:
    """An event (a model with `actor` and `data`) as a spreadsheet row: the actor in two
    columns (`actor_principal_id`, `actor_role`), `data` as JSON text."""
    actor, data = item.actor, item.data
    return {**item.model_dump(exclude={"actor", "data"}),
            "actor_principal_id": actor.principal_id if actor else None,
            "actor_role": actor.role if actor else None,
            "data": None if data is None else json.dumps(data, ensure_ascii=False,
                                                         sort_keys=True, default=str)}


def next_page_headers(request: Request, next_cursor: str | None,
                      position: int | None = None) -> dict[str, str]:
    """For a paged list as a file: `X-Next-Cursor` and an RFC 8288 `Link: <...>; rel="next"`
    (absent on the last page), and `X-Position` (the JSON's `position`)."""
    headers: dict[str, str] = {}
    if position is not None:
        headers["X-Position"] = str(position)
    if next_cursor is not None:
        headers["X-Next-Cursor"] = next_cursor
        url = request.url.include_query_params(cursor=next_cursor)
        headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
    return headers


def tabular_responses(description: str = "The JSON answer, or the same rows as CSV or XLSX "
                                         "with `format=csv|xlsx`",
                      paged: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entry documenting the CSV and XLSX media types of a 200 answer
    (FastAPI merges it with the JSON `response_model`)."""
    headers: dict[str, Any] = {
        "Content-Disposition": {"description": "attachment; filename=... (csv and xlsx only)",
                                "schema": {"type": "string"}},
        "X-Position": {"description": "the projection position the file reflects "
                                      "(csv and xlsx only)", "schema": {"type": "string"}},
    }
    if paged:
        headers["X-Next-Cursor"] = {"description": "cursor of the next page, absent on the "
                                                   "last one (csv and xlsx only)",
                                    "schema": {"type": "string"}}
        headers["Link"] = {"description": 'RFC 8288 link to the next page, rel="next" '
                                          "(csv and xlsx only)", "schema": {"type": "string"}}
    return {200: {"description": description, "headers": headers, "content": {
        CSV_MEDIA: {"schema": {"type": "string"}},
        XLSX_MEDIA: {"schema": {"type": "string", "format": "binary"}},
    }}}

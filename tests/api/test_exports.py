"""api/exports.py: CSV and XLSX answers parse back to the same rows, with no formula injection."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from api.exports import (
    CSV_MEDIA, XLSX_MEDIA, Column, Format, next_page_headers, tabular_response,
    tabular_responses,
)

COLUMNS = [Column("id", "ID"), Column("title", "Judul"), Column("start_date", "Tanggal mulai"),
           Column("value_idr", "Nilai (Rp)"), Column("count", "Jumlah"),
           Column("recorded_at", "Dicatat pada"), Column("note", "Catatan")]
ROWS = [
    {"id": "a1", "title": "Pasokan sayur", "start_date": date(2024, 1, 31),
     "value_idr": 150_000_000, "count": 3,
     "recorded_at": datetime(2024, 3, 1, 3, 0, tzinfo=timezone.utc), "note": None},
    {"id": "a2", "title": "=HYPERLINK(\"http://x\")", "start_date": date(2024, 2, 1),
     "value_idr": None, "count": 0,
     "recorded_at": datetime(2024, 3, 2, 17, 30, tzinfo=timezone.utc), "note": "+62 21 555"},
    {"id": "a3", "title": "-1+1", "start_date": date(2024, 2, 2), "value_idr": 0, "count": -4,
     "recorded_at": datetime(2024, 3, 3, tzinfo=timezone.utc), "note": "@SUM(A1)"},
]


def _csv_rows(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    return list(csv.DictReader(io.StringIO(response.body.decode("utf-8"))))


def test_csv_has_the_keys_as_header_iso_dates_ints_and_no_formulas() -> None:
    r = tabular_response("csv", COLUMNS, ROWS, "partnerships", "Kemitraan")
    assert r.media_type == f"{CSV_MEDIA}; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="partnerships.csv"'
    text = r.body.decode("utf-8")
    assert text.splitlines()[0] == "id,title,start_date,value_idr,count,recorded_at,note"
    rows = _csv_rows(r)
    assert [row["id"] for row in rows] == ["a1", "a2", "a3"]
    assert rows[0] == {"id": "a1", "title": "Pasokan sayur", "start_date": "2024-01-31",
                       "value_idr": "150000000", "count": "3",
                       "recorded_at": "2024-03-01T10:00:00+07:00", "note": ""}
    # instants in WIB, as the JSON shows them
    assert rows[1]["recorded_at"] == "2024-03-03T00:30:00+07:00"
    # text a spreadsheet would run gets a leading quote; numbers stay numbers (-4)
    assert rows[1]["title"] == "'=HYPERLINK(\"http://x\")"
    assert rows[1]["note"] == "'+62 21 555"
    assert rows[2]["title"] == "'-1+1"
    assert rows[2]["note"] == "'@SUM(A1)"
    assert rows[2]["count"] == "-4"
    assert rows[1]["value_idr"] == ""


def test_csv_of_no_rows_is_the_header_alone() -> None:
    r = tabular_response("csv", COLUMNS, [], "empty", "Kosong")
    assert r.body.decode() == "id,title,start_date,value_idr,count,recorded_at,note\r\n"


def test_xlsx_has_a_bold_frozen_indonesian_header_and_typed_cells() -> None:
    r = tabular_response("xlsx", COLUMNS, ROWS, "naik kelas/2024", "Naik kelas: 2024")
    assert r.media_type == XLSX_MEDIA
    assert r.headers["content-disposition"] == 'attachment; filename="naik-kelas-2024.xlsx"'
    wb = load_workbook(io.BytesIO(r.body))
    ws = wb.active
    assert ws.title == "Naik kelas  2024"
    assert ws.freeze_panes == "A2"
    header = [c.value for c in ws[1]]
    assert header == ["ID", "Judul", "Tanggal mulai", "Nilai (Rp)", "Jumlah", "Dicatat pada",
                      "Catatan"]
    assert all(c.font.bold for c in ws[1])
    assert ws.max_row == 4
    first = [c.value for c in ws[2]]
    assert first[0] == "a1" and first[1] == "Pasokan sayur"
    assert first[2] == datetime(2024, 1, 31)  # a real date cell
    assert ws["C2"].number_format == "yyyy-mm-dd"
    assert first[3] == 150_000_000 and ws["D2"].number_format == "#,##0"
    assert first[4] == 3 and isinstance(first[4], int)
    assert first[5] == "2024-03-01T10:00:00+07:00"
    assert first[6] is None
    assert ws["D3"].value is None and ws["E4"].value == -4
    # a formula-looking text is stored as text, exactly, never as a formula
    assert ws["B3"].data_type == "s" and ws["B3"].value == "=HYPERLINK(\"http://x\")"
    assert ws["B3"].quotePrefix
    assert ws["G4"].data_type == "s" and ws["G4"].value == "@SUM(A1)"
    # widths follow the content, within bounds
    assert ws.column_dimensions["B"].width >= len("=HYPERLINK(\"http://x\")")
    assert all(8 <= ws.column_dimensions[c].width <= 60 for c in "ABCDEFG")


def test_xlsx_drops_characters_xml_cannot_hold() -> None:
    r = tabular_response("xlsx", [Column("title", "Judul")], [{"title": "a\x01b\x0bc"}], "x", "x")
    assert load_workbook(io.BytesIO(r.body)).active["A2"].value == "abc"


def test_json_is_not_a_tabular_format() -> None:
    with pytest.raises(ValueError):
        tabular_response("json", COLUMNS, ROWS, "x", "x")


def test_openapi_documents_csv_and_xlsx_next_to_the_json_model() -> None:
    from pydantic import BaseModel

    class Item(BaseModel):
        n: int

    app = FastAPI()

    @app.get("/items", response_model=Item, responses=tabular_responses(paged=True))
    def items(request: Request, fmt: Format = "json"):  # type: ignore[no-untyped-def]
        if fmt == "json":
            return Item(n=1)
        return tabular_response(fmt, [Column("n", "Nomor")], [{"n": 1}], "items", "Items",
                                headers=next_page_headers(request, "abc", 7))

    with TestClient(app) as client:
        content = client.get("/openapi.json").json()["paths"]["/items"]["get"]["responses"]["200"]
        assert set(content["content"]) == {"application/json", CSV_MEDIA, XLSX_MEDIA}
        assert {"X-Next-Cursor", "Link", "X-Position"} <= set(content["headers"])
        r = client.get("/items?fmt=csv&limit=5")
        assert r.status_code == 200
        assert r.headers["x-next-cursor"] == "abc"
        assert r.headers["x-position"] == "7"
        assert r.headers["link"] == '</items?fmt=csv&limit=5&cursor=abc>; rel="next"'
        assert r.text == "n\r\n1\r\n"


def test_the_last_page_has_no_next_headers() -> None:
    request = Request({"type": "http", "method": "GET", "path": "/x", "query_string": b"",
                       "headers": [], "server": ("t", 80), "scheme": "http"})
    assert next_page_headers(request, None, 3) == {"X-Position": "3"}


# ---- GET /v1/partnerships?format=csv|xlsx, through real HTTP on both backends -----------------

def test_the_partnership_list_as_csv_and_xlsx_is_the_json_page(
        client, make_token) -> None:  # type: ignore[no-untyped-def]
    from tests.api.helpers import (
        LARGE_A, LARGE_B, REGION_A, REGION_B, UMKM_A, UMKM_B, expect, propose, register_business,
    )
    from tests.conftest import bearer

    admin = make_token("admin")
    for nib, scale, region in ((LARGE_A, "besar", REGION_A), (UMKM_A, "mikro", REGION_A + ".01"),
                               (LARGE_B, "besar", REGION_B), (UMKM_B, "mikro", REGION_B + ".01")):
        register_business(client, admin, nib, scale, region)
    company_a = make_token("company", nibs=[LARGE_A])
    company_b = make_token("company", nibs=[LARGE_B])
    for title in ("Pasokan beras", "=cmd|' /C calc'!A0", "Pasokan gula"):
        propose(client, company_a, LARGE_A, UMKM_A, REGION_A, title=title)
    propose(client, company_b, LARGE_B, UMKM_B, REGION_B, title="Di wilayah lain")
    dinas_a = make_token("dinas", region=REGION_A)

    def get(**params):  # type: ignore[no-untyped-def]
        return client.get("/v1/partnerships", headers=bearer(dinas_a), params=params)

    pages, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = expect(get(**params), 200)
        r = get(format="csv", **params)
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/csv; charset=utf-8"
        assert r.headers["content-disposition"] == 'attachment; filename="kemitraan.csv"'
        rows = list(csv.DictReader(io.StringIO(r.text)))
        expected = [{k: "'" + v if isinstance(v, str) and v.startswith("=") else
                     ("" if v is None else str(v)) for k, v in item.items()}
                    for item in page["items"]]
        assert rows == expected
        assert r.headers.get("x-next-cursor") == page["next_cursor"]
        assert int(r.headers["x-position"]) == page["position"]
        x = get(format="xlsx", **params)
        assert x.status_code == 200 and x.headers["content-type"] == XLSX_MEDIA
        ws = load_workbook(io.BytesIO(x.content)).active
        header = [c.value for c in ws[1]]
        assert header[:4] == ["ID kemitraan", "NIB usaha besar", "NIB UMKM", "Pola kemitraan"]
        cells = [[(v.date().isoformat() if isinstance(v, datetime) else v) for v in row]
                 for row in ws.iter_rows(min_row=2, values_only=True)]
        assert cells == [list(item.values()) for item in page["items"]]
        assert x.headers.get("x-next-cursor") == page["next_cursor"]
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # region scope applies to files as to JSON: A's three, in two pages of at most 2
    assert [len(p) for p in pages] == [2, 1]
    titles = [i["title"] for p in pages for i in p]
    assert titles == ["Pasokan beras", "=cmd|' /C calc'!A0", "Pasokan gula"]
    # filters apply too
    filtered = get(format="csv", status="proposed", large_nib=LARGE_B)
    assert filtered.status_code == 200 and filtered.text.count("\r\n") == 1  # the header alone
    bad = get(format="ods")
    assert bad.status_code == 422

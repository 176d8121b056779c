"""POST /v1/imports/partnerships and the template: a company's spreadsheet in, row by row."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from tests.api.helpers import (
    LARGE_A, LARGE_B, REGION_A, REGION_B, UMKM_A, UMKM_B, assert_problem, expect,
    register_business,
)
from tests.conftest import bearer

HEADER = ["external_ref", "large_nib", "umkm_nib", "pola", "program", "title", "start_date",
          "end_date", "value_idr", "location_region_code"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def row(ref: str, **over: Any) -> dict[str, Any]:
    base = {"external_ref": ref, "large_nib": LARGE_A, "umkm_nib": UMKM_A, "pola": "rantai_pasok",
            "program": "rantai_pasok_industri", "title": f"Pasokan {ref}",
            "start_date": "2024-01-01", "end_date": "2025-12-31", "value_idr": "150000000",
            "location_region_code": "32.16.01"}
    return {**base, **over}


def csv_file(rows: list[dict[str, Any]], header: list[str] = HEADER, delimiter: str = ",") -> bytes:
    out = io.StringIO()
    w = csv.writer(out, delimiter=delimiter)
    w.writerow(header)
    for r in rows:
        w.writerow([r.get(c, "") for c in header])
    return out.getvalue().encode("utf-8")


def xlsx_file(rows: list[list[Any]], header: list[str] = HEADER) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "Kemitraan"
    ws.append(header)
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def send(client: Any, token: str, content: bytes, *, name: str = "kemitraan.csv",
         media: str = "text/csv", dry_run: bool = False) -> Any:
    return client.post("/v1/imports/partnerships", headers=bearer(token),
                       files={"file": (name, content, media)},
                       data={"dry_run": "true" if dry_run else "false"})


@pytest.fixture
def world(client: Any, make_token: Any) -> dict[str, str]:
    dinas = make_token("dinas", region=REGION_A)
    register_business(client, dinas, LARGE_A, "besar", REGION_A)
    register_business(client, dinas, UMKM_A, "mikro", REGION_A)
    dinas_b = make_token("dinas", region=REGION_B)
    register_business(client, dinas_b, LARGE_B, "besar", REGION_B)
    register_business(client, dinas_b, UMKM_B, "kecil", REGION_B)
    return {"company": make_token("company", nibs=[LARGE_A]), "admin": make_token("admin"),
            "dinas": dinas}


def test_a_file_with_one_bad_row_imports_the_others_and_names_the_bad_cell(
        client: Any, world: dict[str, str]) -> None:
    content = csv_file([row("PKS-1"), row("PKS-2", pola="arisan"), row("PKS-3")])
    body = expect(send(client, world["company"], content), 200)
    assert (body["rows"], body["accepted"], body["unchanged"]) == (3, 2, 0)
    assert body["rejected"] == [{"row": 3, "errors": [
        {"column": "pola", "message": body["rejected"][0]["errors"][0]["message"]}]}]
    assert "rantai_pasok" in body["rejected"][0]["errors"][0]["message"]
    assert len(body["created"]) == 2 and body["position"] is not None
    # the created partnerships are real ones, readable through the API, with the row's values
    got = expect(client.get(f"/v1/partnerships/{body['created'][0]}",
                            headers=bearer(world["company"])), 200)
    assert (got["title"], got["value_idr"], got["status"]) == ("Pasokan PKS-1", 150_000_000,
                                                               "proposed")
    listed = expect(client.get("/v1/partnerships", headers=bearer(world["company"]),
                               params={"min_position": body["position"]}), 200)
    assert {p["title"] for p in listed["items"]} == {"Pasokan PKS-1", "Pasokan PKS-3"}


def test_a_row_located_in_a_region_code_with_a_part_of_zeros_is_rejected(
        client: Any, world: dict[str, str]) -> None:
    """32.00, 32.16.00 and 32.16.01.0000 name no region; they went in as partnerships."""
    zeros = ["32.00", "00.16", "32.16.00", "32.16.01.0000"]
    content = csv_file([row("Z-ok")] + [row(f"Z-{i}", location_region_code=code)
                                        for i, code in enumerate(zeros)])
    body = expect(send(client, world["company"], content), 200)
    assert (body["rows"], body["accepted"]) == (5, 1)
    message = "must be a Kemendagri code such as 32.16 or 32.16.01.2001 (no part is all zeros)"
    assert body["rejected"] == [{"row": n, "errors": [
        {"column": "location_region_code", "message": message}]} for n in range(3, 7)]
    listed = expect(client.get("/v1/partnerships", headers=bearer(world["company"]),
                               params={"min_position": body["position"]}), 200)
    assert [p["location_region_code"] for p in listed["items"]] == ["32.16.01"]


def test_a_region_code_in_a_number_cell_is_rejected_not_read_without_its_zeros(
        client: Any, world: dict[str, str]) -> None:
    """Excel keeps 32.10 typed into a number cell as 32.1, and 32.00 as 32: the province."""
    good = [row("N-ok")[c] for c in HEADER]
    at = HEADER.index("location_region_code")
    rows = [good] + [[*good[:at], number, *good[at + 1:]] for number in (32.1, 32.0, 32)]
    for k, r in enumerate(rows[1:], start=1):
        r[0] = f"N-{k}"
    body = expect(send(client, world["company"], xlsx_file(rows), name="kemitraan.xlsx",
                       media=XLSX), 200)
    assert (body["rows"], body["accepted"]) == (4, 1)
    assert [r["row"] for r in body["rejected"]] == [3, 4, 5]
    assert all(r["errors"][0]["column"] == "location_region_code"
               and "text cell" in r["errors"][0]["message"] for r in body["rejected"])


def test_importing_the_same_file_twice_creates_nothing_new(client: Any,
                                                           world: dict[str, str]) -> None:
    content = csv_file([row("PKS-1"), row("PKS-2")])
    first = expect(send(client, world["company"], content), 200)
    events_before = client.get("/v1/health").json()["position"]
    again = expect(send(client, world["company"], content), 200)
    assert (again["accepted"], again["unchanged"], again["created"]) == (0, 2, [])
    assert again["position"] is None
    assert client.get("/v1/health").json()["position"] == events_before
    # an admin importing the company's file finds the same rows: the key is (large_nib, ref)
    by_admin = expect(send(client, world["admin"], content), 200)
    assert (by_admin["accepted"], by_admin["unchanged"]) == (0, 2)
    assert len(first["created"]) == 2


def test_a_known_row_with_other_values_is_rejected_not_overwritten(
        client: Any, world: dict[str, str]) -> None:
    expect(send(client, world["company"], csv_file([row("PKS-1")])), 200)
    body = expect(send(client, world["company"],
                       csv_file([row("PKS-1", title="Judul lain")])), 200)
    assert body["accepted"] == 0 and body["rejected"][0]["row"] == 2
    assert body["rejected"][0]["errors"][0]["column"] == "external_ref"


def test_a_dry_run_reports_the_same_outcome_and_records_nothing(
        client: Any, world: dict[str, str]) -> None:
    content = csv_file([row("PKS-1"), row("PKS-2", start_date="31-02-2024")])
    before = client.get("/v1/health").json()["position"]
    dry = expect(send(client, world["company"], content, dry_run=True), 200)
    assert (dry["dry_run"], dry["accepted"], dry["position"]) == (True, 1, None)
    assert dry["rejected"] == [{"row": 3, "errors": [
        {"column": "start_date", "message": "must be a date YYYY-MM-DD (or DD/MM/YYYY)"}]}]
    assert client.get("/v1/health").json()["position"] == before
    real = expect(send(client, world["company"], content), 200)
    assert real["created"] == dry["created"]  # the ids are the rows' keys, known in advance


def test_every_rule_of_a_proposal_applies_to_each_row(client: Any, world: dict[str, str]) -> None:
    rows = [
        row("R-unknown-umkm", umkm_nib="3216019999999"),
        row("R-large-is-umkm", large_nib=UMKM_A, umkm_nib=LARGE_A),
        row("R-other-company", large_nib=LARGE_B, umkm_nib=UMKM_B, location_region_code="33.17"),
        row("R-end-before-start", end_date="2023-01-01"),
        row("R-negative", value_idr="-5"),
        row("", title=""),
        row("R-ok", value_idr="Rp 1.500.000"),
        row("R-ok"),
    ]
    body = expect(send(client, world["company"], csv_file(rows)), 200)
    by_row = {r["row"]: {(e["column"]) for e in r["errors"]} for r in body["rejected"]}
    assert by_row == {2: {"umkm_nib"}, 3: {"large_nib"}, 4: {"large_nib"}, 5: {"end_date"},
                      6: {"value_idr"}, 7: {"external_ref", "title"}, 9: {"external_ref"}}
    assert body["accepted"] == 1
    got = expect(client.get(f"/v1/partnerships/{body['created'][0]}",
                            headers=bearer(world["company"])), 200)
    assert got["value_idr"] == 1_500_000


def test_an_xlsx_with_number_and_date_cells_imports_like_csv(client: Any,
                                                              world: dict[str, str]) -> None:
    from datetime import datetime

    content = xlsx_file([
        ["X-1", int(LARGE_A), int(UMKM_A), "subkontrak", None, "Jahit seragam",
         datetime(2024, 2, 1), None, 25_000_000, "32.16"],
        ["X-2", LARGE_A, UMKM_A, "subkontrak", None, "Desimal", "2024-02-01", None, 10.5,
         "32.16"],
    ])
    body = expect(send(client, world["company"], content, name="kemitraan.xlsx", media=XLSX),
                  200)
    assert body["accepted"] == 1
    assert body["rejected"] == [{"row": 3, "errors": [
        {"column": "value_idr", "message": "must be an integer number of rupiah (no decimals)"}]}]
    got = expect(client.get(f"/v1/partnerships/{body['created'][0]}",
                            headers=bearer(world["company"])), 200)
    assert (got["large_nib"], got["start_date"], got["end_date"]) == (LARGE_A, "2024-02-01", None)


def test_a_semicolon_csv_from_an_indonesian_excel_is_read(client: Any,
                                                          world: dict[str, str]) -> None:
    content = csv_file([row("S-1", start_date="15/03/2024", value_idr="2.000.000")],
                       delimiter=";")
    body = expect(send(client, world["company"], content), 200)
    assert body["accepted"] == 1, body
    got = expect(client.get(f"/v1/partnerships/{body['created'][0]}",
                            headers=bearer(world["company"])), 200)
    assert (got["start_date"], got["value_idr"]) == ("2024-03-15", 2_000_000)


@pytest.mark.parametrize("content,name,status", [
    (b"%PDF-1.4\n%%EOF\n", "kemitraan.pdf", 415),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "kemitraan.xls", 415),
    (b"PK\x03\x04 not really a zip", "kemitraan.xlsx", 415),
    (b"external_ref,large_nib,title\nA,3216000000001,x\n", "kemitraan.csv", 422),
    (b"", "kemitraan.csv", 422),
])
def test_a_file_that_is_not_an_import_is_a_problem_and_records_nothing(
        client: Any, world: dict[str, str], content: bytes, name: str, status: int) -> None:
    before = client.get("/v1/health").json()["position"]
    body = assert_problem(send(client, world["company"], content, name=name), status)
    if status == 422 and content:
        assert {"field": "file", "message": "missing column umkm_nib"} in body["errors"]
    assert client.get("/v1/health").json()["position"] == before


def test_a_file_over_the_upload_limit_is_413(client: Any, world: dict[str, str]) -> None:
    rows = [row(f"BIG-{i}", title="x" * 250) for i in range(400)]  # > 64 KiB (test limit)
    assert_problem(send(client, world["company"], csv_file(rows)), 413)


def test_roles_that_may_not_propose_may_not_import(client: Any, world: dict[str, str],
                                                   make_token: Any) -> None:
    content = csv_file([row("PKS-1")])
    for token in (world["dinas"], make_token("auditor"), make_token("umkm", nibs=[UMKM_A])):
        assert_problem(send(client, token, content), 403)
    assert_problem(client.post("/v1/imports/partnerships",
                               files={"file": ("k.csv", content, "text/csv")}), 401)


def test_the_templates_have_the_header_and_an_explanation_sheet(client: Any,
                                                                world: dict[str, str]) -> None:
    r = client.get("/v1/imports/partnerships/template", params={"format": "csv"},
                   headers=bearer(world["dinas"]))
    expect(r, 200)
    assert r.content.decode().splitlines() == [",".join(HEADER)]
    r = client.get("/v1/imports/partnerships/template", headers=bearer(world["company"]))
    expect(r, 200)
    assert r.headers["content-type"] == XLSX
    wb = load_workbook(io.BytesIO(r.content))
    assert [c.value for c in wb["Kemitraan"][1]] == HEADER
    explained = {r[0] for r in wb["Penjelasan"].iter_rows(min_row=2, values_only=True)}
    assert set(HEADER) <= explained
    # the template, filled in, imports
    ws = wb["Kemitraan"]
    ws.append(["T-1", LARGE_A, UMKM_A, "waralaba", "", "Gerai", "2024-01-01", "", "",
               "32.16"])
    out = io.BytesIO()
    wb.save(out)
    body = expect(send(client, world["company"], out.getvalue(), name="t.xlsx", media=XLSX),
                  200)
    assert body["accepted"] == 1, body


def test_rows_spread_over_many_batches_are_each_counted_once(
        client: Any, world: dict[str, str], container: Any) -> None:
    """Batches of 3 rows: a repeat of a row in a later batch is still caught."""
    from datetime import datetime, timezone

    from api.imports import read_upload
    from domain.access import Principal, Role

    rows = [row(f"B-{i}") for i in range(10)] + [row("B-1")]
    upload = read_upload(csv_file(rows), "k.csv", 10**6)
    who = Principal(id="importer", role=Role.COMPANY, nibs=(LARGE_A,))
    seen: list[int] = []
    result = container.ledger.import_partnerships(
        who, datetime.now(timezone.utc), upload.rows(), batch_size=3, progress=seen.append)
    assert (result.rows, result.accepted, len(set(result.created))) == (11, 10, 10)
    assert [(n, [e.field for e in errs]) for n, errs in result.rejected] == [(12,
                                                                             ["external_ref"])]
    assert seen == [3, 3, 3, 2] and upload.estimate == 11
    body = expect(send(client, world["company"], csv_file(rows)), 200)
    assert (body["accepted"], body["unchanged"], len(body["rejected"])) == (0, 10, 1)


def test_rows_a_concurrent_import_recorded_first_count_as_unchanged(
        client: Any, world: dict[str, str], container: Any) -> None:
    """Two imports of overlapping rows at once: the batch's existence check ran before the
    other import recorded some of its rows, so the batch save fails on them. The batch is then
    saved row by row (it answered 500 with an IndexError, and skipped the rest of the file)."""
    from datetime import datetime, timezone

    from api.imports import read_upload
    from domain.access import Principal, Role

    who = Principal(id="importer", role=Role.COMPANY, nibs=(LARGE_A,))
    first = [row(f"R-{i}") for i in range(0, 6, 2)]  # the other import's rows
    expect(send(client, world["company"], csv_file(first)), 200)
    rows = [row(f"R-{i}") for i in range(6)]
    result = container.ledger.import_partnerships(
        who, datetime.now(timezone.utc), read_upload(csv_file(rows), "k.csv", 10**6).rows(),
        existing=lambda ids: set())  # checked before the other import's rows were recorded
    assert (result.rows, result.accepted, result.unchanged, result.rejected) == (6, 3, 3, [])
    body = expect(send(client, world["company"], csv_file(rows)), 200)
    assert (body["accepted"], body["unchanged"]) == (0, 6)


def test_a_csv_with_old_mac_line_endings_is_read(client: Any, world: dict[str, str]) -> None:
    content = csv_file([row("CR-1"), row("CR-2")]).replace(b"\r\n", b"\r")
    assert b"\n" not in content
    body = expect(send(client, world["company"], content), 200)
    assert (body["accepted"], body["rejected"]) == (2, []), body


def test_a_workbook_damaged_past_its_header_is_422_and_records_nothing(
        client: Any, world: dict[str, str]) -> None:
    """openpyxl reads rows lazily: a damaged cell in row 3 must stop the import before any row
    is written, not half-way with a server error."""
    import re
    import zipfile

    good = xlsx_file([[*row("X-1").values()], [*row("X-2").values()]])
    src, out = zipfile.ZipFile(io.BytesIO(good)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":  # row 3's first shared string
                data, n = re.subn(rb'<c r="A3" t="inlineStr"><is><t>X-2</t></is></c>',
                                  b'<c r="A3" t="s"><v>99999</v></c>', data)
                assert n == 1
            dst.writestr(item, data)
    before = client.get("/v1/health").json()["position"]
    body = assert_problem(send(client, world["company"], out.getvalue(), name="k.xlsx",
                               media=XLSX), 422)
    assert "row 3" in body["detail"] and body["errors"][0]["field"] == "file"
    assert client.get("/v1/health").json()["position"] == before


def test_a_csv_that_cannot_be_read_to_its_end_is_422_and_long_cells_are_row_errors() -> None:
    import csv as csv_module

    from api.imports import read_upload
    from api.problems import Problem

    # a title longer than csv's default field limit (128 KiB) is read; the row's own checks
    # (test_every_rule_of_a_proposal_applies_to_each_row) then refuse what is too long
    huge = csv_file([row("L-1", title="x" * 200_000)])
    [parsed] = list(read_upload(huge, "k.csv", 10 * 1024 * 1024).rows())
    assert parsed.values["title"] == "x" * 200_000
    # whatever csv cannot read (here: a field past a lowered limit) is found before any row
    # is handed over, and named by its line
    content = csv_file([row("L-2"), row("L-3", title="y" * 5_000)])
    limit = csv_module.field_size_limit(1_000)
    try:
        with pytest.raises(Problem) as e:
            read_upload(content, "k.csv", 10 * 1024 * 1024)
    finally:
        csv_module.field_size_limit(limit)
    assert e.value.status == 422 and "line 3" in e.value.detail


def test_a_date_before_1900_is_a_rejected_row_not_a_partnership_in_the_year_24(
        client: Any, world: dict[str, str]) -> None:
    content = csv_file([row("Y-1", start_date="31/12/0024"), row("Y-2", start_date="0001-01-01"),
                        row("Y-3", end_date="9999-01-01"), row("Y-4")])
    body = expect(send(client, world["company"], content), 200)
    assert body["accepted"] == 1
    assert [(r["row"], [(e["column"], e["message"]) for e in r["errors"]])
            for r in body["rejected"]] == [
        (2, [("start_date", "must be a date between 1900-01-01 and 9998-12-31")]),
        (3, [("start_date", "must be a date between 1900-01-01 and 9998-12-31")]),
        (4, [("end_date", "must be a date between 1900-01-01 and 9998-12-31")])]


def test_a_workbook_with_a_formatted_empty_cell_far_below_counts_only_its_rows(
        client: Any, world: dict[str, str]) -> None:
    """`max_row` counts formatted empty rows: a 5 KB workbook with a bordered empty cell at
    row 250,000 was refused as a file of 249,999 rows."""
    from openpyxl.styles import Border, Side

    wb = load_workbook(io.BytesIO(xlsx_file([[*row("F-1").values()], [*row("F-2").values()]])))
    wb.active.cell(row=250_000, column=1).border = Border(top=Side(style="thin"))
    out = io.BytesIO()
    wb.save(out)
    body = expect(send(client, world["company"], out.getvalue(), name="k.xlsx", media=XLSX), 200)
    assert (body["rows"], body["accepted"]) == (2, 2), body


def test_a_workbook_with_too_many_rows_is_413_before_any_row_goes_in(
        client: Any, world: dict[str, str], monkeypatch: Any) -> None:
    import api.imports

    monkeypatch.setattr(api.imports, "MAX_ROWS", 3)
    head = expect(client.get("/v1/health"), 200)["position"]
    content = xlsx_file([[*row(f"M-{i}").values()] for i in range(4)])
    assert_problem(send(client, world["company"], content, name="k.xlsx", media=XLSX), 413)
    assert expect(client.get("/v1/health"), 200)["position"] == head
    body = expect(send(client, world["company"], xlsx_file(
        [[*row(f"M-{i}").values()] for i in range(3)]), name="k.xlsx", media=XLSX), 200)
    assert body["accepted"] == 3


def test_a_cell_holding_an_excel_error_is_a_rejected_row(client: Any,
                                                         world: dict[str, str]) -> None:
    content = xlsx_file([[*row("E-1", title="#N/A").values()], [*row("E-2").values()]])
    body = expect(send(client, world["company"], content, name="k.xlsx", media=XLSX), 200)
    assert body["accepted"] == 1
    assert [(r["row"], [e["column"] for e in r["errors"]]) for r in body["rejected"]] == [
        (2, ["title"])]


def test_dry_run_on_the_url_is_a_dry_run_too(client: Any, world: dict[str, str]) -> None:
    head = expect(client.get("/v1/health"), 200)["position"]
    files = {"file": ("k.csv", csv_file([row("D-1")]), "text/csv")}
    body = expect(client.post("/v1/imports/partnerships", params={"dry_run": "true"},
                              headers=bearer(world["company"]), files=files), 200)
    assert (body["accepted"], body["dry_run"]) == (1, True)
    assert expect(client.get("/v1/health"), 200)["position"] == head
    conflict = client.post("/v1/imports/partnerships", params={"dry_run": "true"},
                           data={"dry_run": "false"}, headers=bearer(world["company"]),
                           files=files)
    assert assert_problem(conflict, 422)["errors"][0]["field"] == "dry_run"
    assert expect(client.get("/v1/health"), 200)["position"] == head


def test_a_semicolon_csv_with_quoted_header_names_is_read(client: Any,
                                                          world: dict[str, str]) -> None:
    out = io.StringIO()
    w = csv.writer(out, delimiter=";", quoting=csv.QUOTE_ALL)
    w.writerow(HEADER)
    w.writerow([row("Q-1")[c] for c in HEADER])
    body = expect(send(client, world["company"], out.getvalue().encode()), 200)
    assert (body["accepted"], body["rejected"]) == (1, []), body


def test_utf8_lines_stay_utf8_in_a_file_with_one_cp1252_line(
        client: Any, world: dict[str, str]) -> None:
    utf8 = csv_file([row("U-1", title="Kopi Café Bu Dewi")])
    cp1252 = "U-2,{},{},rantai_pasok,,Kue Lapis Légit,2024-01-01,,5000000,32.16.01\n".format(
        LARGE_A, UMKM_A).encode("cp1252")
    body = expect(send(client, world["company"], utf8 + cp1252), 200)
    assert body["accepted"] == 2, body
    titles = {p["title"] for p in expect(client.get(
        "/v1/partnerships", headers=bearer(world["company"])), 200)["items"]}
    assert {"Kopi Café Bu Dewi", "Kue Lapis Légit"} <= titles

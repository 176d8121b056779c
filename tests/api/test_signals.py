"""GET /v1/stats/scale-upgrades and GET /v1/stats/evidence-reuse, through real HTTP, on SQLite
and PostgreSQL: the counts, the empty pairs, region scoping, CSV/XLSX, 403/422/503 and
min_position.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.api.helpers import (
    LARGE_A, LARGE_B, PDF, REGION_A, REGION_B, UMKM_A, UMKM_B, assert_problem, events, expect,
    post, propose, register_business, upload,
)
from tests.conftest import bearer

UPWARD = [("mikro", "kecil"), ("mikro", "menengah"), ("mikro", "besar"),
          ("kecil", "menengah"), ("kecil", "besar"), ("menengah", "besar")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# UMKM beyond those of the helpers: (nib, registered scale, region)
U1 = ("3216020000011", "mikro", "32.16.02")
U2 = ("3216010000012", "kecil", "32.16.01")
U3 = ("3317010000013", "mikro", "33.17.01")
U5 = ("3216010000015", "menengah", "32.16.01")

# (nib, to scale, effective date), recorded in this order
SCALE_CHANGES = [
    (UMKM_A, "kecil", "2024-02-01"),      # A: mikro -> kecil
    (UMKM_A, "menengah", "2024-06-01"),   # A: kecil -> menengah
    (U2[0], "menengah", "2024-03-01"),    # A: kecil -> menengah
    (U2[0], "kecil", "2024-04-01"),       # A: a move down, never counted
    (UMKM_B, "kecil", "2024-05-05"),      # B: mikro -> kecil
    (U3[0], "kecil", "2024-12-31"),       # B: mikro -> kecil, on the last day of 2024
    (U1[0], "kecil", "2023-12-31"),       # A (32.16.02): the day before 2024
    (U1[0], "menengah", "2025-01-01"),    # A (32.16.02): the day after 2024
    (U5[0], "besar", "2024-01-01"),       # A: menengah -> besar, on the first day of 2024
]


def counts(body: dict[str, Any]) -> dict[tuple[str, str], int]:
    assert [(i["from_scale"], i["to_scale"]) for i in body["items"]] == UPWARD
    assert body["total"] == sum(i["count"] for i in body["items"])
    return {(i["from_scale"], i["to_scale"]): i["count"] for i in body["items"] if i["count"]}


@pytest.fixture
def admin(make_token) -> str:  # type: ignore[no-untyped-def]
    return make_token("admin")


@pytest.fixture
def scales(client, admin, clock) -> int:  # type: ignore[no-untyped-def]
    """Businesses in two regions and their scale changes; returns the last write's position.
    The businesses are registered (effective) in 2022, before every change."""
    today = clock.now
    clock.now = datetime(2022, 1, 3, 3, 0, tzinfo=timezone.utc)
    for nib, scale, region in ((LARGE_A, "besar", REGION_A), (UMKM_A, "mikro", REGION_A + ".01"),
                               (LARGE_B, "besar", REGION_B), (UMKM_B, "mikro", REGION_B + ".01"),
                               U1, U2, U3, U5):
        register_business(client, admin, nib, scale, region)
    clock.now = today
    position = 0
    for nib, scale, day in SCALE_CHANGES:
        position = expect(client.post(f"/v1/businesses/{nib}/scale-changes", headers=bearer(admin),
                                      json={"scale": scale, "effective_date": day}), 201)["position"]
    return position


def get_scale(client: Any, token: str, **params: Any) -> Any:
    return client.get("/v1/stats/scale-upgrades", headers=bearer(token), params=params)


YEAR_2024 = {"from": "2024-01-01", "to": "2024-12-31"}


# ---- naik kelas ------------------------------------------------------------------------------

def test_naik_kelas_counts_every_upward_pair_by_effective_date_inclusive(
        client, admin, scales) -> None:  # type: ignore[no-untyped-def]
    body = expect(get_scale(client, admin, **YEAR_2024), 200)
    assert counts(body) == {("mikro", "kecil"): 3, ("kecil", "menengah"): 2,
                            ("menengah", "besar"): 1}
    assert body["total"] == 6
    assert body["from"] == "2024-01-01" and body["to"] == "2024-12-31"
    assert body["region"] == ""
    assert body["position"] >= scales
    assert body["as_of"].endswith("+07:00")
    # the boundaries move the count exactly by the changes on the edge days
    body = expect(get_scale(client, admin, **{"from": "2024-01-02", "to": "2024-12-30"}), 200)
    assert counts(body) == {("mikro", "kecil"): 2, ("kecil", "menengah"): 2}


def test_naik_kelas_follows_the_dated_history_when_changes_arrive_back_dated(
        client, admin) -> None:  # type: ignore[no-untyped-def]
    """Counted from the history in effective-date order, not from each change as recorded:
    besar from 2022-06-01, then from 2022-01-01 is one naik kelas (it was two); kecil from
    2022-06-01, then menengah from 2022-01-01 is mikro -> menengah and a move down (it was
    mikro -> kecil and mikro -> menengah)."""
    first, second = ("3216030000201", "32.16.03"), ("3216030000202", "32.16.03")
    for nib, region in (first, second):
        register_business(client, admin, nib, "mikro", region)
    position = 0
    for nib, scale, day in ((first[0], "besar", "2022-06-01"), (first[0], "besar", "2022-01-01"),
                            (second[0], "kecil", "2022-06-01"),
                            (second[0], "menengah", "2022-01-01")):
        position = expect(client.post(f"/v1/businesses/{nib}/scale-changes",
                                      headers=bearer(admin),
                                      json={"scale": scale, "effective_date": day}),
                          201)["position"]
    body = expect(get_scale(client, admin, region="32.16.03", min_position=position,
                            **{"from": "2022-01-01", "to": "2022-12-31"}), 200)
    assert counts(body) == {("mikro", "besar"): 1, ("mikro", "menengah"): 1}


def test_naik_kelas_by_region_counts_businesses_registered_in_it(
        client, admin, scales) -> None:  # type: ignore[no-untyped-def]
    a = expect(get_scale(client, admin, region=REGION_A, **YEAR_2024), 200)
    assert counts(a) == {("mikro", "kecil"): 1, ("kecil", "menengah"): 2, ("menengah", "besar"): 1}
    assert a["region"] == REGION_A
    b = expect(get_scale(client, admin, region=REGION_B, **YEAR_2024), 200)
    assert counts(b) == {("mikro", "kecil"): 2}
    # a region with changes only outside the period: every pair present, all 0
    empty = expect(get_scale(client, admin, region="32.16.02", **YEAR_2024), 200)
    assert counts(empty) == {} and empty["total"] == 0 and len(empty["items"]) == 6
    wide = expect(get_scale(client, admin, region="32.16.02",
                            **{"from": "2023-01-01", "to": "2025-12-31"}), 200)
    assert counts(wide) == {("mikro", "kecil"): 1, ("kecil", "menengah"): 1}
    # whole segments: 32.1 is no prefix of 32.16 (and is refused as a region code)
    assert_problem(get_scale(client, admin, region="32.1", **YEAR_2024), 422)


def test_naik_kelas_defaults_to_the_current_year_up_to_today(
        client, admin, scales) -> None:  # type: ignore[no-untyped-def]
    body = expect(get_scale(client, admin), 200)  # the test clock says 2024-03-01 (WIB)
    assert body["from"] == "2024-01-01" and body["to"] == "2024-03-01"
    assert counts(body) == {("mikro", "kecil"): 1, ("kecil", "menengah"): 1,
                            ("menengah", "besar"): 1}


def test_dinas_and_auditors_read_their_region_and_are_refused_outside_it(
        client, make_token, scales) -> None:  # type: ignore[no-untyped-def]
    dinas_a = make_token("dinas", region=REGION_A)
    own = expect(get_scale(client, dinas_a, **YEAR_2024), 200)
    assert own["region"] == REGION_A
    assert counts(own) == {("mikro", "kecil"): 1, ("kecil", "menengah"): 2,
                           ("menengah", "besar"): 1}
    inner = expect(get_scale(client, dinas_a, region="32.16.02",
                             **{"from": "2023-01-01", "to": "2025-12-31"}), 200)
    assert counts(inner) == {("mikro", "kecil"): 1, ("kecil", "menengah"): 1}
    for outside in (REGION_B, "32", "32.17"):
        assert_problem(get_scale(client, dinas_a, region=outside, **YEAR_2024), 403)
    auditor_b = make_token("auditor", region=REGION_B)
    assert counts(expect(get_scale(client, auditor_b, **YEAR_2024), 200)) == {
        ("mikro", "kecil"): 2}
    assert_problem(get_scale(client, auditor_b, region=REGION_A, **YEAR_2024), 403)
    national = make_token("auditor", region="")
    assert expect(get_scale(client, national, **YEAR_2024), 200)["total"] == 6
    assert expect(get_scale(client, national, region=REGION_B, **YEAR_2024), 200)["total"] == 2


@pytest.mark.parametrize("path", ["/v1/stats/scale-upgrades", "/v1/stats/evidence-reuse"])
def test_companies_and_umkm_may_never_read_these_statistics(
        client, reuse, path: str) -> None:  # type: ignore[no-untyped-def]
    for token in (reuse["company_a"], reuse["umkm_a"]):
        assert_problem(client.get(path, headers=bearer(token)), 403)
        assert_problem(client.get(path, headers=bearer(token),
                                  params={"format": "csv", "region": REGION_A}), 403)
    assert_problem(client.get(path), 401)


def test_from_after_to_and_bad_parameters_are_422_with_errors(
        client, admin) -> None:  # type: ignore[no-untyped-def]
    body = assert_problem(get_scale(client, admin, **{"from": "2024-05-01", "to": "2024-04-30"}),
                          422)
    assert body["errors"][0]["field"] == "from"
    # only `to`: `from` defaults to 1 January of its year, so a lone `from` after today is 422
    assert_problem(get_scale(client, admin, **{"from": "2024-12-01"}), 422)
    for params in ({"from": "2024-13-01"}, {"to": "20240101"}, {"format": "pdf"},
                   {"region": "32.160"}, {"min_position": -1}):
        body = assert_problem(get_scale(client, admin, **params), 422)
        assert body["errors"] and {"field", "message"} <= set(body["errors"][0])
    for params in ({"cursor": "not-a-sha"}, {"limit": 0}, {"limit": 1001}, {"format": "XLSX"}):
        body = assert_problem(client.get("/v1/stats/evidence-reuse", headers=bearer(admin),
                                         params=params), 422)
        assert body["errors"]


def test_min_position_waits_for_the_write_or_answers_503(
        client, admin, scales) -> None:  # type: ignore[no-untyped-def]
    w = expect(client.post(f"/v1/businesses/{U3[0]}/scale-changes", headers=bearer(admin),
                           json={"scale": "menengah", "effective_date": "2024-12-31"}), 201)
    body = expect(get_scale(client, admin, min_position=w["position"], **YEAR_2024), 200)
    assert body["position"] >= w["position"]
    assert counts(body)[("kecil", "menengah")] == 3  # the write just made is counted
    for path in ("/v1/stats/scale-upgrades", "/v1/stats/evidence-reuse"):
        r = client.get(path, headers=bearer(admin), params={"min_position": w["position"] + 1000})
        assert_problem(r, 503)
        assert r.headers["retry-after"] == "1"


def _xlsx_rows(content: bytes) -> tuple[list[str], list[list[Any]]]:
    ws = load_workbook(io.BytesIO(content)).active
    values = [[c.value for c in row] for row in ws.iter_rows()]
    assert ws.freeze_panes == "A2"
    assert all(c.font.bold for c in ws[1])
    return values[0], values[1:]


def _plain(value: Any) -> Any:
    """An XLSX cell as the JSON shows it (dates are datetime cells at midnight)."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    return value


def test_naik_kelas_as_csv_and_xlsx_has_the_same_rows_as_the_json(
        client, admin, scales) -> None:  # type: ignore[no-untyped-def]
    params = {"region": REGION_A, **YEAR_2024}
    items = expect(get_scale(client, admin, **params), 200)["items"]
    r = get_scale(client, admin, format="csv", **params)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"].startswith("attachment; filename=")
    assert int(r.headers["x-position"]) >= scales
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows == [{k: str(v) for k, v in i.items()} for i in items]
    r = get_scale(client, admin, format="xlsx", **params)
    assert r.status_code == 200 and r.headers["content-type"] == XLSX
    header, rows = _xlsx_rows(r.content)
    assert header == ["Dari skala", "Ke skala", "Jumlah naik kelas"]
    assert rows == [[i["from_scale"], i["to_scale"], i["count"]] for i in items]


# ---- evidence reuse --------------------------------------------------------------------------

def pdf(n: int) -> bytes:
    return PDF + f"% file {n}\n".encode()


@pytest.fixture
def reuse(client, admin, make_token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """P1, P2 in region A; P3 in region B; P4 between B's large party and A's UMKM.
    F1 -> P1 (company), P2 (umkm); F2 -> P1, P3; F3 -> P3 twice; F4 -> P2, P4; F5 -> P1 only."""
    for nib, scale, region in ((LARGE_A, "besar", REGION_A), (UMKM_A, "mikro", REGION_A + ".01"),
                               (LARGE_B, "besar", REGION_B), (UMKM_B, "mikro", REGION_B + ".01")):
        register_business(client, admin, nib, scale, region)
    company_a = make_token("company", nibs=[LARGE_A])
    company_b = make_token("company", nibs=[LARGE_B])
    umkm_a = make_token("umkm", nibs=[UMKM_A])
    p1 = propose(client, company_a, LARGE_A, UMKM_A, REGION_A, title="Kontrak satu")["id"]
    p2 = propose(client, company_a, LARGE_A, UMKM_A, REGION_A, title="Kontrak dua")["id"]
    p3 = propose(client, company_b, LARGE_B, UMKM_B, REGION_B, title="Kontrak tiga")["id"]
    p4 = propose(client, company_b, LARGE_B, UMKM_A, REGION_B, title="Kontrak empat")["id"]
    sha: dict[str, str] = {}
    position = 0
    for name, n, pid, token, kind in (
            ("F1", 1, p1, company_a, "perjanjian"), ("F1", 1, p2, umkm_a, "invoice"),
            ("F2", 2, p1, company_a, "invoice"), ("F2", 2, p3, company_b, "invoice"),
            ("F3", 3, p3, company_b, "perjanjian"), ("F3", 3, p3, company_b, "perjanjian"),
            ("F4", 4, p2, company_a, "shelf_photo"), ("F4", 4, p4, umkm_a, "shelf_photo"),
            ("F5", 5, p1, company_a, "delivery_note")):
        w = expect(upload(client, token, pid, pdf(n), kind=kind), 201)
        sha[name] = w["sha256"]
        position = w["position"]
    return {"p": [p1, p2, p3, p4], "sha": sha, "position": position, "company_a": company_a,
            "umkm_a": umkm_a, "company_b": company_b}


def get_reuse(client: Any, token: str, **params: Any) -> Any:
    return client.get("/v1/stats/evidence-reuse", headers=bearer(token), params=params)


def test_files_used_for_two_partnerships_are_listed_with_partnerships_and_submitters(
        client, admin, reuse) -> None:  # type: ignore[no-untyped-def]
    p1, p2, p3, p4 = reuse["p"]
    sha = reuse["sha"]
    body = expect(get_reuse(client, admin, min_position=reuse["position"]), 200)
    assert body["position"] >= reuse["position"] and body["next_cursor"] is None
    assert body["region"] == ""
    by_sha = {f["sha256"]: f for f in body["items"]}
    # F3 went twice to one partnership, F5 once: neither is reuse
    assert set(by_sha) == {sha["F1"], sha["F2"], sha["F4"]}
    assert [f["sha256"] for f in body["items"]] == sorted(by_sha)
    f1 = by_sha[sha["F1"]]
    assert f1["partnership_count"] == 2 and f1["submission_count"] == 2
    assert {p["id"]: p for p in f1["partnerships"]} == {
        p1: {"id": p1, "large_nib": LARGE_A, "umkm_nib": UMKM_A, "title": "Kontrak satu"},
        p2: {"id": p2, "large_nib": LARGE_A, "umkm_nib": UMKM_A, "title": "Kontrak dua"}}
    # the submitters are the principals the partnerships' own histories name
    submitted = {}
    for pid in (p1, p2):
        for e in events(client, admin, pid):
            if e["type"] == "Partnership.EvidenceSubmitted" and e["data"]["sha256"] == sha["F1"]:
                submitted[e["data"]["evidence_id"]] = (pid, e["data"]["kind"], e["actor"],
                                                       e["recorded_at"], e["data"])
    assert len(submitted) == 2
    for s in f1["submissions"]:
        pid, kind, actor, recorded_at, _ = submitted[s["evidence_id"]]
        assert (s["partnership_id"], s["kind"]) == (pid, kind)
        assert (s["submitted_by"], s["submitter_role"]) == (actor["principal_id"], actor["role"])
        assert s["submitted_at"] == recorded_at
        assert s["effective_date"] == "2024-03-01"
    assert {s["submitter_role"] for s in f1["submissions"]} == {"company", "umkm"}
    f4 = by_sha[sha["F4"]]
    assert {p["id"] for p in f4["partnerships"]} == {p2, p4}
    assert {p["id"] for p in by_sha[sha["F2"]]["partnerships"]} == {p1, p3}


def test_region_scope_counts_only_partnerships_touching_the_region(
        client, admin, make_token, reuse) -> None:  # type: ignore[no-untyped-def]
    p1, p2, p3, p4 = reuse["p"]
    sha = reuse["sha"]
    a = expect(get_reuse(client, admin, region=REGION_A), 200)
    # F2 was also used for P3, which lies wholly in B: in A it is one partnership, no reuse
    assert {f["sha256"] for f in a["items"]} == {sha["F1"], sha["F4"]}
    # P4 touches A through its UMKM party, B through its large party
    f4 = next(f for f in a["items"] if f["sha256"] == sha["F4"])
    assert {p["id"] for p in f4["partnerships"]} == {p2, p4}
    assert expect(get_reuse(client, admin, region=REGION_B), 200)["items"] == []
    assert expect(get_reuse(client, admin, region="32.16.01"), 200)["items"] == a["items"]
    # the same answers for a dinas of A (no region = its prefix) and an auditor of B
    dinas_a = make_token("dinas", region=REGION_A)
    assert expect(get_reuse(client, dinas_a), 200)["items"] == a["items"]
    assert_problem(get_reuse(client, dinas_a, region=REGION_B), 403)
    auditor_b = make_token("auditor", region=REGION_B)
    assert expect(get_reuse(client, auditor_b), 200)["items"] == []
    assert_problem(get_reuse(client, auditor_b, region="33"), 403)
    national = make_token("auditor", region="")
    assert len(expect(get_reuse(client, national), 200)["items"]) == 3


def test_the_current_title_is_shown_after_an_amendment(
        client, admin, reuse) -> None:  # type: ignore[no-untyped-def]
    p1 = reuse["p"][0]
    expect(post(client, reuse["company_a"], p1, "amend", {"title": "Kontrak satu (revisi)"}), 200)
    items = expect(get_reuse(client, admin), 200)["items"]
    f1 = next(f for f in items if f["sha256"] == reuse["sha"]["F1"])
    titles = {p["id"]: p["title"] for p in f1["partnerships"]}
    assert titles[p1] == "Kontrak satu (revisi)"


def test_pages_follow_the_cursor_in_json_and_in_files(
        client, admin, reuse) -> None:  # type: ignore[no-untyped-def]
    seen, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = expect(get_reuse(client, admin, **params), 200)
        assert len(page["items"]) == 1
        seen.append(page["items"][0]["sha256"])
        csv_r = get_reuse(client, admin, format="csv", **params)
        assert csv_r.headers.get("x-next-cursor") == page["next_cursor"]
        assert {r["sha256"] for r in csv.DictReader(io.StringIO(csv_r.text))} == set(seen[-1:])
        cursor = page["next_cursor"]
        if cursor is None:
            assert "link" not in csv_r.headers
            break
        assert csv_r.headers["link"].endswith('rel="next"') and cursor in csv_r.headers["link"]
    assert seen == sorted({reuse["sha"][f] for f in ("F1", "F2", "F4")})


def _flatten(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for f in items:
        parties = {p["id"]: p for p in f["partnerships"]}
        for s in f["submissions"]:
            p = parties[s["partnership_id"]]
            rows.append({"sha256": f["sha256"], "partnership_count": f["partnership_count"],
                         "submission_count": f["submission_count"],
                         "evidence_id": s["evidence_id"], "kind": s["kind"],
                         "partnership_id": s["partnership_id"], "large_nib": p["large_nib"],
                         "umkm_nib": p["umkm_nib"], "title": p["title"],
                         "submitted_by": s["submitted_by"],
                         "submitter_role": s["submitter_role"],
                         "submitted_at": s["submitted_at"], "effective_date": s["effective_date"]})
    return rows


def test_evidence_reuse_as_csv_and_xlsx_has_one_row_per_submission_as_in_the_json(
        client, admin, reuse) -> None:  # type: ignore[no-untyped-def]
    expected = _flatten(expect(get_reuse(client, admin), 200)["items"])
    assert len(expected) == 6
    r = get_reuse(client, admin, format="csv")
    assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows == [{k: str(v) for k, v in e.items()} for e in expected]
    r = get_reuse(client, admin, format="xlsx")
    assert r.status_code == 200 and r.headers["content-type"] == XLSX
    header, rows = _xlsx_rows(r.content)
    assert header[0] == "SHA-256 berkas" and len(header) == len(expected[0])
    assert [[_plain(v) for v in row] for row in rows] == [list(e.values()) for e in expected]
    assert isinstance(rows[0][header.index("Tanggal efektif")], datetime)
    assert date.fromisoformat(expected[0]["effective_date"]) == \
        rows[0][header.index("Tanggal efektif")].date()


def test_the_views_rebuilt_from_scratch_answer_the_same(
        client, admin, clock, container, reuse) -> None:  # type: ignore[no-untyped-def]
    today = clock.now
    clock.now = datetime(2022, 1, 3, 3, 0, tzinfo=timezone.utc)
    for nib, scale, region in (U1, U2, U3, U5):
        register_business(client, admin, nib, scale, region)
    clock.now = today
    for nib, scale, day in SCALE_CHANGES[2:]:
        expect(client.post(f"/v1/businesses/{nib}/scale-changes", headers=bearer(admin),
                           json={"scale": scale, "effective_date": day}), 201)
    before = (expect(get_scale(client, admin, **YEAR_2024), 200)["items"],
              expect(get_reuse(client, admin), 200)["items"])
    assert container.views.rebuild(["scale_upgrades", "evidence_reuse"]) > 0
    after = (expect(get_scale(client, admin, **YEAR_2024), 200)["items"],
             expect(get_reuse(client, admin), 200)["items"])
    assert after == before
    assert sum(i["count"] for i in after[0]) == 4 and len(after[1]) == 3

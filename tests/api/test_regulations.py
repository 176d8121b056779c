"""Regulations through real HTTP: enact, amend, revoke, read a version, the schema, and 422s
that name the JSON path of every problem."""

from __future__ import annotations

import copy
from typing import Any

from tests.api.helpers import LARGE_A, assert_problem, expect, register_business
from tests.conftest import bearer


def pack(**overrides: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "id": "perbup-bekasi-73-2020", "title": "Perbup Bekasi 73/2020", "instrument": "perbup",
        "region_code": "32.16", "effective_from": "2021-01-01", "effective_to": None,
        "source_url": "https://example.invalid", "obligations": [{
            "id": "ritel", "description": "x",
            "applies_to": {"scale": ["besar"], "kbli_prefix": ["4711"], "region_prefix": "32.16"},
            "measure": "real_partnerships",
            "partner_filter": {"scale": ["mikro"], "region_prefix": "32.16"},
            "period": "year", "at_least": 5, "illustrative": True,
            "source_note": "no number published"}]}
    p.update(overrides)
    return p


def test_enact_amend_revoke_and_read_versions(client, make_token):
    dinas = bearer(make_token("dinas", region="32.16"))
    body = expect(client.post("/v1/regulations", headers=dinas, json=pack()), 201)
    assert (body["id"], body["version"]) == ("perbup-bekasi-73-2020", 1) and body["position"]
    assert_problem(client.post("/v1/regulations", headers=dinas, json=pack()), 409)
    body = expect(client.put("/v1/regulations/perbup-bekasi-73-2020", headers=dinas,
                             json=pack(effective_from="2024-01-01", title="v2")), 200)
    assert body["version"] == 2
    assert_problem(client.put("/v1/regulations/perbup-bekasi-73-2020", headers=dinas,
                              json=pack(effective_from="2020-01-01")), 409)
    v1 = expect(client.get("/v1/regulations/perbup-bekasi-73-2020?version=1", headers=dinas), 200)
    assert v1["pack"]["title"] == "Perbup Bekasi 73/2020" and v1["version"] == 1
    now = expect(client.get("/v1/regulations/perbup-bekasi-73-2020", headers=dinas), 200)
    assert [v["effective_to"] for v in now["versions"]] == ["2023-12-31", None]
    expect(client.post("/v1/regulations/perbup-bekasi-73-2020/revoke", headers=dinas,
                       json={"effective_date": "2025-01-01", "reason": "dicabut"}), 200)
    assert_problem(client.post("/v1/regulations/perbup-bekasi-73-2020/revoke", headers=dinas,
                               json={"effective_date": "2025-01-01", "reason": "x"}), 409)


def test_a_revocation_before_the_current_version_starts_is_a_422_on_effective_date(
        client, make_token):
    """ADR 0012: a revocation may not take effect before the current (latest) version's
    effective_from, also not between an earlier version's start and it; on that day it may."""
    dinas = bearer(make_token("dinas", region="32.16"))
    url = "/v1/regulations/perbup-bekasi-73-2020"
    expect(client.post("/v1/regulations", headers=dinas, json=pack()), 201)
    expect(client.put(url, headers=dinas, json=pack(effective_from="2024-01-01", title="v2")), 200)
    for day in ("2020-06-01", "2022-06-01", "2023-12-31"):
        body = assert_problem(client.post(f"{url}/revoke", headers=dinas,
                                          json={"effective_date": day, "reason": "dicabut"}), 422)
        assert [e["field"] for e in body["errors"]] == ["effective_date"], body
        assert "must not precede 2024-01-01" in body["errors"][0]["message"], body
    now = expect(client.get(url, headers=dinas), 200)
    assert now["revoked_on"] is None and now["version"] == 2
    expect(client.post(f"{url}/revoke", headers=dinas,
                       json={"effective_date": "2024-01-01", "reason": "dicabut"}), 200)
    now = expect(client.get(url, headers=dinas), 200)
    assert now["revoked_on"] == "2024-01-01"
    assert [v["effective_to"] for v in now["versions"]] == ["2023-12-31", "2023-12-31"]


def test_roles_and_scopes(client, make_token):
    admin = bearer(make_token("admin"))
    rembang = bearer(make_token("dinas", region="33.17"))
    auditor = bearer(make_token("auditor", region="33.17"))
    register_business(client, admin["Authorization"][7:], LARGE_A, "besar", "32.16")
    company = bearer(make_token("company", nibs=[LARGE_A]))
    assert_problem(client.post("/v1/regulations", headers=rembang, json=pack()), 403)
    assert_problem(client.post("/v1/regulations", headers=auditor, json=pack()), 403)
    assert_problem(client.post("/v1/regulations", headers=company, json=pack()), 403)
    expect(client.post("/v1/regulations", headers=admin, json=pack()), 201)
    assert_problem(client.get("/v1/regulations/perbup-bekasi-73-2020", headers=rembang), 404)
    assert_problem(client.get("/v1/regulations/perbup-bekasi-73-2020", headers=auditor), 404)
    expect(client.get("/v1/regulations/perbup-bekasi-73-2020", headers=company), 200)
    assert client.get("/v1/regulations/schema").status_code == 401
    schema = expect(client.get("/v1/regulations/schema", headers=company), 200)
    assert "obligations" in schema["properties"]


def test_a_bad_pack_names_every_json_path(client, make_token):
    admin = bearer(make_token("admin"))
    bad = pack(extra_field=1)
    bad["obligations"][0]["measure"] = "vibes"
    bad["obligations"].append(copy.deepcopy(bad["obligations"][0]) | {"period": "month"})
    body = assert_problem(client.post("/v1/regulations", headers=admin, json=bad), 422)
    fields = {e["field"] for e in body["errors"]}
    assert {"extra_field", "obligations[0].measure", "obligations[1].measure",
            "obligations[1].period"} <= fields, fields
    semantic = pack(effective_to="2020-01-01")
    semantic["obligations"][0].update(measure="share", at_least=None)
    body = assert_problem(client.post("/v1/regulations", headers=admin, json=semantic), 422)
    assert {e["field"] for e in body["errors"]} == {
        "effective_to", "obligations[0].unit", "obligations[0].of_fact",
        "obligations[0].at_least_pct"}


def test_list_by_region_includes_parents_and_children(client, make_token):
    admin = bearer(make_token("admin"))
    w = expect(client.post("/v1/regulations", headers=admin, json=pack()), 201)
    national = pack(id="permendag-23-2021-pasal-7", region_code="", instrument="permen")
    expect(client.post("/v1/regulations", headers=admin, json=national), 201)
    rembang = pack(id="perda-rembang-x", region_code="33.17")
    last = expect(client.post("/v1/regulations", headers=admin, json=rembang), 201)
    expect(client.post("/v1/regulations/perbup-bekasi-73-2020/revoke", headers=admin,
                       json={"effective_date": "2025-01-01", "reason": "x"}), 200)
    body = expect(client.get(f"/v1/regulations?region=32.16.01&min_position={last['position']}",
                             headers=admin), 200)
    assert {i["id"] for i in body["items"]} == {"perbup-bekasi-73-2020",
                                                "permendag-23-2021-pasal-7"}
    assert w["position"] <= body["position"]
    assert body["as_of"].endswith("+07:00")  # instants are shown in WIB (ADR 0006)
    every = expect(client.get("/v1/regulations?region=33", headers=admin), 200)
    assert {i["id"] for i in every["items"]} == {"perda-rembang-x", "permendag-23-2021-pasal-7"}


def test_the_list_pages_with_a_cursor_and_answers_csv_and_xlsx(client, make_token):
    """Contract, Conventions: list endpoints take limit and cursor; Spreadsheets: every list
    also answers format=csv|xlsx."""
    admin = bearer(make_token("admin"))
    ids = []
    for i, region in enumerate(["32.16", "33.17", "32.16", "64.71", ""]):
        rid = f"aturan-contoh-{i}"
        ids.append(rid)
        p = pack(id=rid, region_code=region, title=f"Aturan {i}")
        p["obligations"][0]["applies_to"]["region_prefix"] = region
        p["obligations"][0]["partner_filter"]["region_prefix"] = region
        written = expect(client.post("/v1/regulations", headers=admin, json=p), 201)
    seen, cursor, pages = [], None, 0
    while True:
        page = expect(client.get("/v1/regulations", headers=admin, params={
            "limit": 2, "min_position": written["position"], **({"cursor": cursor} if cursor
                                                                else {})}), 200)
        assert len(page["items"]) <= 2 and page["position"] >= written["position"]
        seen += [(r["region_code"], r["id"]) for r in page["items"]]
        pages, cursor = pages + 1, page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and seen == sorted(seen) and sorted(r for _, r in seen) == ids
    first = client.get("/v1/regulations", headers=admin, params={"limit": 2, "format": "csv"})
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/csv")
    lines = first.text.strip().splitlines()
    assert lines[0].startswith("id,title,instrument,region_code") and len(lines) == 3
    assert "X-Next-Cursor" in first.headers and "X-Position" in first.headers
    xlsx = client.get("/v1/regulations", headers=admin, params={"format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert_problem(client.get("/v1/regulations", headers=admin, params={"cursor": "eA"}), 422)

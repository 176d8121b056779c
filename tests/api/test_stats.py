"""GET /v1/stats/partnerships over real HTTP: the funnel, who may ask about which region,
the default period, 422s, min_position, and the spreadsheet formats."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import pytest

from tests.api.helpers import (
    LARGE_A, LARGE_B, REGION_A, REGION_B, UMKM_A, UMKM_B, assert_problem, expect, post,
    propose, register_business, upload,
)
from tests.conftest import bearer

URL = "/v1/stats/partnerships"


class Ledger:
    def __init__(self, client: Any, make_token: Any) -> None:
        self.client = client
        self.admin = make_token("admin")
        for nib, scale, region in ((LARGE_A, "besar", REGION_A), (UMKM_A, "mikro", REGION_A),
                                   (LARGE_B, "besar", REGION_B), (UMKM_B, "kecil", REGION_B)):
            register_business(client, self.admin, nib, scale, region)

    def real(self, large: str, umkm: str, region: str, **extra: Any) -> int:
        """A partnership made real in Q1 2024 through the front door; returns the position."""
        pid = propose(self.client, self.admin, large, umkm, region, **extra)["id"]
        expect(post(self.client, self.admin, pid, "confirm", {}), 200)
        perjanjian = expect(upload(self.client, self.admin, pid), 201)["evidence_id"]
        expect(post(self.client, self.admin, pid, f"evidence/{perjanjian}/review",
                    {"decision": "verified"}), 200)
        invoice = expect(upload(self.client, self.admin, pid, kind="invoice"), 201)["evidence_id"]
        expect(post(self.client, self.admin, pid, f"evidence/{invoice}/review",
                    {"decision": "verified"}), 200)
        return expect(post(self.client, self.admin, pid, "realizations", {
            "period_start": "2024-02-01", "period_end": "2024-02-29", "value_idr": 1_000_000,
            "evidence_ids": [invoice]}), 201)["position"]

    def get(self, token: str, **params: Any) -> Any:
        return self.client.get(URL, params=params, headers=bearer(token))


@pytest.fixture
def ledger(client, make_token) -> Ledger:  # type: ignore[no-untyped-def]
    return Ledger(client, make_token)


def test_the_funnel_answers_every_pola_and_the_real_figures(ledger: Ledger) -> None:
    ledger.real(LARGE_A, UMKM_A, REGION_A)
    ledger.real(LARGE_A, UMKM_A, REGION_A)  # the same relationship again
    propose(ledger.client, ledger.admin, LARGE_B, UMKM_B, REGION_B, pola="subkontrak")
    body = expect(ledger.get(ledger.admin, **{"from": "2024-01-01", "to": "2024-03-31"}), 200)
    assert (body["from"], body["to"]) == ("2024-01-01", "2024-03-31")
    assert body["position"] > 0 and body["as_of"].endswith("+07:00")
    assert body["totals"] == {
        "reported": 3, "confirmed": 2, "documented": 2, "real": 2, "real_relationships": 1,
        "large_partners": 1, "umkm_partners": 1, "agreement_value_idr": 300_000_000,
        "realization_value_idr": 2_000_000}
    groups = {g["key"]: g for g in body["groups"]}
    assert len(groups) == 11 and groups["waralaba"]["reported"] == 0
    assert (groups["rantai_pasok"]["real"], groups["subkontrak"]["reported"]) == (2, 1)


def test_the_period_defaults_to_the_current_quarter_in_jakarta(ledger: Ledger) -> None:
    body = expect(ledger.get(ledger.admin), 200)  # the clock says 2024-03-01
    assert (body["from"], body["to"]) == ("2024-01-01", "2024-03-31")


def test_group_by_region_cuts_the_location_one_segment_below_the_filter(
        ledger: Ledger) -> None:
    ledger.real(LARGE_A, UMKM_A, "32.16.01")
    ledger.real(LARGE_B, UMKM_B, "33.17.02.2001")
    national = expect(ledger.get(ledger.admin, group_by="region"), 200)
    assert {g["key"]: g["real"] for g in national["groups"]} == {"32": 1, "33": 1}
    kab = expect(ledger.get(ledger.admin, group_by="region", region=REGION_B), 200)
    assert {g["key"]: g["real"] for g in kab["groups"]} == {"33.17.02": 1}


def test_a_dinas_reads_its_region_by_default_and_gets_403_outside_it(
        ledger: Ledger, make_token: Any) -> None:
    ledger.real(LARGE_A, UMKM_A, "32.16.01")
    ledger.real(LARGE_B, UMKM_B, REGION_B)
    dinas = make_token("dinas", region=REGION_A)
    own = expect(ledger.get(dinas), 200)
    assert own["totals"]["real"] == 1
    assert expect(ledger.get(dinas, region="32.16.01"), 200)["totals"]["reported"] == 1
    assert expect(ledger.get(dinas, region="32.16.02"), 200)["totals"]["reported"] == 0
    assert_problem(ledger.get(dinas, region=REGION_B), 403)
    assert_problem(ledger.get(dinas, region="32"), 403)  # wider than its scope


def test_auditors_read_their_scope_and_a_national_auditor_reads_everything(
        ledger: Ledger, make_token: Any) -> None:
    ledger.real(LARGE_A, UMKM_A, REGION_A)
    ledger.real(LARGE_B, UMKM_B, REGION_B)
    assert expect(ledger.get(make_token("auditor", region="")), 200)["totals"]["real"] == 2
    regional = make_token("auditor", region=REGION_B)
    assert expect(ledger.get(regional), 200)["totals"]["real"] == 1
    assert_problem(ledger.get(regional, region=REGION_A), 403)


def test_company_and_umkm_tokens_may_not_read_statistics(ledger: Ledger,
                                                         make_token: Any) -> None:
    assert_problem(ledger.get(make_token("company", nibs=[LARGE_A])), 403)
    assert_problem(ledger.get(make_token("umkm", nibs=[UMKM_A])), 403)
    assert_problem(ledger.client.get(URL), 401)


@pytest.mark.parametrize("params,field", [
    ({"from": "2024-04-01", "to": "2024-01-01"}, "from"),
    ({"from": "2024-13-01"}, "from"),
    ({"to": "1714521600"}, "to"),
    ({"group_by": "kecamatan"}, "group_by"),
    ({"region": "32.1"}, "region"),
])
def test_invalid_parameters_are_422_naming_the_field(ledger: Ledger, params: dict,
                                                     field: str) -> None:
    body = assert_problem(ledger.get(ledger.admin, **params), 422)
    assert field in [e["field"] for e in body["errors"]], body


def test_min_position_waits_for_the_write_or_answers_503(ledger: Ledger) -> None:
    written = ledger.real(LARGE_A, UMKM_A, REGION_A)
    body = expect(ledger.get(ledger.admin, min_position=written), 200)
    assert body["position"] >= written and body["totals"]["real"] == 1
    future = ledger.get(ledger.admin, min_position=written + 1000)
    assert_problem(future, 503)
    assert future.headers["Retry-After"] == "1"


def test_a_quarter_computed_before_a_write_answers_as_of_then_until_min_position_asks_more(
        ledger: Ledger, container: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from projections import funnel_cube

    ledger.real(LARGE_A, UMKM_A, REGION_A)
    container.views.catch_up()
    with container.engine.begin() as conn:
        computed_at = funnel_cube.refresh(conn, "2024-Q1")
    quarter = {"from": "2024-01-01", "to": "2024-03-31"}
    before = expect(ledger.get(ledger.admin, **quarter), 200)
    assert before["totals"]["real"] == 1 and before["position"] >= computed_at

    written = ledger.real(LARGE_B, UMKM_B, REGION_B)  # a second real one in the quarter
    behind = expect(ledger.get(ledger.admin, **quarter), 200)
    assert behind["totals"] == before["totals"]  # the figures computed before the write ...
    assert behind["position"] == computed_at < written  # ... say which position they are
    assert behind["as_of"] != before["as_of"] and behind["as_of"].endswith("+07:00")
    fresh = expect(ledger.get(ledger.admin, **quarter, min_position=written), 200)
    assert fresh["totals"]["real"] == 2 and fresh["position"] >= written
    monkeypatch.setattr(container.settings, "stats_max_age", 0)  # only up-to-date figures
    exact = expect(ledger.get(ledger.admin, **quarter), 200)
    assert exact["totals"] == fresh["totals"] and exact["position"] >= written
    paged = expect(ledger.get(ledger.admin, **quarter, group_by="large_nib", limit=1), 200)
    assert paged["totals"]["real"] == 2


def test_csv_has_the_groups_and_a_totals_row(ledger: Ledger) -> None:
    ledger.real(LARGE_A, UMKM_A, REGION_A)
    response = ledger.get(ledger.admin, format="csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith(
        "text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 12 and rows[-1]["key"] == "total" and rows[-1]["real"] == "1"
    assert {r["key"]: r["real"] for r in rows}["rantai_pasok"] == "1"
    xlsx = ledger.get(ledger.admin, format="xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_the_partnership_list_filters_on_real_in_a_period(ledger: Ledger) -> None:
    ledger.real(LARGE_A, UMKM_A, REGION_A)
    unreal = propose(ledger.client, ledger.admin, LARGE_B, UMKM_B, REGION_B)["id"]

    def listed(**params: Any) -> list[str]:
        return [i["id"] for i in expect(ledger.client.get(
            "/v1/partnerships", params=params, headers=bearer(ledger.admin)), 200)["items"]]

    real_q1 = listed(real_from="2024-01-01", real_to="2024-03-31")
    assert len(real_q1) == 1 and unreal not in real_q1
    assert listed(real_from="2024-04-01", real_to="2024-06-30") == []
    for params in ({"real_from": "2024-01-01"}, {"real_to": "2024-01-01"},
                   {"real_from": "2024-03-01", "real_to": "2024-01-01"}):
        assert_problem(ledger.client.get("/v1/partnerships", params=params,
                                         headers=bearer(ledger.admin)), 422)


LARGE_C = "3216000000009"


def _pages(ledger: Ledger, query: dict[str, Any], limit: int) -> tuple[list[list[str]], list]:
    """Every page of a paged answer, following next_cursor; (keys per page, all groups)."""
    keys, groups, cursor = [], [], None
    while True:
        body = expect(ledger.get(ledger.admin, **query, limit=limit,
                                 **({"cursor": cursor} if cursor else {})), 200)
        keys.append([g["key"] for g in body["groups"]])
        groups += body["groups"]
        cursor = body["next_cursor"]
        if cursor is None:
            return keys, groups
        assert len(body["groups"]) == limit


@pytest.mark.parametrize("source", ["scan", "cells"])
def test_large_nib_groups_come_in_pages_that_add_up_to_the_whole_answer(
        ledger: Ledger, container: Any, source: str) -> None:
    from projections import funnel_cube

    register_business(ledger.client, ledger.admin, LARGE_C, "besar", REGION_A)
    ledger.real(LARGE_A, UMKM_A, REGION_A)
    for large, umkm, region in ((LARGE_B, UMKM_B, REGION_B), (LARGE_C, UMKM_A, REGION_A)):
        propose(ledger.client, ledger.admin, large, umkm, region)
    query = {"from": "2024-01-01", "to": "2024-03-31", "group_by": "large_nib"}
    if source == "cells":
        container.views.catch_up()
        with container.engine.begin() as conn:
            funnel_cube.refresh(conn, "2024-Q1")
    with container.engine.connect() as conn:
        hit = funnel_cube.cached(conn, region=None, date_from=date(2024, 1, 1),
                                 date_to=date(2024, 3, 31), group_by="large_nib")
    assert (hit is not None) == (source == "cells")

    whole = expect(ledger.get(ledger.admin, **query), 200)
    assert whole["next_cursor"] is None
    assert [g["key"] for g in whole["groups"]] == sorted([LARGE_A, LARGE_B, LARGE_C])
    keys, groups = _pages(ledger, query, 2)
    assert keys == [sorted([LARGE_A, LARGE_B, LARGE_C])[:2], sorted([LARGE_A, LARGE_B,
                                                                     LARGE_C])[2:]]
    assert groups == whole["groups"]
    one = expect(ledger.get(ledger.admin, **query, limit=2), 200)
    assert one["totals"] == whole["totals"] and one["totals"]["reported"] == 3
    # a region's pages: only what touches the region, same totals as its whole answer
    regional = {**query, "region": REGION_A}
    whole_a = expect(ledger.get(ledger.admin, **regional), 200)
    assert _pages(ledger, regional, 1)[1] == whole_a["groups"]
    # as a file: the page's rows and the next page's cursor in headers
    csv_page = ledger.get(ledger.admin, **query, limit=2, format="csv")
    rows = list(csv.DictReader(io.StringIO(csv_page.text)))
    assert [r["key"] for r in rows] == [*sorted([LARGE_A, LARGE_B, LARGE_C])[:2], "total"]
    assert csv_page.headers["X-Next-Cursor"] == one["next_cursor"]
    assert 'rel="next"' in csv_page.headers["Link"]


@pytest.mark.parametrize("params,field", [
    ({"group_by": "pola", "limit": 2}, "limit"),
    ({"group_by": "program", "cursor": "MzIuMTY"}, "cursor"),
    ({"group_by": "large_nib", "cursor": "MzIuMTY"}, "cursor"),
    ({"group_by": "large_nib", "limit": 2, "cursor": "!!"}, "cursor"),
    ({"group_by": "large_nib", "limit": 0}, "limit"),
])
def test_paging_only_where_groups_are_unbounded_and_with_a_cursor_we_issued(
        ledger: Ledger, params: dict, field: str) -> None:
    body = assert_problem(ledger.get(ledger.admin, **params), 422)
    assert field in str(body)


def test_figures_beyond_64_bits_are_answered_exactly(ledger: Ledger,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The answer is encoded by orjson, which stops at 64-bit integers; a national sum of
    rupiah is not bounded by that, and must come out exact, not as a 500."""
    from projections import funnel_cube

    huge = 3 * 9_223_372_036_854_775_807  # three maximal BigInteger agreement values
    zero = {"reported": 0, "confirmed": 0, "documented": 0, "real": 0,
            "real_relationships": 0, "large_partners": 0, "umkm_partners": 0,
            "agreement_value_idr": 0, "realization_value_idr": 0}
    figures = {**zero, "reported": 3, "real": 3, "agreement_value_idr": huge}
    monkeypatch.setattr(funnel_cube, "funnel_stats",
                        lambda conn, **kw: ([{"key": LARGE_A, **figures}], figures, None))
    r = ledger.get(ledger.admin, group_by="large_nib")
    body = expect(r, 200)
    assert r.headers["content-type"] == "application/json"
    assert body["groups"] == [{"key": LARGE_A, **figures}]
    assert body["totals"]["agreement_value_idr"] == huge


def test_a_graduation_recorded_after_registration_but_dated_before_it_cuts_only_later_days(
        ledger: Ledger) -> None:
    """The clock says 2024-03-01, the registrations' date. The UMKM's graduation to besar on
    2024-02-15 is recorded next: it was UMKM until 2024-02-14 (the registered scale is the
    baseline), besar since — not besar "before" and mikro again from its registration day."""
    position = ledger.real(LARGE_A, UMKM_A, REGION_A)
    graduated = expect(ledger.client.post(
        f"/v1/businesses/{UMKM_A}/scale-changes", headers=bearer(ledger.admin),
        json={"scale": "besar", "effective_date": "2024-02-15"}), 201)
    assert graduated["position"] > position
    after = {"min_position": graduated["position"]}

    def real(start: str, end: str) -> int:
        return expect(ledger.get(ledger.admin, **{"from": start, "to": end}, **after),
                      200)["totals"]["real"]

    assert real("2024-01-01", "2024-02-29") == 1  # UMKM days: Jan 1 .. Feb 14
    assert real("2024-02-15", "2024-02-29") == 0  # besar on every day
    assert real("2024-03-01", "2024-03-31") == 0  # still besar, not mikro again
    business = expect(ledger.client.get(f"/v1/businesses/{UMKM_A}",
                                        headers=bearer(ledger.admin)), 200)
    assert business["scale"] == "besar"
    assert [(e["scale"], e["registered"]) for e in business["scale_history"]] == [
        ("mikro", True), ("besar", False)]

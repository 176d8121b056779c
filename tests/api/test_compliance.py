"""Compliance over real HTTP: the list and the explanation, who may ask, the spreadsheets, the
bitemporal `as_of` (a realization reported after the quarter closed), and the two ways of
gathering facts (views, replay as of an instant) agreeing."""

from __future__ import annotations

import copy
import csv
import io
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.api.helpers import (
    LARGE_A, LARGE_B, REGION_A, REGION_B, UMKM_A, UMKM_B, assert_problem, expect, post,
    propose, register_business, upload,
)
from tests.conftest import bearer

UMKM_A2 = "3216010000003"
PACK: dict[str, Any] = {
    "id": "perbup-uji-kemitraan", "title": "Perbup uji (ilustrasi)", "instrument": "perbup",
    "region_code": "32.16", "effective_from": "2021-01-01", "effective_to": None,
    "source_url": "https://example.invalid/perbup-uji", "obligations": [{
        "id": "bermitra-mikro", "description": "Usaha besar bermitra dengan usaha mikro.",
        "applies_to": {"scale": ["besar"], "kbli_prefix": ["4711"], "region_prefix": "32.16"},
        "measure": "real_partnerships",
        "partner_filter": {"scale": ["mikro"], "region_prefix": "32.16"},
        "period": "quarter", "at_least": 1, "illustrative": True,
        "source_note": "ILLUSTRATIVE: no number published"}]}
SHARE_PACK: dict[str, Any] = {
    "id": "perda-uji-ruang", "title": "Perda uji ruang usaha", "instrument": "perda",
    "region_code": "32", "effective_from": "2021-01-01", "effective_to": None,
    "source_url": "https://example.invalid/perda-uji", "obligations": [{
        "id": "ruang-umkm", "description": "30% ruang usaha untuk UMKM.",
        "applies_to": {"scale": ["besar"], "kbli_prefix": [], "region_prefix": ""},
        "measure": "share", "unit": "m2", "of_fact": "commercial_area", "at_least_pct": 30,
        "partner_filter": {"scale": ["mikro", "kecil"], "region_prefix": ""},
        "period": "year"}]}


class World:
    """Businesses of two regions, built through the front door by an admin."""

    def __init__(self, client: Any, make_token: Any, clock: Any) -> None:
        self.client, self.clock = client, clock
        self.admin = make_token("admin")
        for nib, scale, region in ((LARGE_A, "besar", REGION_A), (UMKM_A, "mikro", "32.16.01"),
                                   (UMKM_A2, "kecil", "32.16.02"), (LARGE_B, "besar", REGION_B),
                                   (UMKM_B, "mikro", REGION_B)):
            register_business(client, self.admin, nib, scale, region)

    def enact(self, pack: dict[str, Any]) -> None:
        expect(self.client.post("/v1/regulations", headers=bearer(self.admin), json=pack), 201)

    def documented(self, large: str, umkm: str, region: str) -> tuple[str, str]:
        """Confirmed, perjanjian and an invoice verified; no realization yet."""
        pid = propose(self.client, self.admin, large, umkm, region)["id"]
        expect(post(self.client, self.admin, pid, "confirm", {}), 200)
        perjanjian = expect(upload(self.client, self.admin, pid), 201)["evidence_id"]
        expect(post(self.client, self.admin, pid, f"evidence/{perjanjian}/review",
                    {"decision": "verified"}), 200)
        invoice = expect(upload(self.client, self.admin, pid, kind="invoice"),
                         201)["evidence_id"]
        expect(post(self.client, self.admin, pid, f"evidence/{invoice}/review",
                    {"decision": "verified"}), 200)
        return pid, invoice

    def realize(self, pid: str, invoice: str, start: str = "2024-02-01",
                end: str = "2024-02-29", **extra: Any) -> None:
        expect(post(self.client, self.admin, pid, "realizations", {
            "period_start": start, "period_end": end, "value_idr": 1_000_000,
            "evidence_ids": [invoice], **extra}), 201)

    def real(self, large: str, umkm: str, region: str, **extra: Any) -> str:
        pid, invoice = self.documented(large, umkm, region)
        self.realize(pid, invoice, **extra)
        return pid

    def get(self, url: str, token: str | None = None, **params: Any) -> Any:
        return self.client.get(url, params=params, headers=bearer(token or self.admin))


@pytest.fixture
def world(client, make_token, clock) -> World:  # type: ignore[no-untyped-def]
    return World(client, make_token, clock)


def test_a_realization_reported_after_the_quarter_closed_flips_it_only_from_then(
        world: World) -> None:
    world.enact(PACK)
    pid, invoice = world.documented(LARGE_A, UMKM_A, "32.16.01")
    url = f"/v1/compliance/{LARGE_A}"
    world.clock.now = datetime(2024, 4, 10, 2, 0, tzinfo=timezone.utc)  # Q1 has closed
    before = expect(world.get(url, period="2024-Q1"), 200)
    [ob] = before["obligations"]
    assert (ob["status"], ob["measured"], ob["required"]) == ("non_compliant", 0, 1)
    assert ob["left_out"] == [{"id": pid, "umkm_nib": UMKM_A,
                               "reasons": ["no_verified_realization"]}]
    assert ob["illustrative"] is True and ob["regulation_version"] == 1
    reported_at = datetime(2024, 4, 15, 2, 0, tzinfo=timezone.utc)
    world.clock.now = reported_at
    world.realize(pid, invoice)  # February, reported in April
    world.clock.now = datetime(2024, 5, 1, 2, 0, tzinfo=timezone.utc)
    now = expect(world.get(url, period="2024-Q1"), 200)["obligations"][0]
    assert (now["status"], now["measured"]) == ("compliant", 1)
    assert [c["id"] for c in now["counted"]] == [pid] and now["left_out"] == []
    for instant, status in ((reported_at - timedelta(seconds=1), "non_compliant"),
                            (reported_at, "compliant"),
                            (reported_at + timedelta(days=1), "compliant")):
        body = expect(world.get(url, period="2024-Q1", as_of=instant.isoformat()), 200)
        assert body["obligations"][0]["status"] == status, instant
        assert body["as_of"] == instant.astimezone(
            timezone(timedelta(hours=7))).isoformat()
    # the list (current state) agrees
    items = expect(world.get("/v1/compliance", period="2024-Q1", region=REGION_A), 200)["items"]
    assert [(i["nib"], i["period"], i["status"]) for i in items] == [
        (LARGE_A, "2024-Q1", "compliant")]


def test_as_of_takes_the_regulation_as_recorded_then(world: World) -> None:
    world.clock.now = datetime(2024, 3, 1, 3, 0, tzinfo=timezone.utc)
    world.real(LARGE_A, UMKM_A, "32.16.01")
    enacted_at = datetime(2024, 3, 5, 3, 0, tzinfo=timezone.utc)
    world.clock.now = enacted_at
    world.enact(PACK)
    amended = copy.deepcopy(PACK)
    amended["effective_from"] = "2024-01-01"
    amended["obligations"][0]["at_least"] = 2
    world.clock.now = enacted_at + timedelta(days=1)
    expect(world.client.put(f"/v1/regulations/{PACK['id']}", headers=bearer(world.admin),
                            json=amended), 200)
    url = f"/v1/compliance/{LARGE_A}"
    assert expect(world.get(url, period="2024-Q1", as_of=(
        enacted_at - timedelta(hours=1)).isoformat()), 200)["obligations"] == []
    [v1] = expect(world.get(url, period="2024-Q1", as_of=(
        enacted_at + timedelta(hours=1)).isoformat()), 200)["obligations"]
    assert (v1["regulation_version"], v1["required"], v1["status"]) == (1, 1, "compliant")
    [v2] = expect(world.get(url, period="2024-Q1"), 200)["obligations"]
    assert (v2["regulation_version"], v2["required"], v2["status"]) == (2, 2, "non_compliant")


def test_the_list_explains_each_business_and_obligation(world: World) -> None:
    world.enact(PACK)
    counted = world.real(LARGE_A, UMKM_A, "32.16.01")
    kecil = world.real(LARGE_A, UMKM_A2, "32.16.02")
    world.real(LARGE_B, UMKM_B, REGION_B)  # outside the pack's region: not obliged
    body = expect(world.get("/v1/compliance", period="2024"), 200)
    assert body["period"] == "2024" and body["region"] is None
    assert [(i["nib"], i["period"], i["status"], i["measured"]) for i in body["items"]] == [
        (LARGE_A, "2024-Q1", "compliant", 1), (LARGE_A, "2024-Q2", "non_compliant", 0),
        (LARGE_A, "2024-Q3", "non_compliant", 0), (LARGE_A, "2024-Q4", "non_compliant", 0)]
    assert body["items"][0] | {} == {
        "nib": LARGE_A, "name": f"Usaha {LARGE_A}", "regulation_id": PACK["id"],
        "regulation_version": 1, "obligation_id": "bermitra-mikro", "period": "2024-Q1",
        "measure": "real_partnerships", "unit": None, "measured": 1, "required": 1,
        "status": "compliant", "illustrative": True, "reasons": []}
    explained = expect(world.get(f"/v1/compliance/{LARGE_A}", period="2024-Q1"), 200)
    assert explained["position"] == body["position"]
    [q1] = explained["obligations"]
    assert [c["id"] for c in q1["counted"]] == [counted]
    assert q1["left_out"] == [{"id": kecil, "umkm_nib": UMKM_A2,
                               "reasons": ["outside_partner_filter"]}]
    assert q1["regulation_title"] == PACK["title"]
    # CSV: the same rows
    r = world.get("/v1/compliance", period="2024", format="csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["nib"], x["period"], x["status"], x["illustrative"]) for x in rows] == [
        (LARGE_A, f"2024-Q{q}", "compliant" if q == 1 else "non_compliant", "true")
        for q in range(1, 5)]
    x = world.get("/v1/compliance", period="2024", format="xlsx")
    assert x.status_code == 200 and x.content[:2] == b"PK"
    # the CSV has the JSON item's columns, no more (reasons joined by commas)
    assert list(rows[0]) == list(body["items"][0])
    # one business: its obligations' rows, as the list gives them
    one = world.get(f"/v1/compliance/{LARGE_A}", period="2024", format="csv")
    assert one.status_code == 200 and one.headers["content-type"].startswith("text/csv")
    assert list(csv.DictReader(io.StringIO(one.text))) == rows
    assert world.get(f"/v1/compliance/{LARGE_A}", period="2024",
                     format="xlsx").content[:2] == b"PK"
    # min_position: a read waits for the views, or says 503 with Retry-After
    assert world.get("/v1/compliance", period="2024",
                     min_position=body["position"]).status_code == 200
    for url in ("/v1/compliance", f"/v1/compliance/{LARGE_A}"):
        lagging = world.get(url, period="2024", min_position=body["position"] + 1000)
        assert lagging.status_code == 503 and lagging.headers["Retry-After"]


def test_share_measures_realized_area_against_the_declared_fact(world: World) -> None:
    world.enact(SHARE_PACK)
    world.real(LARGE_A, UMKM_A, "32.16.01", quantity=250, unit="m2")
    url = f"/v1/compliance/{LARGE_A}"
    [missing] = expect(world.get(url, period="2024"), 200)["obligations"]
    assert (missing["status"], missing["reasons"]) == ("non_compliant", ["fact_missing"])
    expect(world.client.post(f"/v1/businesses/{LARGE_A}/facts", headers=bearer(world.admin),
                             json={"name": "commercial_area", "value": "1000", "unit": "m2",
                                   "effective_date": "2023-01-01"}), 201)
    [ob] = expect(world.get(url, period="2024"), 200)["obligations"]
    assert (ob["status"], ob["measured"], ob["required"], ob["quantity"]) == \
        ("non_compliant", 25, 30, 250)
    assert ob["fact"] == {"name": "commercial_area", "value": "1000", "unit": "m2",
                          "effective_date": "2023-01-01"}
    world.real(LARGE_A, UMKM_A2, "32.16.02", quantity=50, unit="m2")
    [ob] = expect(world.get(url, period="2024"), 200)["obligations"]
    assert (ob["status"], ob["measured"]) == ("compliant", 30)


def test_who_may_ask(world: World, make_token: Any) -> None:
    world.enact(PACK)
    world.real(LARGE_A, UMKM_A, "32.16.01")
    bekasi = make_token("dinas", region=REGION_A)
    rembang = make_token("auditor", region=REGION_B)
    company_a = make_token("company", nibs=[LARGE_A])
    company_b = make_token("company", nibs=[LARGE_B])
    umkm = make_token("umkm", nibs=[UMKM_A])
    items = expect(world.get("/v1/compliance", bekasi, period="2024-Q1"), 200)
    assert items["region"] == REGION_A and [i["nib"] for i in items["items"]] == [LARGE_A]
    assert_problem(world.get("/v1/compliance", rembang, period="2024-Q1", region=REGION_A), 403)
    assert expect(world.get("/v1/compliance", rembang, period="2024-Q1"), 200)["items"] == []
    assert [i["nib"] for i in expect(world.get("/v1/compliance", company_a, period="2024-Q1"),
                                     200)["items"]] == [LARGE_A]
    assert expect(world.get("/v1/compliance", company_b, period="2024-Q1"), 200)["items"] == []
    assert_problem(world.get("/v1/compliance", umkm, period="2024-Q1"), 403)
    url = f"/v1/compliance/{LARGE_A}"
    for token in (bekasi, company_a, world.admin):
        expect(world.get(url, token, period="2024-Q1"), 200)
    for token in (rembang, company_b):
        assert_problem(world.get(url, token, period="2024-Q1"), 404)
    assert_problem(world.get(url, umkm, period="2024-Q1"), 403)
    assert_problem(world.get("/v1/compliance/3216999999999", period="2024-Q1"), 404)


@pytest.mark.parametrize("params", [{"period": "2024-Q5"}, {"period": "24"},
                                    {"region": "32.1"}, {"format": "pdf"}])
def test_bad_queries_are_422(world: World, params: dict[str, str]) -> None:
    assert_problem(world.get("/v1/compliance", **params), 422)


def test_bad_as_of_is_422(world: World) -> None:
    assert_problem(world.get(f"/v1/compliance/{LARGE_A}", as_of="yesterday"), 422)
    assert_problem(world.get(f"/v1/compliance/{LARGE_A}", as_of="2024-04-01T00:00:00"), 422)


def test_the_views_and_a_replay_as_of_now_gather_the_same_facts(world: World,
                                                                container: Any) -> None:
    from api import compliance_report as cr

    world.enact(PACK)
    a = world.real(LARGE_A, UMKM_A, "32.16.01", quantity=3, unit="session")
    b, invoice = world.documented(LARGE_A, UMKM_A2, "32.16.02")
    world.realize(b, invoice, "2024-05-01", "2024-05-31")
    expect(post(world.client, world.admin, a, "suspend",
                {"effective_date": "2024-06-01", "reason": "uji"}), 200)
    expect(post(world.client, world.admin, a, "resume", {"effective_date": "2024-07-01"}), 200)
    propose(world.client, world.admin, LARGE_A, UMKM_A, "32.16.01")  # only proposed
    expect(world.client.post(f"/v1/businesses/{UMKM_A2}/scale-changes",
                             headers=bearer(world.admin),
                             json={"scale": "besar", "effective_date": "2024-08-01"}), 201)
    expect(world.client.post(f"/v1/businesses/{LARGE_A}/affiliations",
                             headers=bearer(world.admin),
                             json={"umkm_nib": UMKM_A, "kind": "controls",
                                   "effective_date": "2024-09-01"}), 201)
    expect(world.client.post(f"/v1/businesses/{LARGE_A}/facts", headers=bearer(world.admin),
                             json={"name": "commercial_area", "value": "1200.5", "unit": "m2",
                                   "effective_date": "2024-01-01"}), 201)
    container.views.catch_up()
    with container.engine.connect() as conn:
        from_views = cr.facts_from_views(conn, LARGE_A)
        replayed = cr.facts_as_of(container.ledger, conn, LARGE_A, world.clock.now)
    assert from_views[0] == replayed[0]
    assert sorted(from_views[1], key=lambda r: r.facts.id) == \
        sorted(replayed[1], key=lambda r: r.facts.id)
    assert len(from_views[1]) == 3


def test_the_list_counts_exactly_what_the_explanation_counts(world: World,
                                                             container: Any) -> None:
    """The list reads only the partnerships that can count; the explanation reads them all.
    Same measures and statuses, including a partner in its graduation grace."""
    from api import compliance_report as cr
    from domain.compliance import parse_period

    world.enact(PACK)
    world.enact({**PACK, "id": "perban-uji-naik-kelas", "region_code": "", "obligations": [
        {**PACK["obligations"][0], "id": "ganti-mitra", "period": "year",
         "graduated_partner_grace_days": 365, "applies_to": {"scale": ["besar"]},
         "partner_filter": {"scale": ["mikro", "kecil", "menengah"]}},
        {**PACK["obligations"][0], "id": "sesi", "measure": "realization_quantity",
         "unit": "session", "at_least": 5, "applies_to": {"scale": ["besar"]},
         "partner_filter": {"scale": ["mikro", "kecil"]}}]})
    world.real(LARGE_A, UMKM_A, "32.16.01", quantity=3, unit="session")
    graduated = world.real(LARGE_A, UMKM_A2, "32.16.02", start="2024-05-01",
                           end="2024-05-31", quantity=4, unit="session")
    world.documented(LARGE_A, UMKM_A, "32.16.01")
    world.real(LARGE_B, UMKM_B, REGION_B, start="2024-08-01", end="2024-08-31")
    expect(world.client.post(f"/v1/businesses/{UMKM_A2}/scale-changes",
                             headers=bearer(world.admin),
                             json={"scale": "besar", "effective_date": "2024-03-01"}), 201)
    container.views.catch_up()
    for label in ("2024", "2024-Q2", "2024-Q3"):
        period = parse_period(label)
        with container.engine.connect() as conn:
            _, listed = cr.evaluate_region(container.ledger, conn, region=None, period=period)
            # UMKM_A2 became besar in March: it is obliged from then, and listed too
            explained = [r for nib in (LARGE_A, LARGE_B, UMKM_A2)
                         for r in cr.explain(container.ledger, conn, nib, period)[2]]
        assert UMKM_A2 in {r.nib for r in listed}
        key = lambda r: (r.nib, r.regulation_id, r.obligation_id, r.period.label)  # noqa: E731
        assert [(key(r), r.measured, r.status, [c.id for c in r.counted])
                for r in sorted(listed, key=key)] == \
            [(key(r), r.measured, r.status, [c.id for c in r.counted])
             for r in sorted(explained, key=key)]
        assert any(r.left_out for r in explained)
    [grace] = [r for r in explained if r.obligation_id == "ganti-mitra" and r.nib == LARGE_A]
    assert graduated in [c.id for c in grace.counted]  # besar since March, within its year


@pytest.mark.parametrize("pack_file", ["pp-7-2021-pasal-60.json", "permendag-23-2021-pasal-7.json"])
def test_the_example_share_packs_bind_only_operators_of_an_area(world: World,
                                                                pack_file: str) -> None:
    """rules/: PP 7/2021 binds infrastructure operators, Permendag 23/2021 shopping-centre
    managers (docs/domain.md §4). Every large business used to be listed non_compliant under
    them (a bakery too); only one that declared a commercial area is evaluated now."""
    import json
    from pathlib import Path

    pack = json.loads((Path(__file__).parents[2] / "rules" / pack_file).read_text())
    world.enact(pack)
    listing = {"region": "32", "period": "2024", "regulation": pack["id"]}
    assert expect(world.get("/v1/compliance", **listing), 200)["items"] == []
    expect(world.client.post(f"/v1/businesses/{LARGE_A}/facts", headers=bearer(world.admin),
                             json={"name": "commercial_area", "value": "1000", "unit": "m2",
                                   "effective_date": "2023-01-01"}), 201)
    items = expect(world.get("/v1/compliance", **listing), 200)["items"]
    assert [(i["nib"], i["status"]) for i in items] == [(LARGE_A, "non_compliant")]

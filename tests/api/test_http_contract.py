"""The HTTP conventions of the public contract, one property per test: problem+json errors,
Idempotency-Key, If-Match/ETag, positions, time travel, event history, evidence uploads and
downloads, pagination and health."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.api.helpers import (
    EXE, HTML, LARGE_A, LARGE_B, PDF, PROBLEM, REGION_A, UMKM_A, assert_problem, events, expect,
    partnership_body, post, propose, register_business, stored_files, upload,
)
from tests.conftest import bearer

T0 = datetime(2024, 3, 1, 3, 0, tzinfo=timezone.utc)  # the clock fixture's start


class Parties:
    def __init__(self, client: Any, make_token: Any) -> None:
        self.client = client
        self.admin = make_token("admin")
        register_business(client, self.admin, LARGE_A, "besar", REGION_A, "PT Sumber Makmur Tbk")
        register_business(client, self.admin, UMKM_A, "mikro", REGION_A + ".01", "UD Berkah")
        self.company = make_token("company", nibs=[LARGE_A])
        self.umkm = make_token("umkm", nibs=[UMKM_A])
        self.dinas = make_token("dinas", region=REGION_A)
        self.auditor = make_token("auditor", region=REGION_A)

    def propose(self, **extra: Any) -> str:
        return propose(self.client, self.company, LARGE_A, UMKM_A, REGION_A, **extra)["id"]

    def read(self, pid: str, **params: Any) -> Any:
        return self.client.get(f"/v1/partnerships/{pid}", params=params,
                               headers=bearer(self.admin))

    def version(self, pid: str) -> int:
        return expect(self.read(pid), 200)["version"]

    def confirm(self, pid: str) -> dict[str, Any]:
        return expect(post(self.client, self.umkm, pid, "confirm",
                           {"effective_date": "2024-01-15"}), 200)


@pytest.fixture
def parties(client, make_token) -> Parties:  # type: ignore[no-untyped-def]
    return Parties(client, make_token)


@pytest.fixture
def evidence_dir(container) -> Path:  # type: ignore[no-untyped-def]
    return Path(container.settings.evidence_dir)


# ---- problem+json -----------------------------------------------------------------------------

def test_every_kind_of_error_is_problem_json_with_type_title_status_and_detail(
        parties: Parties) -> None:
    c, pid = parties.client, parties.propose()
    assert_problem(c.get(f"/v1/partnerships/{pid}"), 401)
    assert_problem(post(c, parties.auditor, pid, "amend", {"title": "x"}), 403)
    assert_problem(c.get("/v1/partnerships/7c0f6b4e-0000-4000-8000-000000000000",
                         headers=bearer(parties.admin)), 404)
    assert_problem(c.get("/v1/partnerships/not-a-uuid", headers=bearer(parties.admin)), 404)
    conflict = assert_problem(post(c, parties.company, pid, "terminate",
                                   {"reason": "x", "effective_date": "2024-03-01"}), 409)
    assert "proposed" in conflict["detail"]  # detail says which conflict
    dup = assert_problem(c.post("/v1/businesses", headers=bearer(parties.admin), json={
        "nib": LARGE_A, "name": "Lagi", "scale": "besar", "region_code": REGION_A,
        "kbli": ["47111"]}), 409)
    assert LARGE_A in dup["detail"]
    assert_problem(c.post("/v1/partnerships", headers=bearer(parties.company),
                          json={"title": "x"}), 422)
    assert_problem(c.get("/v1/nothing-here", headers=bearer(parties.admin)), 404)


def test_a_422_lists_every_invalid_field_with_field_and_message(parties: Parties) -> None:
    body = assert_problem(parties.client.post(
        "/v1/businesses", headers=bearer(parties.admin),
        json={"nib": "12345", "name": "", "scale": "raksasa", "region_code": "32.1",
              "kbli": ["4711"]}), 422)
    errors = body["errors"]
    assert errors and all(set(e) == {"field", "message"} for e in errors), errors
    assert all(isinstance(e["field"], str) and isinstance(e["message"], str) for e in errors)
    fields = {e["field"] for e in errors}
    assert {"nib", "name", "scale", "region_code"} <= fields, fields
    assert any(f.startswith("kbli") for f in fields), fields
    assert "Traceback" not in str(body)


def test_a_422_from_a_business_rule_names_its_field_too(parties: Parties) -> None:
    c, pid = parties.client, parties.propose()
    parties.confirm(pid)
    body = assert_problem(c.post(f"/v1/partnerships/{pid}/realizations",
                                 headers=bearer(parties.company),
                                 json={"period_start": "2024-01-01", "period_end": "2024-01-31",
                                       "value_idr": 1_000_000,
                                       "evidence_ids": ["3f2b9c1e-0000-4000-8000-00000000abcd"]}),
                          422)
    assert [e["field"] for e in body["errors"]] == ["evidence_ids"]
    body = assert_problem(parties.read(pid, as_of="yesterday"), 422)
    assert body["errors"][0]["field"] == "as_of"


# ---- Idempotency-Key --------------------------------------------------------------------------

def test_the_same_idempotency_key_with_the_same_body_returns_the_same_partnership_with_200(
        parties: Parties) -> None:
    c = parties.client
    body = partnership_body(LARGE_A, UMKM_A, REGION_A)
    headers = {**bearer(parties.company), "Idempotency-Key": "po-2024-0001"}
    first = expect(c.post("/v1/partnerships", headers=headers, json=body), 201)
    head = expect(c.get("/v1/health"), 200)["position"]
    repeat = c.post("/v1/partnerships", headers=headers, json=body)
    assert repeat.status_code == 200, repeat.text
    again = repeat.json()
    assert (again["id"], again["position"], again["version"], again["status"]) == (
        first["id"], first["position"], first["version"], first["status"])
    assert expect(c.get("/v1/health"), 200)["position"] == head, "the repeat recorded an event"
    listed = expect(c.get("/v1/partnerships", headers=bearer(parties.admin)), 200)["items"]
    assert [p["id"] for p in listed] == [first["id"]]
    # Once the partnership has moved on, a repeat still answers exactly the first answer.
    parties.confirm(first["id"])
    later = c.post("/v1/partnerships", headers=headers, json=body)
    assert (later.status_code, later.json(), later.headers["etag"]) == (200, first, '"1"')


@pytest.mark.parametrize("field,value", [("start_date", "0001-01-01"),
                                         ("start_date", "1899-12-31"),
                                         ("end_date", "9999-12-31")])
def test_a_business_date_outside_1900_to_9998_is_422_naming_its_field(
        parties: Parties, field: str, value: str) -> None:
    body = partnership_body(LARGE_A, UMKM_A, REGION_A)
    problem = assert_problem(parties.client.post("/v1/partnerships", json={**body, field: value},
                                                 headers=bearer(parties.company)), 422)
    assert [e["field"] for e in problem["errors"]] == [field]


@pytest.mark.parametrize("as_of,status", [
    ("2999-01-01T00:00:00Z", 200), ("2999-01-01t00:00:00z", 200),  # RFC 3339 allows lowercase
    ("2999-01-01 00:00:00+07:00", 200), ("2999-01-01T00:00:00.123456789+07:00", 200),
    ("29990101T000000Z", 422), ("2999-W01-1T00:00:00Z", 422), ("2999-01-01T00:00:00+0700", 422),
    ("2999-01-01T00:00:00+07", 422), ("2999-01-01T00:00:00+07:00:30", 422),
    ("2999-01-01T00:00:00", 422), ("2999-01-01T00:00Z", 422),
])
def test_as_of_takes_rfc_3339_instants_only(parties: Parties, as_of: str, status: int) -> None:
    """ISO 8601 forms that RFC 3339 does not have (basic format, week dates, offsets without a
    colon or with seconds) were taken; the lowercase t and z that it has were refused."""
    pid = parties.propose()
    response = parties.read(pid, as_of=as_of)
    assert response.status_code == status, response.text
    if status == 422:
        assert assert_problem(response, 422)["errors"][0]["field"] == "as_of"


@pytest.mark.parametrize("field,value", [("nib", "３２１６０９９０００００１"),
                                         ("region_code", "٣٢.١٦"), ("kbli", ["٤٧١١١"])])
def test_identifiers_in_other_scripts_digits_are_422(parties: Parties, field: str,
                                                     value: Any) -> None:
    """Full-width or Arabic-Indic digits were taken (Unicode \\d): the same NIB registered
    twice, a region no dinas prefix matches."""
    body = {"nib": "3216099000001", "name": "PT Uji (sampel)", "scale": "besar",
            "region_code": "32.16", "kbli": ["47111"], field: value}
    problem = assert_problem(parties.client.post("/v1/businesses", json=body,
                                                 headers=bearer(parties.admin)), 422)
    assert problem["errors"][0]["field"].split(".")[0] == field


CODE_OF_ZEROS = ("must be a Kemendagri code such as 32.16 or 32.16.01.2001 "
                 "(no part is all zeros)")
PREFIX_OF_ZEROS = "must be empty or a Kemendagri code such as 32.16 (no part is all zeros)"


@pytest.mark.parametrize("zeros", ["32.00", "00.16", "32.16.00", "32.16.01.0000"])
def test_a_region_code_with_a_part_of_zeros_is_422_in_a_body(parties: Parties,
                                                              zeros: str) -> None:
    """No Kemendagri code has a part all zeros; they were stored (a business in 32.00, a
    partnership located in 32.16.01.0000). Every body names the field and the reason."""
    c = parties.client
    business = {"nib": "3216099000001", "name": "PT Uji (sampel)", "scale": "besar",
                "region_code": zeros, "kbli": ["47111"]}
    problem = assert_problem(c.post("/v1/businesses", json=business,
                                    headers=bearer(parties.admin)), 422)
    assert problem["errors"] == [{"field": "region_code", "message": CODE_OF_ZEROS}]
    problem = assert_problem(c.post("/v1/partnerships", headers=bearer(parties.company),
                                    json=partnership_body(LARGE_A, UMKM_A, zeros)), 422)
    assert problem["errors"] == [{"field": "location_region_code", "message": CODE_OF_ZEROS}]
    problem = assert_problem(c.post("/v1/tokens", headers=bearer(parties.admin),
                                    json={"role": "auditor", "region": zeros}), 422)
    assert problem["errors"] == [{"field": "region", "message": PREFIX_OF_ZEROS}]
    pack = {"id": "perbup-uji", "title": "Uji", "instrument": "perbup", "region_code": zeros,
            "effective_from": "2021-01-01", "source_url": "https://example.invalid",
            "obligations": [{
                "id": "ritel", "description": "x", "measure": "real_partnerships",
                "applies_to": {"scale": ["besar"], "region_prefix": zeros},
                "partner_filter": {"scale": ["mikro"], "region_prefix": zeros},
                "period": "year", "at_least": 1}]}
    problem = assert_problem(c.post("/v1/regulations", headers=bearer(parties.admin),
                                    json=pack), 422)
    assert {(e["field"], e["message"]) for e in problem["errors"]} == {
        ("region_code", PREFIX_OF_ZEROS),
        ("obligations[0].applies_to.region_prefix", PREFIX_OF_ZEROS),
        ("obligations[0].partner_filter.region_prefix", PREFIX_OF_ZEROS)}, problem
    assert_problem(c.get("/v1/businesses/3216099000001", headers=bearer(parties.admin)), 404)


@pytest.mark.parametrize("path", ["/v1/partnerships", "/v1/stats/partnerships", "/v1/stats/scale-upgrades",
                                  "/v1/stats/evidence-reuse", "/v1/compliance",
                                  "/v1/regulations"])
@pytest.mark.parametrize("zeros", ["32.00", "00", "32.16.00", "32.16.01.0000"])
def test_a_region_filter_with_a_part_of_zeros_is_422(parties: Parties, path: str,
                                                      zeros: str) -> None:
    """`?region=32.00` answered 200 with nothing in it, as if the region were real and empty."""
    response = parties.client.get(path, params={"region": zeros},
                                  headers=bearer(parties.admin))
    problem = assert_problem(response, 422)
    assert problem["errors"] == [{"field": "region", "message": CODE_OF_ZEROS}], problem
    assert problem["detail"] == f"region: {CODE_OF_ZEROS}"


def test_business_writes_honour_if_match_like_partnership_writes(parties: Parties) -> None:
    """The answers carry an ETag; a stale If-Match was ignored (201) and a malformed one too."""
    c, url = parties.client, f"/v1/businesses/{LARGE_A}/facts"
    fact = {"name": "commercial_area", "value": "1000", "unit": "m2",
            "effective_date": "2024-01-01"}
    version = expect(c.get(f"/v1/businesses/{LARGE_A}", headers=bearer(parties.admin)),
                     200)["version"]
    stale = {**bearer(parties.admin), "If-Match": f'"{version - 1}"'}
    assert_problem(c.post(url, json=fact, headers=stale), 409)
    assert_problem(c.post(url, json=fact, headers={**bearer(parties.admin),
                                                   "If-Match": "garbage"}), 400)
    current = {**bearer(parties.admin), "If-Match": f'"{version}"'}
    written = expect(c.post(url, json=fact, headers=current), 201)
    assert written["version"] == version + 1
    assert_problem(c.post(f"/v1/businesses/{UMKM_A}/scale-changes", json={
        "scale": "kecil", "effective_date": "2024-06-01"},
        headers={**bearer(parties.admin), "If-Match": '"99"'}), 409)


def test_a_fact_names_only_evidence_submitted_on_a_partnership_of_that_business(
        parties: Parties) -> None:
    """A fact's `evidence_id` was stored whatever it was: an id nobody uploaded, or another
    business's file. It must be a file submitted on one of the business's own partnerships
    (the large party's or the UMKM's); anything else is 422 on `evidence_id` and records
    nothing."""
    c = parties.client
    register_business(c, parties.admin, LARGE_B, "besar", REGION_A, "PT Lain Tbk")
    ours = expect(upload(c, parties.company, parties.propose(), PDF), 201)["evidence_id"]
    fact = {"name": "commercial_area", "value": "1000", "unit": "m2",
            "effective_date": "2024-01-01"}
    url = f"/v1/businesses/{LARGE_A}/facts"
    for refused in ("nope", "0" * 64, "00000000-0000-4000-8000-000000000000"):
        before = expect(c.get(f"/v1/businesses/{LARGE_A}", headers=bearer(parties.admin)), 200)
        problem = assert_problem(c.post(url, json={**fact, "evidence_id": refused},
                                        headers=bearer(parties.company)), 422)
        assert [e["field"] for e in problem["errors"]] == ["evidence_id"], problem
        after = expect(c.get(f"/v1/businesses/{LARGE_A}", headers=bearer(parties.admin)), 200)
        assert after["version"] == before["version"] and after["facts"] == before["facts"]
    # another business's file: LARGE_B is no party to the partnership it was submitted on
    assert_problem(c.post(f"/v1/businesses/{LARGE_B}/facts", json={**fact, "evidence_id": ours},
                          headers=bearer(parties.admin)), 422)
    # the business's own file, just uploaded: by the company for the large party, and by a
    # dinas for the UMKM party of the same partnership
    expect(c.post(url, json={**fact, "evidence_id": ours}, headers=bearer(parties.company)), 201)
    expect(c.post(f"/v1/businesses/{UMKM_A}/facts", json={**fact, "evidence_id": ours},
                  headers=bearer(parties.dinas)), 201)
    facts = expect(c.get(url.removesuffix("/facts"), headers=bearer(parties.admin)), 200)["facts"]
    assert [f["evidence_id"] for f in facts] == [ours]


def test_a_business_reads_as_recorded_at_an_instant(parties: Parties, clock: Any) -> None:
    """`as_of` on a business (it was ignored: the current state, even for an instant before
    the business was registered): its scale history as known then."""
    from datetime import timedelta

    c = parties.client
    before = (clock.now - timedelta(seconds=1)).isoformat()
    registered = clock.now.isoformat()
    clock.now += timedelta(hours=1)
    expect(c.post(f"/v1/businesses/{UMKM_A}/scale-changes", headers=bearer(parties.admin),
                  json={"scale": "kecil", "effective_date": "2024-02-01"}), 201)
    url = f"/v1/businesses/{UMKM_A}"
    now = expect(c.get(url, headers=bearer(parties.admin)), 200)
    then = expect(c.get(url, params={"as_of": registered}, headers=bearer(parties.admin)), 200)
    assert (now["scale"], len(now["scale_history"])) == ("kecil", 2)
    assert (then["scale"], len(then["scale_history"]), then["version"]) == ("mikro", 1, 1)
    body = assert_problem(c.get(url, params={"as_of": before}, headers=bearer(parties.admin)),
                          404)
    assert "at that time" in body["detail"]
    assert_problem(c.get(url, params={"as_of": "yesterday"}, headers=bearer(parties.admin)), 422)


def test_an_empty_idempotency_key_is_422_and_records_nothing(parties: Parties) -> None:
    c = parties.client
    head = expect(c.get("/v1/health"), 200)["position"]
    body = assert_problem(c.post("/v1/partnerships",
                                 json=partnership_body(LARGE_A, UMKM_A, REGION_A),
                                 headers={**bearer(parties.company), "Idempotency-Key": ""}), 422)
    assert [e["field"] for e in body["errors"]] == ["idempotency-key"]
    assert expect(c.get("/v1/health"), 200)["position"] == head


def test_the_same_idempotency_key_with_another_body_is_409(parties: Parties) -> None:
    c = parties.client
    headers = {**bearer(parties.company), "Idempotency-Key": "po-2024-0002"}
    expect(c.post("/v1/partnerships", headers=headers,
                  json=partnership_body(LARGE_A, UMKM_A, REGION_A)), 201)
    head = expect(c.get("/v1/health"), 200)["position"]
    other = partnership_body(LARGE_A, UMKM_A, REGION_A, value_idr=999)
    body = assert_problem(c.post("/v1/partnerships", headers=headers, json=other), 409)
    assert "Idempotency-Key" in body["detail"]
    assert expect(c.get("/v1/health"), 200)["position"] == head


# ---- If-Match and ETag ------------------------------------------------------------------------

def test_get_answers_an_etag_equal_to_the_quoted_version(parties: Parties) -> None:
    c, pid = parties.client, parties.propose()
    first = parties.read(pid)
    assert (first.json()["version"], first.headers["etag"]) == (1, '"1"')
    parties.confirm(pid)
    second = parties.read(pid)
    assert (second.json()["version"], second.headers["etag"]) == (2, '"2"')
    for token in (parties.company, parties.umkm, parties.dinas, parties.auditor):
        assert c.get(f"/v1/partnerships/{pid}", headers=bearer(token)).headers["etag"] == '"2"'
    business = c.get(f"/v1/businesses/{LARGE_A}", headers=bearer(parties.admin))
    assert business.headers["etag"] == f'"{business.json()["version"]}"'


def test_a_write_with_the_current_if_match_version_succeeds(parties: Parties) -> None:
    pid = parties.propose()
    etag = parties.read(pid).headers["etag"]
    done = expect(post(parties.client, parties.umkm, pid, "confirm", {}, {"If-Match": etag}), 200)
    assert done["version"] == 2 and done["status"] == "active"


@pytest.mark.parametrize(("action", "body"), [
    ("amend", {"title": "Judul baru"}),
    ("suspend", {"reason": "audit", "effective_date": "2024-03-01"}),
    ("terminate", {"reason": "selesai", "effective_date": "2024-03-01"}),
])
def test_a_stale_if_match_is_409_and_records_nothing(
        parties: Parties, action: str, body: dict[str, Any]) -> None:
    c, pid = parties.client, parties.propose()
    parties.confirm(pid)  # version 2
    before, history = parties.version(pid), events(c, parties.admin, pid)
    problem = assert_problem(post(c, parties.company, pid, action, body, {"If-Match": '"1"'}), 409)
    assert "1" in problem["detail"] and "stale" in problem["detail"]
    assert parties.version(pid) == before == 2
    assert events(c, parties.admin, pid) == history


@pytest.mark.parametrize("if_match", ['"abc"', "v2", '""', "1.0", '"1", "2"',
                                      '"1', '1"'])  # the last two: unbalanced quotes
def test_a_malformed_if_match_is_400(parties: Parties, if_match: str) -> None:
    c, pid = parties.client, parties.propose()
    assert_problem(post(c, parties.umkm, pid, "confirm", {}, {"If-Match": if_match}), 400)
    assert parties.version(pid) == 1


def test_realizations_and_reviews_honour_if_match_too(parties: Parties) -> None:
    c, pid = parties.client, parties.propose()
    parties.confirm(pid)
    evidence_id = expect(upload(c, parties.company, pid), 201)["evidence_id"]  # version 3
    review = {"decision": "verified"}
    url = f"/v1/partnerships/{pid}/evidence/{evidence_id}/review"
    assert_problem(c.post(url, headers={**bearer(parties.dinas), "If-Match": '"2"'}, json=review),
                   409)
    expect(c.post(url, headers={**bearer(parties.dinas), "If-Match": '"3"'}, json=review), 200)
    realization = {"period_start": "2024-01-01", "period_end": "2024-01-31", "value_idr": 5,
                   "evidence_ids": [evidence_id]}
    assert_problem(c.post(f"/v1/partnerships/{pid}/realizations",
                          headers={**bearer(parties.umkm), "If-Match": '"3"'}, json=realization),
                   409)
    assert parties.version(pid) == 4


# ---- positions ---------------------------------------------------------------------------------

def test_every_write_answers_a_position_that_increases_and_matches_the_event_log(
        parties: Parties) -> None:
    c = parties.client
    positions = [register_business(c, parties.admin, "3216010000003", "kecil", "32.16.02")
                 ["position"]]
    written = propose(c, parties.company, LARGE_A, UMKM_A, REGION_A)
    pid = written["id"]
    stream = [written["position"]]
    stream.append(parties.confirm(pid)["position"])
    evidence = expect(upload(c, parties.umkm, pid), 201)
    stream.append(evidence["position"])
    stream.append(expect(c.post(f"/v1/partnerships/{pid}/evidence/{evidence['evidence_id']}/review",
                                headers=bearer(parties.dinas), json={"decision": "verified"}),
                         200)["position"])
    stream.append(expect(c.post(f"/v1/partnerships/{pid}/realizations",
                                headers=bearer(parties.company),
                                json={"period_start": "2024-01-01", "period_end": "2024-02-29",
                                      "value_idr": 12_500_000,
                                      "evidence_ids": [evidence["evidence_id"]]}),
                         201)["position"])
    stream.append(expect(post(c, parties.company, pid, "amend", {"value_idr": 1}), 200)["position"])
    stream.append(expect(post(c, parties.company, pid, "suspend",
                              {"reason": "x", "effective_date": "2024-03-01"}), 200)["position"])
    positions += stream
    positions.append(expect(c.post(f"/v1/businesses/{LARGE_A}/facts",
                                   headers=bearer(parties.company),
                                   json={"name": "commercial_area", "value": 800, "unit": "m2",
                                         "effective_date": "2024-01-01"}), 201)["position"])
    assert all(isinstance(p, int) for p in positions)
    assert positions == sorted(positions) and len(set(positions)) == len(positions), positions
    assert [e["seq"] for e in events(c, parties.admin, pid)] == stream
    assert expect(c.get("/v1/health"), 200)["position"] == positions[-1]


# ---- time travel -------------------------------------------------------------------------------

def test_version_n_answers_the_state_after_the_nth_event(parties: Parties) -> None:
    c, pid = parties.client, parties.propose()
    parties.confirm(pid)
    expect(post(c, parties.company, pid, "amend", {"title": "Judul kedua"}), 200)
    expect(post(c, parties.company, pid, "suspend",
                {"reason": "x", "effective_date": "2024-03-01"}), 200)
    seen = [(b["version"], b["status"], b["title"]) for b in
            (expect(parties.read(pid, version=n), 200) for n in (1, 2, 3, 4))]
    title = f"Pasokan {UMKM_A} ke {LARGE_A}"
    assert seen == [(1, "proposed", title), (2, "active", title), (3, "active", "Judul kedua"),
                    (4, "suspended", "Judul kedua")]
    assert parties.read(pid, version=2).headers["etag"] == '"2"'
    assert_problem(parties.read(pid, version=5), 404)
    assert_problem(parties.read(pid, version=0), 422)
    assert_problem(parties.read(pid, version=1, as_of="2024-03-01T10:00:00+07:00"), 422)


def test_as_of_answers_the_state_as_it_was_recorded_at_that_instant(
        parties: Parties, clock) -> None:  # type: ignore[no-untyped-def]
    c = parties.client
    clock.now = T0
    pid = parties.propose()
    clock.now = T0 + timedelta(days=2)
    parties.confirm(pid)
    clock.now = T0 + timedelta(days=5)
    expect(post(c, parties.company, pid, "suspend",
                {"reason": "audit", "effective_date": "2024-03-06"}), 200)
    clock.now = T0 + timedelta(days=9)

    def status_at(instant: datetime) -> tuple[int, str | None]:
        response = parties.read(pid, as_of=instant.isoformat())
        return response.status_code, (response.json()["status"] if response.is_success else None)

    wib = timezone(timedelta(hours=7))
    assert status_at(T0 - timedelta(seconds=1)) == (404, None)  # did not exist yet
    assert status_at(T0) == (200, "proposed")
    assert status_at((T0 + timedelta(days=1)).astimezone(wib)) == (200, "proposed")
    assert status_at(T0 + timedelta(days=3, hours=4)) == (200, "active")
    assert status_at(T0 + timedelta(days=7)) == (200, "suspended")
    between = parties.read(pid, as_of=(T0 + timedelta(days=3)).isoformat())
    assert between.json()["version"] == 2 and between.headers["etag"] == '"2"'
    assert_problem(parties.read(pid, as_of="2024-03-04T00:00:00"), 422)  # no offset
    for beyond in ("0001-01-01T00:00:00+07:00", "9999-12-31T23:59:59-07:00",  # no UTC instant
                   "9999-12-31T23:59:59Z"):  # none in WIB, where instants are shown
        body = assert_problem(parties.read(pid, as_of=beyond), 422)
        assert body["errors"][0]["field"] == "as_of"


# ---- history -----------------------------------------------------------------------------------

def test_events_is_the_replayable_history_with_seq_version_type_actor_and_time(
        parties: Parties, clock) -> None:  # type: ignore[no-untyped-def]
    c = parties.client
    clock.now = T0
    pid = parties.propose()
    clock.now = T0 + timedelta(hours=1)
    parties.confirm(pid)
    clock.now = T0 + timedelta(hours=2)
    expect(post(c, parties.company, pid, "amend", {"value_idr": 175_000_000}), 200)
    items = events(c, parties.auditor, pid)
    assert [e["version"] for e in items] == [1, 2, 3]
    assert [e["type"].rsplit(".", 1)[-1] for e in items] == ["Proposed", "Confirmed", "Amended"]
    assert [e["actor"]["role"] for e in items] == ["company", "umkm", "company"]
    assert all(e["actor"]["principal_id"] for e in items)
    seqs = [e["seq"] for e in items]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    recorded = [datetime.fromisoformat(e["recorded_at"].replace("Z", "+00:00")) for e in items]
    assert recorded == [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    assert items[0]["data"]["large_nib"] == LARGE_A
    assert items[2]["data"]["changes"] == {"value_idr": 175_000_000}
    # the same history as a spreadsheet (Spreadsheets: every list answers csv and xlsx)
    got = c.get(f"/v1/partnerships/{pid}/events", params={"format": "csv"},
                headers=bearer(parties.auditor))
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(got.text)))
    assert [int(r["seq"]) for r in rows] == seqs
    assert [r["actor_role"] for r in rows] == ["company", "umkm", "company"]
    assert [json.loads(r["data"]) for r in rows] == [e["data"] for e in items]
    assert c.get(f"/v1/partnerships/{pid}/events", params={"format": "xlsx"},
                 headers=bearer(parties.auditor)).content[:2] == b"PK"


# ---- evidence ----------------------------------------------------------------------------------

def test_an_allowed_pdf_is_stored_and_described_and_downloads_as_the_same_bytes(
        parties: Parties) -> None:
    c, pid = parties.client, parties.propose()
    written = expect(upload(c, parties.company, pid, PDF), 201)
    assert written["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert written["size"] == len(PDF)
    assert written["media_type"] == "application/pdf"
    assert written["evidence_id"] and isinstance(written["position"], int)
    shown = expect(parties.read(pid), 200)["evidence"]
    assert [(e["evidence_id"], e["sha256"], e["kind"]) for e in shown] == [
        (written["evidence_id"], written["sha256"], "perjanjian")]
    for token in (parties.company, parties.umkm, parties.dinas, parties.auditor):
        download = c.get(f"/v1/evidence/{written['evidence_id']}/content", headers=bearer(token))
        assert download.status_code == 200
        assert download.content == PDF
        assert download.headers["content-type"].startswith("application/pdf")


def test_an_unknown_evidence_id_cannot_be_downloaded(parties: Parties) -> None:
    assert_problem(parties.client.get("/v1/evidence/nope/content", headers=bearer(parties.admin)),
                   404)


def _rejected_upload_leaves_no_trace(parties: Parties, evidence_dir: Path, pid: str,
                                     send: Any, status: int) -> None:
    before_files = stored_files(evidence_dir)
    before_events = events(parties.client, parties.admin, pid)
    head = expect(parties.client.get("/v1/health"), 200)["position"]
    assert_problem(send(), status)
    assert events(parties.client, parties.admin, pid) == before_events
    assert expect(parties.client.get("/v1/health"), 200)["position"] == head
    assert stored_files(evidence_dir) == before_files, "a rejected upload left a file behind"


@pytest.mark.parametrize(("content", "filename", "media_type"), [
    (HTML, "perjanjian.pdf", "application/pdf"),  # the client's label is not trusted
    (HTML, "page.html", "text/html"),
    (EXE, "setup.exe", "application/octet-stream"),
    (EXE, "perjanjian.pdf", "application/pdf"),
])
def test_html_or_executable_bytes_are_415_and_leave_no_trace(
        parties: Parties, evidence_dir: Path, content: bytes, filename: str,
        media_type: str) -> None:
    pid = parties.propose()
    _rejected_upload_leaves_no_trace(
        parties, evidence_dir, pid,
        lambda: upload(parties.client, parties.company, pid, content, filename=filename,
                       media_type=media_type), 415)


@pytest.mark.parametrize("size", [64 * 1024 + 1, 2 * 1024 * 1024])
def test_a_file_over_the_upload_limit_is_413_and_leaves_no_trace(
        parties: Parties, evidence_dir: Path, size: int) -> None:
    pid = parties.propose()
    content = PDF + b"0" * (size - len(PDF))
    _rejected_upload_leaves_no_trace(
        parties, evidence_dir, pid, lambda: upload(parties.client, parties.company, pid, content),
        413)


def test_a_file_exactly_at_the_upload_limit_is_accepted(parties: Parties) -> None:
    pid = parties.propose()
    content = PDF + b"0" * (64 * 1024 - len(PDF))
    assert expect(upload(parties.client, parties.company, pid, content), 201)["size"] == 64 * 1024


def test_an_upload_refused_to_an_auditor_leaves_no_file_behind(
        parties: Parties, evidence_dir: Path) -> None:
    pid = parties.propose()
    _rejected_upload_leaves_no_trace(
        parties, evidence_dir, pid,
        lambda: upload(parties.client, parties.auditor, pid, PDF + b"% auditor\n"), 403)


def test_an_upload_with_a_stale_if_match_leaves_no_file_behind(
        parties: Parties, evidence_dir: Path) -> None:
    pid = parties.propose()
    parties.confirm(pid)
    _rejected_upload_leaves_no_trace(
        parties, evidence_dir, pid,
        lambda: upload(parties.client, parties.company, pid, PDF + b"% stale\n",
                       headers={"If-Match": '"1"'}), 409)


def test_an_upload_outside_the_callers_scope_leaves_no_file_behind(
        parties: Parties, evidence_dir: Path, make_token) -> None:  # type: ignore[no-untyped-def]
    pid = parties.propose()
    register_business(parties.client, parties.admin, "3317010000009", "mikro", "33.17.01")
    stranger = make_token("umkm", nibs=["3317010000009"])
    _rejected_upload_leaves_no_trace(
        parties, evidence_dir, pid,
        lambda: upload(parties.client, stranger, pid, PDF + b"% stranger\n"), 404)


def test_an_upload_the_lifecycle_refuses_leaves_no_file_behind(
        parties: Parties, evidence_dir: Path) -> None:
    pid = parties.propose()
    expect(post(parties.client, parties.umkm, pid, "decline", {"reason": "tidak kenal"}), 200)
    _rejected_upload_leaves_no_trace(
        parties, evidence_dir, pid,
        lambda: upload(parties.client, parties.company, pid, PDF + b"% declined\n"), 409)


def test_an_upload_with_a_period_ending_before_it_starts_leaves_no_file_behind(
        parties: Parties, evidence_dir: Path) -> None:
    pid = parties.propose()
    parties.confirm(pid)

    def send() -> Any:
        return parties.client.post(
            f"/v1/partnerships/{pid}/evidence", headers=bearer(parties.company),
            files={"file": ("faktur.pdf", PDF + b"% reversed\n", "application/pdf")},
            data={"kind": "invoice", "period_start": "2024-02-01", "period_end": "2024-01-01"})
    _rejected_upload_leaves_no_trace(parties, evidence_dir, pid, send, 422)


def test_a_realization_citing_an_unknown_evidence_id_is_422_and_records_nothing(
        parties: Parties) -> None:
    c, pid = parties.client, parties.propose()
    parties.confirm(pid)
    known = expect(upload(c, parties.umkm, pid), 201)["evidence_id"]
    version = parties.version(pid)
    body = assert_problem(c.post(f"/v1/partnerships/{pid}/realizations",
                                 headers=bearer(parties.umkm),
                                 json={"period_start": "2024-01-01", "period_end": "2024-01-31",
                                       "quantity": 40, "unit": "kg",
                                       "evidence_ids": [known, "no-such-evidence"]}), 422)
    assert body["errors"][0]["field"] == "evidence_ids"
    assert "no-such-evidence" in body["errors"][0]["message"]
    assert parties.version(pid) == version
    written = expect(c.post(f"/v1/partnerships/{pid}/realizations", headers=bearer(parties.umkm),
                            json={"period_start": "2024-01-01", "period_end": "2024-01-31",
                                  "quantity": 40, "unit": "kg", "evidence_ids": [known]}), 201)
    assert written["realization_id"]
    shown = expect(parties.read(pid), 200)["realizations"]
    assert [r["evidence_ids"] for r in shown] == [[known]]


def test_a_realization_must_list_its_evidence_ids_and_an_empty_list_never_counts(
        parties: Parties) -> None:
    """Contract: `{period_start, period_end, ..., evidence_ids: [...]}` — the list is required
    (it may be empty: recorded, but not counted until it has verified evidence)."""
    c, pid = parties.client, parties.propose()
    parties.confirm(pid)
    version = parties.version(pid)
    url = f"/v1/partnerships/{pid}/realizations"
    period = {"period_start": "2024-01-01", "period_end": "2024-01-31", "value_idr": 1_000}
    body = assert_problem(c.post(url, headers=bearer(parties.umkm), json=period), 422)
    assert [e["field"] for e in body["errors"]] == ["evidence_ids"]
    assert parties.version(pid) == version
    expect(c.post(url, headers=bearer(parties.umkm), json={**period, "evidence_ids": []}), 201)
    assert [r["evidence_ids"] for r in expect(parties.read(pid), 200)["realizations"]] == [[]]


# ---- lists -------------------------------------------------------------------------------------

def test_a_list_with_limit_2_walks_every_item_through_next_cursor_without_duplicates(
        parties: Parties) -> None:
    c = parties.client
    created = [parties.propose(title=f"Kontrak {i}") for i in range(7)]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = expect(c.get("/v1/partnerships", params=params, headers=bearer(parties.dinas)),
                      200)
        assert len(page["items"]) <= 2
        assert isinstance(page["position"], int) and page["as_of"]
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 10, "the cursor does not advance"
    assert pages == 4
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == set(created)
    assert_problem(c.get("/v1/partnerships", params={"cursor": "%%%"},
                         headers=bearer(parties.admin)), 422)
    # Forged cursors that decode to "digits" the server never issues: a superscript two (which
    # str.isdigit() accepts) and a number beyond BIGINT.
    for forged in ("²", "9" * 25):
        cursor = base64.urlsafe_b64encode(forged.encode()).decode().rstrip("=")
        body = assert_problem(c.get("/v1/partnerships", params={"cursor": cursor},
                                    headers=bearer(parties.admin)), 422)
        assert body["errors"][0]["field"] == "cursor"
    assert_problem(c.get("/v1/partnerships", params={"limit": 1001},
                         headers=bearer(parties.admin)), 422)


def test_a_running_partnership_past_its_end_date_is_listed_as_expired_without_a_write(
        parties: Parties) -> None:
    """Contract, Partnerships: "an end_date in the past makes it `expired` in reports without
    any write": the list (a report) says so in `status`, as its `status` filter does; the
    single read keeps the recorded status and adds `effective_status`."""
    past = parties.propose(title="Sudah lewat", start_date="2023-01-01", end_date="2023-12-31")
    parties.confirm(past)
    running = parties.propose(title="Masih jalan", start_date="2024-01-01", end_date=None)
    parties.confirm(running)
    lapsed_proposal = parties.propose(title="Tak pernah dikonfirmasi", start_date="2023-01-01",
                                      end_date="2023-06-30")

    def listed(**params: Any) -> dict[str, str]:
        page = expect(parties.client.get("/v1/partnerships", params=params,
                                         headers=bearer(parties.dinas)), 200)
        return {item["id"]: item["status"] for item in page["items"]}

    assert listed() == {past: "expired", running: "active", lapsed_proposal: "expired"}
    assert listed(status="expired") == {past: "expired", lapsed_proposal: "expired"}
    assert listed(status="active") == {running: "active"}
    assert listed(status="proposed") == {}
    csv = parties.client.get("/v1/partnerships", params={"status": "expired", "format": "csv"},
                             headers=bearer(parties.dinas))
    assert csv.status_code == 200 and csv.text.count(",expired,") == 2
    single = expect(parties.read(past), 200)
    assert (single["status"], single["effective_status"]) == ("active", "expired")


def test_a_list_defaults_to_a_limit_of_100(parties: Parties) -> None:
    parties.propose()
    page = expect(parties.client.get("/v1/partnerships", headers=bearer(parties.admin)), 200)
    assert set(page) >= {"items", "next_cursor"} and page["next_cursor"] is None


# ---- health ------------------------------------------------------------------------------------

def test_health_needs_no_token_and_names_the_store_and_the_position(
        parties: Parties, backend: str) -> None:
    response = parties.client.get("/v1/health")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"status", "store", "position", "projections_lag", "projections"}
    assert body["status"] == "ok" and body["store"] == backend
    written = propose(parties.client, parties.company, LARGE_A, UMKM_A, REGION_A)
    after = parties.client.get("/v1/health").json()
    assert after["position"] == written["position"] > body["position"]
    # no runner thread in this app: the views are behind until a projection read catches up
    assert after["projections_lag"] >= 1
    assert {v["view"] for v in after["projections"]} >= {"partnership_list", "evidence_index"}
    parties.client.get("/v1/partnerships", headers=bearer(parties.admin))
    caught_up = parties.client.get("/v1/health").json()
    assert caught_up["projections_lag"] == 0
    assert all(v["position"] == written["position"] for v in caught_up["projections"])
    assert PROBLEM not in response.headers["content-type"]


def test_a_rotated_company_token_repeating_an_idempotency_key_gets_the_same_partnership(
        parties: Parties, make_token) -> None:  # type: ignore[no-untyped-def]
    c, body = parties.client, partnership_body(LARGE_A, UMKM_A, REGION_A)
    first = expect(c.post("/v1/partnerships", json=body,
                          headers={**bearer(parties.company), "Idempotency-Key": "k-77"}), 201)
    rotated = make_token("company", nibs=[LARGE_A])
    again = c.post("/v1/partnerships", json=body,
                   headers={**bearer(rotated), "Idempotency-Key": "k-77"})
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first["id"]
    # a token of the same company that also holds another NIB repeats it too
    register_business(c, parties.admin, LARGE_B, "besar", "33.17")
    group = make_token("company", nibs=[LARGE_A, LARGE_B])
    again = c.post("/v1/partnerships", json=body,
                   headers={**bearer(group), "Idempotency-Key": "k-77"})
    assert (again.status_code, again.json()) == (200, first)


# ---- bodies that are not even JSON ---------------------------------------------------------------

JSON_WRITES = [
    "/v1/businesses",
    f"/v1/businesses/{LARGE_A}/scale-changes",
    f"/v1/businesses/{LARGE_A}/facts",
    f"/v1/businesses/{LARGE_A}/affiliations",
    f"/v1/businesses/{LARGE_A}/affiliations/{UMKM_A}/end",
    "/v1/partnerships",
    "/v1/partnerships/{pid}/amend",
    "/v1/tokens",
]


@pytest.mark.parametrize("path", JSON_WRITES)
@pytest.mark.parametrize("raw", [b'{"name": "\xff"}', b'{"nib": '], ids=["not-utf8", "cut-json"])
def test_a_body_that_is_not_json_gets_a_documented_problem_status(
        parties: Parties, app, path: str, raw: bytes) -> None:  # type: ignore[no-untyped-def]
    pid = parties.propose()
    response = parties.client.post(path.replace("{pid}", pid), content=raw,
                                   headers={**bearer(parties.admin),
                                            "Content-Type": "application/json"})
    assert response.status_code in (400, 422)
    assert_problem(response, response.status_code)
    documented = app.openapi()["paths"][path.replace(LARGE_A, "{nib}").replace(
        UMKM_A, "{umkm_nib}")]["post"]["responses"]
    assert str(response.status_code) in documented, (
        f"POST {path} answers {response.status_code} ({response.json()['detail']}) but documents "
        f"only {sorted(documented)}")


def test_the_list_honours_min_position_and_answers_503_for_a_future_one(
        parties: Parties) -> None:
    c = parties.client
    pid = parties.propose()
    written = parties.confirm(pid)["position"]
    page = expect(c.get("/v1/partnerships", params={"min_position": written},
                        headers=bearer(parties.admin)), 200)
    assert page["position"] >= written and pid in [i["id"] for i in page["items"]]
    future = c.get("/v1/partnerships", params={"min_position": written + 1000},
                   headers=bearer(parties.admin))
    assert_problem(future, 503)
    assert future.headers["Retry-After"] == "1"

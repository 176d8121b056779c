"""The command lane (ADR 0021): well-formed partnership commands skip FastAPI's per-request
machinery, and nothing a client can see changes. The property drives the same requests — good
and bad bodies, tokens, headers — into an app with the lane and one without, each on a store of
its own, and wants the same answers byte for byte."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings, strategies as st

from api.app import create_app
from api.auth import new_secret, principal, secret_hash
from api.command_lane import CommandLane
from api.settings import Settings
from api.wiring import build
from domain.access import SYSTEM
from tests.api.helpers import (
    LARGE_A, LARGE_B, REGION_A, UMKM_A, assert_problem, expect, partnership_body, post, propose,
    register_business, two_parties,
)
from tests.conftest import Clock, bearer

DEEP = b'{"note": ' + b"[" * 3000 + b"]" * 3000 + b"}"  # deeper than json.loads goes
TRANSITIONS = ("confirm", "decline", "withdraw", "suspend", "resume", "terminate", "amend")


def lane_of(app: Any) -> CommandLane:
    lanes = [r for r in app.router.routes if isinstance(r, CommandLane)]
    assert len(lanes) == 1 and app.router.routes[0] is lanes[0]  # matched before the routers
    return lanes[0]


@pytest.fixture
def parties(client, make_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {**two_parties(client, make_token), "auditor": make_token("auditor")}


def test_well_formed_commands_take_the_lane_and_the_rest_the_routes(  # type: ignore[no-untyped-def]
        client, app, parties) -> None:
    lane = lane_of(app)
    company, umkm = parties["company"], parties["umkm"]
    # A token the process has not seen yet: the route authenticates it (and caches it).
    pid = propose(client, company, LARGE_A, UMKM_A, REGION_A)["id"]
    assert lane.taken == 0
    second = propose(client, company, LARGE_A, UMKM_A, REGION_A)["id"]
    assert lane.taken == 1
    expect(post(client, umkm, pid, "confirm", {}), 200)  # umkm's first request: the route
    r = post(client, umkm, second, "confirm", {"effective_date": "2024-03-01"})
    assert expect(r, 200)["status"] == "active" and r.headers["ETag"] == '"2"'
    assert lane.taken == 2
    for action, body in [("amend", {"value_idr": 7}), ("suspend", {"reason": "audit",
                         "effective_date": "2024-03-01"}), ("resume", {"effective_date":
                         "2024-03-02"}), ("terminate", {"reason": "selesai",
                         "effective_date": "2024-03-03"})]:
        expect(post(client, company, pid, action, body), 200)
    assert lane.taken == 6
    # Not plainly well formed: the routes answer, as they always have.
    assert_problem(post(client, company, second, "amend", {"value_idr": "banyak"}), 422)
    assert_problem(post(client, company, second, "amend", {"value_idr": 8},
                        headers={"If-Match": "tiga"}), 400)
    assert_problem(post(client, parties["auditor"], second, "amend", {"value_idr": 8}), 403)
    assert_problem(post(client, parties["auditor"], second, "amend", {"value_idr": 8}), 403)
    assert_problem(client.post(f"/v1/partnerships/{second}/amend", json={"value_idr": 8}), 401)
    assert lane.taken == 6 + 1  # the bad If-Match: a body the lane took, an error the route's
    # Errors raised once the lane has taken a command are the app's problems, as on the routes.
    assert_problem(post(client, company, str(uuid.uuid4()), "suspend",
                        {"reason": "x", "effective_date": "2024-03-01"}), 404)
    assert_problem(post(client, company, pid, "resume", {"effective_date": "2024-03-04"}), 409)
    assert lane.taken == 9
    history = expect(client.get(f"/v1/partnerships/{pid}/events", headers=bearer(company)), 200)
    assert [e["type"].split(".")[1] for e in history["items"]] == [
        "Proposed", "Confirmed", "Amended", "Suspended", "Resumed", "Terminated"]


def test_a_chunked_body_and_an_idempotent_repeat(client, app, parties) -> None:  # type: ignore[no-untyped-def]
    lane, company = lane_of(app), parties["company"]
    propose(client, company, LARGE_A, UMKM_A, REGION_A)  # the token is cached from here on
    body = json.dumps(partnership_body(LARGE_A, UMKM_A, REGION_A)).encode()
    headers = {**bearer(company), "Content-Type": "application/json", "Idempotency-Key": "po-7"}
    first = client.post("/v1/partnerships", headers=headers, content=body)
    again = client.post("/v1/partnerships", headers=headers, content=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert lane.taken == 2
    for key in ("", "k" * 201):  # out of the route's bounds: its 422
        assert_problem(client.post("/v1/partnerships", content=body,
                                   headers={**headers, "Idempotency-Key": key}), 422)
    assert lane.taken == 2
    # No declared length (chunked): the routes read it
    chunked = client.post("/v1/partnerships", headers={**bearer(company),
                          "Content-Type": "application/json"}, content=iter([body[:10], body[10:]]))
    expect(chunked, 201)
    assert lane.taken == 2


@pytest.mark.parametrize("error, status", [(OperationalError("database is locked"), 503),
                                           (OperationalError("no such table: x"), 500)])
def test_a_store_failure_in_the_lane_is_mapped_as_on_the_routes(  # type: ignore[no-untyped-def]
        client, app, container, parties, monkeypatch, error, status) -> None:
    lane, company = lane_of(app), parties["company"]
    pid = propose(client, company, LARGE_A, UMKM_A, REGION_A)["id"]

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(container.ledger, "amend", failing)
    r = post(client, company, pid, "amend", {"value_idr": 9})
    assert lane.taken == 1
    assert_problem(r, status)
    assert r.headers.get("Retry-After") == ("2" if status == 503 else None)


# ---- the property: the same requests, with and without the lane --------------------------------

SECRETS = {role: new_secret() for role in ("admin", "company", "umkm", "auditor", "other")}


class Twin:
    """One app on a store of its own; partnerships it created, by creation order."""

    def __init__(self, data_dir: Path, lane: bool) -> None:
        self.container = build(Settings(data_dir=data_dir, log_format="json"))
        self.app = create_app(self.container, clock=Clock(datetime(2024, 3, 1, 3, 0,
                                                                     tzinfo=timezone.utc)),
                              command_lane=lane)
        self.client = TestClient(self.app, raise_server_exceptions=False).__enter__()
        self.pids: list[str] = []
        self.issue("admin", [])
        for nib, scale, region in ((LARGE_A, "besar", REGION_A), (LARGE_B, "besar", "33.17"),
                                   (UMKM_A, "kecil", REGION_A + ".01")):
            register_business(self.client, SECRETS["admin"], nib, scale, region)
        for role, nibs in (("company", [LARGE_A]), ("umkm", [UMKM_A]), ("auditor", []),
                           ("other", [LARGE_B])):
            self.issue(role, nibs)

    def issue(self, holder: str, nibs: list[str]) -> None:
        self.container.ledger.issue_token(
            SYSTEM, datetime.now(timezone.utc), secret_sha256_hex=secret_hash(SECRETS[holder]),
            role="company" if holder == "other" else holder, region=None, nibs=nibs,
            name=f"twin {holder}")

    def send(self, request: dict[str, Any]) -> tuple[int, list[tuple[str, str]], str]:
        pid = request["pid"]
        if isinstance(pid, int):
            pid = self.pids[pid % len(self.pids)] if self.pids else str(uuid.UUID(int=7))
        path = "/v1/partnerships" + (f"/{pid}/{request['action']}" if request["action"] else "")
        r = self.client.post(path + request["query"], headers=request["headers"],
                             content=request["content"])
        text = r.text
        if request["action"] == "" and r.status_code == 201:
            self.pids.append(r.json()["id"])
        for k, own in enumerate(self.pids):  # partnership ids differ between the twins
            text = text.replace(own, f"<pid {k}>")
        headers = sorted((k, v) for k, v in r.headers.items() if k != "date")
        return r.status_code, headers, text

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self.container.close()


@pytest.fixture
def twins(tmp_path: Path):  # type: ignore[no-untyped-def]
    pair = (Twin(tmp_path / "lane", lane=True), Twin(tmp_path / "routes", lane=False))
    yield pair
    for twin in pair:
        twin.close()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=12) | st.sampled_from(["2024-03-01", "2024-02-30", "2030-01-01", "",
                                              "32.16.01", "3216000000001", "rantai_pasok"]),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=2), max_leaves=4)
VALID = {
    "": partnership_body(LARGE_A, UMKM_A, REGION_A),
    "confirm": {"note": "benar", "effective_date": "2024-03-01"},
    "decline": {"reason": "tidak kenal"}, "withdraw": {"reason": "batal"},
    "suspend": {"reason": "audit", "effective_date": "2024-03-01"},
    "resume": {"effective_date": "2024-03-02"},
    "terminate": {"reason": "selesai", "effective_date": "2024-03-03"},
    "amend": {"value_idr": 200_000_000, "title": "Pasokan baru"},
}


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    action = draw(st.sampled_from(["", "", *TRANSITIONS]))
    body: Any = dict(VALID[action])
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):  # a few mutations of a valid body
        field = draw(st.sampled_from([*body, "extra"]) if isinstance(body, dict) else st.just(""))
        how = draw(st.sampled_from(["drop", "set", "whole"]))
        if how == "drop" and isinstance(body, dict):
            body.pop(field, None)
        elif how == "set" and isinstance(body, dict):
            body[field] = draw(json_values)
        elif how == "whole":
            body = draw(json_values)
    content = draw(st.sampled_from(["json"] * 5 + ["raw"]))
    content = (json.dumps(body).encode() if content == "json" else
               draw(st.sampled_from([b"", b"{", b"null", b"\xff{}", b'{"a": NaN}', b"[]",
                                     DEEP])))
    who = draw(st.sampled_from(["company"] * 4 + ["umkm"] * 3 + ["auditor", "other", "admin",
                                                                 "unknown", "none"]))
    headers: dict[str, str] = {}
    if who != "none":
        secret = SECRETS.get(who, "bukan-token")
        headers["Authorization"] = draw(st.sampled_from(
            [f"Bearer {secret}"] * 4 + [f"bearer {secret}", f"Basic {secret}", "Bearer "]))
    ctype = draw(st.sampled_from(["application/json"] * 4 + [
        "application/json; charset=utf-8", "Application/JSON", "text/plain", None]))
    if ctype:
        headers["Content-Type"] = ctype
    for name, values in (("If-Match", ['"1"', '"2"', 'W/"3"', "*", "tiga"]),
                         ("Idempotency-Key", ["", "k1", "k" * 201])):
        value = draw(st.sampled_from([None] * len(values) * 2 + values))
        if value is not None:
            headers[name] = value
    headers["X-Request-ID"] = "twin"
    pid = draw(st.integers(0, 5) | st.sampled_from(["bukan-uuid", str(uuid.UUID(int=9))]))
    return {"action": action, "pid": pid, "content": content, "headers": headers,
            "query": draw(st.sampled_from(["", "", "", "", "?x=1"]))}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                               HealthCheck.data_too_large])
@given(batch=st.lists(requests(), min_size=1, max_size=6))
def same_answers(twins: tuple[Twin, Twin], batch: list[dict[str, Any]]) -> None:
    with_lane, without = twins
    for request in batch:
        answer = with_lane.send(request)
        assert answer == without.send(request), request
        assert answer[0] < 500, answer


def test_the_lane_answers_exactly_as_the_routes(twins) -> None:  # type: ignore[no-untyped-def]
    same_answers(twins)
    assert lane_of(twins[0].app).taken >= 20  # the search did exercise the lane
    assert not any(isinstance(r, CommandLane) for r in twins[1].app.router.routes)


def test_the_lane_knows_every_parameter_of_the_routes_it_shortens() -> None:
    """A parameter added to one of these routes (a header, a query) would be judged by FastAPI
    but not by the lane: this fails until the lane learns it (api/command_lane.py)."""
    from fastapi.routing import APIRoute

    from api.routes import partnerships

    routes = {r.path.removeprefix("/v1/partnerships").removeprefix("/{pid}/"): r
              for r in partnerships.router.routes
              if isinstance(r, APIRoute) and r.methods == {"POST"}}
    assert set(partnerships.LANE) <= set(routes)
    for name, command in partnerships.LANE.items():
        d = routes[name].dependant
        seen = {"path": [p.name for p in d.path_params], "query": [p.name for p in d.query_params],
                "header": [p.name for p in d.header_params], "cookie": d.cookie_params,
                "body": [p.name for p in d.body_params],
                "depends": [x.call for x in d.dependencies]}
        assert seen == {"path": [] if name == "" else ["pid"], "query": [],
                        "header": ["idempotency_key"] if command.idempotency_key else [],
                        "cookie": [], "body": ["body"], "depends": [principal]}, name
        assert d.body_params[0].field_info.annotation in (command.body_model,
                                                          command.body_model | None), name


def test_behind_a_root_path_the_lane_still_takes_commands(  # type: ignore[no-untyped-def]
        client, app, parties) -> None:
    """Served under a prefix (uvicorn --root-path /kemitraan puts it in front of the path):
    the lane matches the route's path, without the prefix, as the routes do."""
    company = parties["company"]
    pid = propose(client, company, LARGE_A, UMKM_A, REGION_A)["id"]
    with TestClient(app, root_path="/kemitraan", raise_server_exceptions=False) as prefixed:
        r = prefixed.post(f"/kemitraan/v1/partnerships/{pid}/amend", json={"value_idr": 5},
                          headers=bearer(company))
    assert expect(r, 200)["version"] == 2
    assert lane_of(app).taken == 1


def test_a_body_nested_too_deep_is_the_routes_422(client, app, parties) -> None:  # type: ignore[no-untyped-def]
    company = parties["company"]
    pid = propose(client, company, LARGE_A, UMKM_A, REGION_A)["id"]
    r = client.post(f"/v1/partnerships/{pid}/amend", content=DEEP,
                    headers={**bearer(company), "Content-Type": "application/json"})
    assert_problem(r, 422)
    assert r.headers["X-Request-ID"]
    assert lane_of(app).taken == 0  # declined


def test_a_client_gone_mid_body_ends_as_on_the_routes(app, parties) -> None:  # type: ignore[no-untyped-def]
    """The lane reads the body before anything else: a client that leaves half-way is not an
    error of the app (it was a ClientDisconnect traceback at error level)."""
    import asyncio

    async def call() -> list[dict[str, Any]]:
        messages = iter([{"type": "http.request", "body": b'{"val', "more_body": True},
                         {"type": "http.disconnect"}])
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return next(messages, {"type": "http.disconnect"})

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app({"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                   "method": "POST", "scheme": "http", "path": f"/v1/partnerships/{uuid.uuid4()}/amend",
                   "raw_path": b"/", "query_string": b"", "root_path": "",
                   "client": ("127.0.0.1", 1), "server": ("test", 80), "state": {},
                   "headers": [(b"host", b"test"), (b"content-type", b"application/json"),
                               (b"content-length", b"100"),
                               (b"authorization", f"Bearer {parties['company']}".encode())]},
                  receive, send)
        return sent

    sent = asyncio.run(call())  # raised ClientDisconnect out of the app before
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [422]  # routes: same

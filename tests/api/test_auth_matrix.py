"""Who may do what, over HTTP: role x endpoint x own/other object (contract: Principals and scopes).

The world: two regions, 32.16 (A) and 33.17 (B), each with a `besar` business and an UMKM, and one
partnership per region proposed by that region's company. "own" is the A object the caller is
closest to (the A partnership; the caller's own business for company and umkm, the A large
business for the others); "other" is the matching B object.

Expected answers (contract, Conventions):
- 403 when the role may never do it, whichever object it names (the role is asked first);
- 404 when the object lies outside the caller's scope (no existence leaks);
- 2xx on objects in scope, or 409 when the lifecycle forbids the transition.
Each case runs in a fresh world, brought to the state the action needs through the front door.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.api.helpers import (
    LARGE_A, LARGE_B, PDF, REGION_A, REGION_B, UMKM_A, UMKM_B, expect, post, propose,
    register_business, upload,
)
from tests.conftest import bearer

ROLES = ("admin", "dinas", "auditor", "auditor_national", "company", "umkm")

# (action, role, status on the own (32.16) object, status on the other (33.17) object)
MATRIX: list[tuple[str, str, int, int]] = [
    # GET /v1/businesses/{nib}: everyone reads what lies in their scope
    ("get_business", "admin", 200, 200),
    ("get_business", "dinas", 200, 404),
    ("get_business", "auditor", 200, 404),
    ("get_business", "auditor_national", 200, 200),
    ("get_business", "company", 200, 404),
    ("get_business", "umkm", 200, 404),
    # POST /v1/businesses/{nib}/scale-changes: admin and the region's dinas
    ("scale_change", "admin", 201, 201),
    ("scale_change", "dinas", 201, 404),
    ("scale_change", "auditor", 403, 403),
    ("scale_change", "auditor_national", 403, 403),
    ("scale_change", "company", 403, 403),
    ("scale_change", "umkm", 403, 403),
    # POST /v1/businesses/{nib}/facts: admin, dinas, and the company for its own business
    ("declare_fact", "admin", 201, 201),
    ("declare_fact", "dinas", 201, 404),
    ("declare_fact", "auditor", 403, 403),
    ("declare_fact", "auditor_national", 403, 403),
    ("declare_fact", "company", 201, 404),
    ("declare_fact", "umkm", 403, 403),
    # POST /v1/businesses/{nib}/affiliations: same roles as facts
    ("declare_affiliation", "admin", 201, 201),
    ("declare_affiliation", "dinas", 201, 404),
    ("declare_affiliation", "auditor", 403, 403),
    ("declare_affiliation", "auditor_national", 403, 403),
    ("declare_affiliation", "company", 201, 404),
    ("declare_affiliation", "umkm", 403, 403),
    # POST /v1/partnerships: admin, and a company only where it is the large party. Naming
    # another company's large NIB is refused before any lookup (403), so nothing leaks.
    ("propose", "admin", 201, 201),
    ("propose", "dinas", 403, 403),
    ("propose", "auditor", 403, 403),
    ("propose", "auditor_national", 403, 403),
    ("propose", "company", 201, 403),
    ("propose", "umkm", 403, 403),
    # GET /v1/partnerships/{id}: in scope = touches the region / names the caller's NIB
    ("get_partnership", "admin", 200, 200),
    ("get_partnership", "dinas", 200, 404),
    ("get_partnership", "auditor", 200, 404),
    ("get_partnership", "auditor_national", 200, 200),
    ("get_partnership", "company", 200, 404),
    ("get_partnership", "umkm", 200, 404),
    # GET /v1/partnerships/{id}/events: same scope as the partnership
    ("events", "admin", 200, 200),
    ("events", "dinas", 200, 404),
    ("events", "auditor", 200, 404),
    ("events", "auditor_national", 200, 200),
    ("events", "company", 200, 404),
    ("events", "umkm", 200, 404),
    # POST .../confirm on a proposed partnership: the UMKM party (and admin)
    ("confirm", "admin", 200, 200),
    ("confirm", "dinas", 403, 403),
    ("confirm", "auditor", 403, 403),
    ("confirm", "auditor_national", 403, 403),
    ("confirm", "company", 403, 403),
    ("confirm", "umkm", 200, 404),
    # POST .../decline on a proposed partnership: the UMKM party (and admin)
    ("decline", "admin", 200, 200),
    ("decline", "dinas", 403, 403),
    ("decline", "auditor", 403, 403),
    ("decline", "auditor_national", 403, 403),
    ("decline", "company", 403, 403),
    ("decline", "umkm", 200, 404),
    # POST .../withdraw on a proposed partnership: the large party (and admin)
    ("withdraw", "admin", 200, 200),
    ("withdraw", "dinas", 403, 403),
    ("withdraw", "auditor", 403, 403),
    ("withdraw", "auditor_national", 403, 403),
    ("withdraw", "company", 200, 404),
    ("withdraw", "umkm", 403, 403),
    # POST .../suspend on an active partnership: the large party (and admin)
    ("suspend", "admin", 200, 200),
    ("suspend", "dinas", 403, 403),
    ("suspend", "auditor", 403, 403),
    ("suspend", "auditor_national", 403, 403),
    ("suspend", "company", 200, 404),
    ("suspend", "umkm", 403, 403),
    # POST .../resume on a suspended partnership: the large party (and admin)
    ("resume", "admin", 200, 200),
    ("resume", "dinas", 403, 403),
    ("resume", "auditor", 403, 403),
    ("resume", "auditor_national", 403, 403),
    ("resume", "company", 200, 404),
    ("resume", "umkm", 403, 403),
    # POST .../terminate on an active partnership: the large party (and admin); never the UMKM
    ("terminate", "admin", 200, 200),
    ("terminate", "dinas", 403, 403),
    ("terminate", "auditor", 403, 403),
    ("terminate", "auditor_national", 403, 403),
    ("terminate", "company", 200, 404),
    ("terminate", "umkm", 403, 403),
    # POST .../amend on an active partnership: the large party (and admin)
    ("amend", "admin", 200, 200),
    ("amend", "dinas", 403, 403),
    ("amend", "auditor", 403, 403),
    ("amend", "auditor_national", 403, 403),
    ("amend", "company", 200, 404),
    ("amend", "umkm", 403, 403),
    # POST .../evidence (multipart): either party (and admin); dinas and auditors never
    ("upload_evidence", "admin", 201, 201),
    ("upload_evidence", "dinas", 403, 403),
    ("upload_evidence", "auditor", 403, 403),
    ("upload_evidence", "auditor_national", 403, 403),
    ("upload_evidence", "company", 201, 404),
    ("upload_evidence", "umkm", 201, 404),
    # POST .../evidence/{evidence_id}/review: dinas of the region (and admin); parties never
    ("review_evidence", "admin", 200, 200),
    ("review_evidence", "dinas", 200, 404),
    ("review_evidence", "auditor", 403, 403),
    ("review_evidence", "auditor_national", 403, 403),
    ("review_evidence", "company", 403, 403),
    ("review_evidence", "umkm", 403, 403),
    # GET /v1/evidence/{evidence_id}/content: whoever may read the partnership
    ("evidence_content", "admin", 200, 200),
    ("evidence_content", "dinas", 200, 404),
    ("evidence_content", "auditor", 200, 404),
    ("evidence_content", "auditor_national", 200, 200),
    ("evidence_content", "company", 200, 404),
    ("evidence_content", "umkm", 200, 404),
    # GET /v1/compliance/{nib}: as reading the business; umkm never
    ("compliance", "admin", 200, 200),
    ("compliance", "dinas", 200, 404),
    ("compliance", "auditor", 200, 404),
    ("compliance", "auditor_national", 200, 200),
    ("compliance", "company", 200, 404),
    ("compliance", "umkm", 403, 403),
    # GET /v1/compliance?region=: as statistics (403 outside the region); a company sees its own
    # NIBs in any region; umkm never
    ("compliance_list", "admin", 200, 200),
    ("compliance_list", "dinas", 200, 403),
    ("compliance_list", "auditor", 200, 403),
    ("compliance_list", "auditor_national", 200, 200),
    ("compliance_list", "company", 200, 200),
    ("compliance_list", "umkm", 403, 403),
    # POST .../realizations on an active partnership: either party (and admin)
    ("report_realization", "admin", 201, 201),
    ("report_realization", "dinas", 403, 403),
    ("report_realization", "auditor", 403, 403),
    ("report_realization", "auditor_national", 403, 403),
    ("report_realization", "company", 201, 404),
    ("report_realization", "umkm", 201, 404),
]

# (action, role, status) for endpoints without an own/other object: token management.
TOKEN_MATRIX: list[tuple[str, str, int]] = [
    # POST /v1/tokens: admin only
    ("create_token", "admin", 201),
    ("create_token", "dinas", 403),
    ("create_token", "auditor", 403),
    ("create_token", "auditor_national", 403),
    ("create_token", "company", 403),
    ("create_token", "umkm", 403),
    # DELETE /v1/tokens/{id}: admin only
    ("revoke_token", "admin", 200),
    ("revoke_token", "dinas", 403),
    ("revoke_token", "auditor", 403),
    ("revoke_token", "auditor_national", 403),
    ("revoke_token", "company", 403),
    ("revoke_token", "umkm", 403),
    # GET /v1/tokens: admin only
    ("list_tokens", "admin", 200),
    ("list_tokens", "dinas", 403),
    ("list_tokens", "auditor", 403),
    ("list_tokens", "auditor_national", 403),
    ("list_tokens", "company", 403),
    ("list_tokens", "umkm", 403),
]

# (role, partnerships the list may show): GET /v1/partnerships shows exactly what is in scope.
LIST_SCOPE: list[tuple[str, set[str]]] = [
    ("admin", {"own", "other"}),
    ("dinas", {"own"}),
    ("auditor", {"own"}),
    ("auditor_national", {"own", "other"}),
    ("company", {"own"}),
    ("umkm", {"own"}),
]

# (action, role, state of the own partnership, status): the role may act, the lifecycle forbids.
LIFECYCLE: list[tuple[str, str, str, int]] = [
    ("confirm", "umkm", "active", 409),            # already confirmed
    ("decline", "umkm", "terminated", 409),
    ("withdraw", "company", "active", 409),        # only a proposal can be withdrawn
    ("suspend", "company", "proposed", 409),
    ("resume", "company", "active", 409),          # nothing to resume
    ("terminate", "company", "proposed", 409),
    ("amend", "company", "terminated", 409),
    ("upload_evidence", "company", "withdrawn", 409),
    ("report_realization", "umkm", "proposed", 409),
    ("review_evidence", "dinas", "reviewed", 409),  # a review is final
    # the role question comes before the lifecycle: an UMKM may never terminate, in any state
    ("terminate", "umkm", "proposed", 403),
    ("review_evidence", "company", "reviewed", 403),
]


@dataclass
class World:
    client: Any
    tokens: dict[str, str]  # role -> secret of the caller under test
    admin: str
    company: dict[str, str]  # region letter -> company token of that region's large business
    umkm: dict[str, str]  # region letter -> umkm token of that region's UMKM
    partnership: dict[str, str] = field(default_factory=dict)  # region letter -> id

    def log_position(self) -> int:
        return expect(self.client.get("/v1/health"), 200)["position"]

    def pid(self, target: str) -> str:
        return self.partnership["A" if target == "own" else "B"]

    def bring_to(self, target: str, state: str) -> dict[str, str]:
        """Drive the target partnership to `state` through the parties' own requests; returns
        {"evidence_id": ...} when the state needs evidence."""
        region = "A" if target == "own" else "B"
        pid, company, umkm = self.partnership[region], self.company[region], self.umkm[region]
        extra: dict[str, str] = {}
        if state in ("evidence", "reviewed"):
            extra["evidence_id"] = expect(upload(self.client, company, pid), 201)["evidence_id"]
        if state == "reviewed":
            review = f"/v1/partnerships/{pid}/evidence/{extra['evidence_id']}/review"
            expect(self.client.post(review, headers=bearer(self.admin),
                                    json={"decision": "verified"}), 200)
        if state == "withdrawn":
            expect(post(self.client, company, pid, "withdraw", {"reason": "tidak jadi"}), 200)
        if state in ("active", "suspended", "terminated"):
            expect(post(self.client, umkm, pid, "confirm",
                        {"note": "benar", "effective_date": "2024-01-15"}), 200)
        if state == "suspended":
            expect(post(self.client, company, pid, "suspend",
                        {"reason": "audit", "effective_date": "2024-02-01"}), 200)
        if state == "terminated":
            expect(post(self.client, company, pid, "terminate",
                        {"reason": "selesai", "effective_date": "2024-02-01"}), 200)
        return extra


@pytest.fixture
def world(client, make_token) -> World:  # type: ignore[no-untyped-def]
    admin = make_token("admin")
    for nib, scale, region in ((LARGE_A, "besar", REGION_A), (UMKM_A, "mikro", REGION_A + ".01"),
                               (LARGE_B, "besar", REGION_B), (UMKM_B, "mikro", REGION_B + ".01")):
        register_business(client, admin, nib, scale, region)
    w = World(client=client, admin=admin,
              company={"A": make_token("company", nibs=[LARGE_A]),
                       "B": make_token("company", nibs=[LARGE_B])},
              umkm={"A": make_token("umkm", nibs=[UMKM_A]), "B": make_token("umkm", nibs=[UMKM_B])},
              tokens={})
    w.partnership["A"] = propose(client, w.company["A"], LARGE_A, UMKM_A, REGION_A)["id"]
    w.partnership["B"] = propose(client, w.company["B"], LARGE_B, UMKM_B, REGION_B)["id"]
    w.tokens = {"admin": admin, "dinas": make_token("dinas", region=REGION_A),
                "auditor": make_token("auditor", region=REGION_A),
                "auditor_national": make_token("auditor", region=""),
                "company": w.company["A"], "umkm": w.umkm["A"]}
    return w


# ---- the actions: (state the partnership needs, the request) ---------------------------------

def _business(role: str, target: str) -> str:
    """The business a role acts on: its own for company/umkm, the large one for the others."""
    if role == "umkm":
        return UMKM_A if target == "own" else UMKM_B
    return LARGE_A if target == "own" else LARGE_B


def _partner(target: str) -> str:
    return UMKM_A if target == "own" else UMKM_B


Request = Callable[[World, str, str, str, dict[str, str]], Any]


def _get_business(w: World, token: str, role: str, target: str, _: dict[str, str]) -> Any:
    return w.client.get(f"/v1/businesses/{_business(role, target)}", headers=bearer(token))


def _scale_change(w: World, token: str, role: str, target: str, _: dict[str, str]) -> Any:
    nib = _business(role, target)
    scale = "kecil" if nib in (UMKM_A, UMKM_B) else "menengah"
    return w.client.post(f"/v1/businesses/{nib}/scale-changes", headers=bearer(token),
                         json={"scale": scale, "effective_date": "2024-02-15",
                               "basis": {"annual_sales_idr": 3_000_000_000}})


def _declare_fact(w: World, token: str, role: str, target: str, _: dict[str, str]) -> Any:
    return w.client.post(f"/v1/businesses/{_business(role, target)}/facts", headers=bearer(token),
                         json={"name": "commercial_area", "value": "1200.5", "unit": "m2",
                               "effective_date": "2024-01-01"})


def _declare_affiliation(w: World, token: str, role: str, target: str, _: dict[str, str]) -> Any:
    return w.client.post(f"/v1/businesses/{_business(role, target)}/affiliations",
                         headers=bearer(token),
                         json={"umkm_nib": _partner(target), "kind": "owns",
                               "effective_date": "2024-01-01"})


def _propose(w: World, token: str, role: str, target: str, _: dict[str, str]) -> Any:
    large, umkm, region = ((LARGE_A, UMKM_A, REGION_A) if target == "own"
                           else (LARGE_B, UMKM_B, REGION_B))
    return w.client.post("/v1/partnerships", headers=bearer(token), json={
        "large_nib": large, "umkm_nib": umkm, "pola": "subkontrak", "title": "Kontrak kedua",
        "start_date": "2024-02-01", "location_region_code": region})


def _get_partnership(w: World, token: str, role: str, target: str, _: dict[str, str]) -> Any:
    return w.client.get(f"/v1/partnerships/{w.pid(target)}", headers=bearer(token))


def _events(w: World, token: str, role: str, target: str, _: dict[str, str]) -> Any:
    return w.client.get(f"/v1/partnerships/{w.pid(target)}/events", headers=bearer(token))


def _command(action: str, body: dict[str, Any]) -> Request:
    def request(w: World, token: str, role: str, target: str, _: dict[str, str]) -> Any:
        return post(w.client, token, w.pid(target), action, body)
    return request


def _upload(w: World, token: str, role: str, target: str, _: dict[str, str]) -> Any:
    return upload(w.client, token, w.pid(target), PDF + b"% " + role.encode() + b"\n")


def _review(w: World, token: str, role: str, target: str, extra: dict[str, str]) -> Any:
    return w.client.post(
        f"/v1/partnerships/{w.pid(target)}/evidence/{extra['evidence_id']}/review",
        headers=bearer(token), json={"decision": "verified", "reason": "cocok dengan aslinya"})


def _content(w: World, token: str, role: str, target: str, extra: dict[str, str]) -> Any:
    return w.client.get(f"/v1/evidence/{extra['evidence_id']}/content", headers=bearer(token))


def _compliance(w: World, token: str, role: str, target: str, _: dict[str, str]) -> Any:
    return w.client.get(f"/v1/compliance/{_business(role, target)}", headers=bearer(token),
                        params={"period": "2024"})


def _compliance_list(w: World, token: str, role: str, target: str, _: dict[str, str]) -> Any:
    return w.client.get("/v1/compliance", headers=bearer(token), params={
        "period": "2024", "region": REGION_A if target == "own" else REGION_B})


def _realization(w: World, token: str, role: str, target: str, _: dict[str, str]) -> Any:
    return w.client.post(f"/v1/partnerships/{w.pid(target)}/realizations", headers=bearer(token),
                         json={"period_start": "2024-01-01", "period_end": "2024-03-31",
                               "value_idr": 25_000_000, "evidence_ids": []})


ACTIONS: dict[str, tuple[str, Request]] = {
    "get_business": ("proposed", _get_business),
    "scale_change": ("proposed", _scale_change),
    "declare_fact": ("proposed", _declare_fact),
    "declare_affiliation": ("proposed", _declare_affiliation),
    "propose": ("proposed", _propose),
    "get_partnership": ("proposed", _get_partnership),
    "events": ("proposed", _events),
    "confirm": ("proposed", _command("confirm", {"note": "kami setuju"})),
    "decline": ("proposed", _command("decline", {"reason": "harga tidak cocok"})),
    "withdraw": ("proposed", _command("withdraw", {"reason": "salah input"})),
    "suspend": ("active", _command("suspend", {"reason": "audit mutu",
                                               "effective_date": "2024-03-01"})),
    "resume": ("suspended", _command("resume", {"effective_date": "2024-03-01"})),
    "terminate": ("active", _command("terminate", {"reason": "kontrak selesai",
                                                   "effective_date": "2024-03-01"})),
    "amend": ("active", _command("amend", {"title": "Pasokan diperluas",
                                           "value_idr": 200_000_000})),
    "upload_evidence": ("active", _upload),
    "review_evidence": ("evidence", _review),
    "evidence_content": ("evidence", _content),
    "report_realization": ("active", _realization),
    "compliance": ("proposed", _compliance),
    "compliance_list": ("proposed", _compliance_list),
}


def _cases() -> list[Any]:
    cases = []
    for action, role, own, other in MATRIX:
        for target, status in (("own", own), ("other", other)):
            cases.append(pytest.param(action, role, target, status,
                                      id=f"{role}-{action}-{target}-{status}"))
    return cases


@pytest.mark.parametrize(("action", "role", "target", "status"), _cases())
def test_each_role_gets_the_contract_status_for_each_endpoint_on_own_and_other_objects(
        world: World, action: str, role: str, target: str, status: int) -> None:
    state, request = ACTIONS[action]
    extra = world.bring_to(target, state)
    head = world.log_position()
    response = request(world, world.tokens[role], role, target, extra)
    assert response.status_code == status, (
        f"{role} {action} on the {target} object: expected {status}, got "
        f"{response.status_code}: {response.text[:300]}")
    if status >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert world.log_position() == head, "a refused request recorded an event"
    elif response.request.method == "POST":
        assert world.log_position() == response.json()["position"] > head
    else:
        assert world.log_position() == head, "a read recorded an event"
    if action == "evidence_content" and status == 200:
        assert response.content == PDF


@pytest.mark.parametrize(("action", "role", "state", "status"),
                         [pytest.param(*row, id=f"{row[1]}-{row[0]}-when-{row[2]}")
                          for row in LIFECYCLE])
def test_a_permitted_role_gets_409_when_the_lifecycle_forbids_the_transition(
        world: World, action: str, role: str, state: str, status: int) -> None:
    _, request = ACTIONS[action]
    extra = world.bring_to("own", state)
    version = expect(world.client.get(f"/v1/partnerships/{world.pid('own')}",
                                      headers=bearer(world.admin)), 200)["version"]
    response = request(world, world.tokens[role], role, "own", extra)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    after = expect(world.client.get(f"/v1/partnerships/{world.pid('own')}",
                                    headers=bearer(world.admin)), 200)["version"]
    assert after == version, "a refused transition recorded an event"


@pytest.mark.parametrize(("action", "role", "status"),
                         [pytest.param(*row, id=f"{row[1]}-{row[0]}-{row[2]}")
                          for row in TOKEN_MATRIX])
def test_only_an_admin_may_create_list_and_revoke_tokens(
        world: World, action: str, role: str, status: int) -> None:
    token = world.tokens[role]
    if action == "create_token":
        response = world.client.post("/v1/tokens", headers=bearer(token),
                                     json={"role": "dinas", "region": REGION_A, "name": "x"})
    elif action == "list_tokens":
        response = world.client.get("/v1/tokens", headers=bearer(token))
    else:
        victim = expect(world.client.post("/v1/tokens", headers=bearer(world.admin),
                                          json={"role": "auditor", "region": REGION_B}), 201)
        response = world.client.delete(f"/v1/tokens/{victim['id']}", headers=bearer(token))
        # the victim token still works unless an admin revoked it
        check = world.client.get("/v1/partnerships", headers=bearer(victim["token"]))
        assert check.status_code == (401 if status == 200 else 200)
    assert response.status_code == status, response.text


@pytest.mark.parametrize(("role", "visible"),
                         [pytest.param(role, visible, id=role) for role, visible in LIST_SCOPE])
def test_the_partnership_list_shows_each_role_only_what_lies_in_its_scope(
        world: World, role: str, visible: set[str]) -> None:
    body = expect(world.client.get("/v1/partnerships", headers=bearer(world.tokens[role])), 200)
    assert {item["id"] for item in body["items"]} == {world.pid(t) for t in visible}
    # asking for the other region explicitly does not widen the scope
    body = expect(world.client.get("/v1/partnerships", params={"region": REGION_B},
                                   headers=bearer(world.tokens[role])), 200)
    assert {item["id"] for item in body["items"]} == {world.pid(t) for t in visible} & {
        world.pid("other")}


@pytest.mark.parametrize("role", ["company", "dinas"])
def test_an_affiliation_does_not_tell_a_company_or_a_dinas_whether_a_nib_exists(
        world: World, role: str) -> None:
    """No existence leaks (contract): a company's or dinas's affiliation with a NIB outside its
    scope answered 201 if that business existed and 422 if not. Both are recorded now; only an
    admin, who may read every business, is told that one is unknown."""
    answers = []
    for umkm_nib in (UMKM_B, "3317099999999"):  # B's UMKM exists, outside A's scope; the other not
        r = world.client.post(f"/v1/businesses/{LARGE_A}/affiliations",
                              headers=bearer(world.tokens[role]),
                              json={"umkm_nib": umkm_nib, "kind": "owns",
                                    "effective_date": "2024-01-01"})
        answers.append(r.status_code)
    assert answers == [201, 201]
    unknown = world.client.post(f"/v1/businesses/{LARGE_A}/affiliations",
                                headers=bearer(world.admin),
                                json={"umkm_nib": "3317099999998", "kind": "owns",
                                      "effective_date": "2024-01-01"})
    assert unknown.status_code == 422


# (role, what the request gets wrong besides the role, the request): the role may never do this,
# so the answer is 403 whatever else is wrong with the request (the role is asked first).
ROLE_FIRST: list[tuple[str, str, Request]] = [
    ("auditor", "affiliation naming an unregistered UMKM",
     lambda w, token, role, target, _: w.client.post(
         f"/v1/businesses/{LARGE_A}/affiliations", headers=bearer(token),
         json={"umkm_nib": "3216999999999", "kind": "controls", "effective_date": "2024-01-01"})),
    ("umkm", "affiliation naming an unregistered UMKM",
     lambda w, token, role, target, _: w.client.post(
         f"/v1/businesses/{UMKM_A}/affiliations", headers=bearer(token),
         json={"umkm_nib": "3216999999999", "kind": "owns", "effective_date": "2024-01-01"})),
    ("auditor", "proposal naming unregistered businesses",
     lambda w, token, role, target, _: w.client.post(
         "/v1/partnerships", headers=bearer(token),
         json={"large_nib": "3216999999998", "umkm_nib": "3216999999999", "pola": "lainnya",
               "title": "x", "start_date": "2024-01-01", "location_region_code": REGION_A})),
    ("company", "review of an evidence id that does not exist",
     lambda w, token, role, target, _: w.client.post(
         f"/v1/partnerships/{w.pid('own')}/evidence/no-such-evidence/review",
         headers=bearer(token), json={"decision": "verified"})),
    ("umkm", "termination of a partnership that is only proposed",
     _command("terminate", {"reason": "x", "effective_date": "2024-03-01"})),
    ("auditor", "realization on a proposed partnership citing unknown evidence",
     lambda w, token, role, target, _: w.client.post(
         f"/v1/partnerships/{w.pid('own')}/realizations", headers=bearer(token),
         json={"period_start": "2024-01-01", "period_end": "2024-01-31", "value_idr": 1,
               "evidence_ids": ["nope"]})),
    ("dinas", "evidence upload of an executable",
     lambda w, token, role, target, _: upload(w.client, token, w.pid("own"), b"MZ\x90\x00" * 16,
                                              filename="x.exe",
                                              media_type="application/octet-stream")),
    ("auditor", "evidence upload of an HTML page",
     lambda w, token, role, target, _: upload(w.client, token, w.pid("own"),
                                              b"<html><body>hi</body></html>",
                                              filename="x.html", media_type="text/html")),
]


@pytest.mark.parametrize(("role", "flaw", "request_"),
                         [pytest.param(*row, id=f"{row[0]}-{row[1].replace(' ', '_')}")
                          for row in ROLE_FIRST])
def test_a_role_that_may_never_act_gets_403_before_any_other_complaint(
        world: World, role: str, flaw: str, request_: Request) -> None:
    response = request_(world, world.tokens[role], role, "own", {})
    assert response.status_code == 403, f"{role}, {flaw}: {response.status_code} {response.text}"


@pytest.mark.parametrize("role", ["dinas", "auditor", "company", "umkm"])
def test_an_object_outside_the_scope_is_indistinguishable_from_one_that_does_not_exist(
        world: World, role: str) -> None:
    token = world.tokens[role]
    outside = world.client.get(f"/v1/partnerships/{world.pid('other')}", headers=bearer(token))
    missing = world.client.get("/v1/partnerships/00000000-0000-4000-8000-000000000000",
                               headers=bearer(token))
    assert outside.status_code == missing.status_code == 404
    assert outside.json()["type"] == missing.json()["type"]
    assert outside.json()["title"] == missing.json()["title"]
    other_business = LARGE_B if role != "umkm" else UMKM_B
    outside = world.client.get(f"/v1/businesses/{other_business}", headers=bearer(token))
    missing = world.client.get("/v1/businesses/3399999999999", headers=bearer(token))
    assert outside.status_code == missing.status_code == 404
    assert outside.json()["type"] == missing.json()["type"]


def test_a_partnership_touching_two_regions_is_visible_to_the_dinas_of_each_and_to_its_parties(
        world: World, make_token) -> None:  # type: ignore[no-untyped-def]
    """The large party in 33.17, the UMKM in 32.16, the location in 33.17."""
    c = world.client
    pid = propose(c, world.company["B"], LARGE_B, UMKM_A, REGION_B, title="Lintas daerah")["id"]
    readers = {"dinas 32.16": world.tokens["dinas"], "dinas 33.17": make_token("dinas",
                                                                               region=REGION_B),
               "auditor 32.16": world.tokens["auditor"], "company B": world.company["B"],
               "umkm A": world.umkm["A"]}
    outsiders = {"dinas 32.17": make_token("dinas", region="32.17"),
                 "dinas 33.17.05 (another kecamatan)": make_token("dinas", region="33.17.05"),
                 "company A": world.company["A"], "umkm B": world.umkm["B"]}
    for name, token in readers.items():
        assert c.get(f"/v1/partnerships/{pid}", headers=bearer(token)).status_code == 200, name
        listed = expect(c.get("/v1/partnerships", headers=bearer(token)), 200)["items"]
        assert pid in {p["id"] for p in listed}, name
    for name, token in outsiders.items():
        assert c.get(f"/v1/partnerships/{pid}", headers=bearer(token)).status_code == 404, name
        listed = expect(c.get("/v1/partnerships", headers=bearer(token)), 200)["items"]
        assert pid not in {p["id"] for p in listed}, name
    province = make_token("dinas", region="32")  # the province contains 32.16
    assert c.get(f"/v1/partnerships/{pid}", headers=bearer(province)).status_code == 200


# POST /v1/imports/partnerships: the roles that may propose. A row naming another company's
# large NIB is that row's rejection (the caller's scope applies to every row), never a write.
IMPORT_MATRIX: list[tuple[str, int, int]] = [
    # (role, accepted rows of [own, other] or the status when the role may never import)
    ("admin", 2, 200), ("company", 1, 200), ("dinas", 0, 403), ("auditor", 0, 403),
    ("auditor_national", 0, 403), ("umkm", 0, 403),
]


@pytest.mark.parametrize(("role", "accepted", "status"), IMPORT_MATRIX,
                         ids=[f"{r}-import-{s}" for r, _, s in IMPORT_MATRIX])
def test_each_role_imports_only_the_rows_in_its_scope(world: World, role: str, accepted: int,
                                                     status: int) -> None:
    lines = ["external_ref,large_nib,umkm_nib,pola,program,title,start_date,end_date,value_idr,"
             "location_region_code",
             f"IMP-A,{LARGE_A},{UMKM_A},subkontrak,,Impor A,2024-02-01,,,{REGION_A}",
             f"IMP-B,{LARGE_B},{UMKM_B},subkontrak,,Impor B,2024-02-01,,,{REGION_B}"]
    head = world.log_position()
    response = world.client.post("/v1/imports/partnerships", headers=bearer(world.tokens[role]),
                                 files={"file": ("k.csv", "\n".join(lines).encode(), "text/csv")})
    assert response.status_code == status, response.text[:300]
    if status != 200:
        assert world.log_position() == head
        return
    body = response.json()
    assert body["accepted"] == accepted
    assert world.log_position() == head + accepted
    if role == "company":
        assert body["rejected"] == [{"row": 3, "errors": [{
            "column": "large_nib",
            "message": "a company may only propose partnerships where it is the large party"}]}]


# ---- the audit log (contract: Audit): readers and the events each sees -------------------------

# (role, status of GET /v1/audit/*, partnerships whose events /v1/audit/events shows)
AUDIT_SCOPE: list[tuple[str, int, set[str]]] = [
    ("admin", 200, {"own", "other"}),
    ("dinas", 200, {"own"}),
    ("auditor", 200, {"own"}),
    ("auditor_national", 200, {"own", "other"}),
    ("company", 403, set()),
    ("umkm", 403, set()),
]


@pytest.mark.parametrize(("role", "status", "visible"), AUDIT_SCOPE,
                         ids=[row[0] for row in AUDIT_SCOPE])
def test_the_audit_log_is_read_by_admin_dinas_and_auditors_each_in_its_scope(
        world: World, role: str, status: int, visible: set[str]) -> None:
    token = bearer(world.tokens[role])
    head = world.log_position()
    for path, params in (("/v1/audit/events", {"limit": 1000}), ("/v1/audit/keys", {}),
                         ("/v1/audit/checkpoints/latest", {}),
                         ("/v1/audit/proofs/inclusion", {"leaf_index": 0, "tree_size": 1}),
                         ("/v1/audit/proofs/consistency", {"first": 1, "second": 2})):
        response = world.client.get(path, headers=token, params=params)
        assert response.status_code == status, (role, path, response.text[:300])
    assert world.log_position() == head, "a read recorded an event"
    if status == 200:
        items = world.client.get("/v1/audit/events", headers=token,
                                 params={"limit": 1000}).json()["items"]
        streams = {e["stream_id"] for e in items}
        shown = {t for t in ("own", "other") if world.pid(t) in streams}
        assert shown == visible

"""Every request but `GET /v1/health` carries a bearer token (contract, Conventions).

The routes are read from the application itself, so a route added later without the `principal`
dependency makes this test fail instead of slipping through.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi.routing import APIRoute

try:  # FastAPI >= 0.16x keeps included routers nested; this walks them with their prefixes
    from fastapi.routing import iter_route_contexts
except ImportError:  # pragma: no cover - older FastAPI flattens app.routes itself
    iter_route_contexts = None

from tests.api.helpers import LARGE_A, PROBLEM, expect
from tests.conftest import bearer

PUBLIC = {("GET", "/v1/health")}
MADE_UP = "kl_" + "x" * 43  # shaped like a real secret, but never issued

# Routes the contract promises; the iteration below must at least see these (not vacuous).
KNOWN = {
    ("POST", "/v1/businesses"), ("GET", "/v1/businesses/{nib}"),
    ("POST", "/v1/businesses/{nib}/scale-changes"), ("POST", "/v1/businesses/{nib}/facts"),
    ("POST", "/v1/businesses/{nib}/affiliations"),
    ("POST", "/v1/partnerships"), ("GET", "/v1/partnerships"), ("GET", "/v1/partnerships/{pid}"),
    ("GET", "/v1/partnerships/{pid}/events"), ("POST", "/v1/partnerships/{pid}/confirm"),
    ("POST", "/v1/partnerships/{pid}/decline"), ("POST", "/v1/partnerships/{pid}/withdraw"),
    ("POST", "/v1/partnerships/{pid}/suspend"), ("POST", "/v1/partnerships/{pid}/resume"),
    ("POST", "/v1/partnerships/{pid}/terminate"), ("POST", "/v1/partnerships/{pid}/amend"),
    ("POST", "/v1/partnerships/{pid}/evidence"),
    ("POST", "/v1/partnerships/{pid}/evidence/{evidence_id}/review"),
    ("POST", "/v1/partnerships/{pid}/realizations"), ("GET", "/v1/evidence/{evidence_id}/content"),
    ("POST", "/v1/tokens"), ("DELETE", "/v1/tokens/{token_id}"), ("GET", "/v1/health"),
    ("GET", "/v1/compliance"), ("GET", "/v1/compliance/{nib}"),
    ("GET", "/v1/imports/partnerships/template"), ("POST", "/v1/imports/partnerships"),
    ("GET", "/v1/audit/events"), ("GET", "/v1/audit/keys"), ("GET", "/v1/audit/checkpoints/latest"),
    ("GET", "/v1/audit/checkpoints"), ("GET", "/v1/audit/proofs/inclusion"),
    ("GET", "/v1/audit/proofs/consistency"),
}

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}")


def _plausible(name: str) -> str:
    """A value a real client could send: NIBs are 13 digits, every other id is a UUID."""
    return LARGE_A if name.endswith("nib") else str(uuid.uuid4())


def _routes(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every APIRoute of the app, included routers and all."""
    if iter_route_contexts is not None:
        routes = [(rc.route, rc.path, rc.methods) for rc in iter_route_contexts(app.routes)]
    else:  # pragma: no cover
        routes = [(r, r.path, r.methods) for r in app.routes]
    found = []
    for route, path, methods in routes:
        if isinstance(route, APIRoute):
            for method in sorted(set(methods or ()) - {"HEAD", "OPTIONS"}):
                found.append((method, path))
    return sorted(found)


def _call(client: Any, method: str, path: str, headers: dict[str, str]) -> Any:
    url = _PARAM.sub(lambda m: _plausible(m.group(1)), path)
    return client.request(method, url, headers=headers)


def _problem_401(response: Any) -> str | None:
    """None when the response is a proper 401 problem, else what is wrong with it."""
    if response.status_code != 401:
        return f"status {response.status_code}: {response.text[:200]}"
    if not response.headers.get("content-type", "").startswith(PROBLEM):
        return f"content-type {response.headers.get('content-type')}"
    body = response.json()
    missing = {"type", "title", "status", "detail"} - set(body)
    if missing or body["status"] != 401:
        return f"body {body}"
    return None


def test_the_route_table_covers_at_least_every_route_of_the_contract(
        app) -> None:  # type: ignore[no-untyped-def]
    assert KNOWN <= set(_routes(app)), KNOWN - set(_routes(app))


def test_every_route_but_health_answers_401_problem_json_without_a_token_or_with_a_made_up_one(
        app, client) -> None:  # type: ignore[no-untyped-def]
    failures = []
    for method, path in _routes(app):
        if (method, path) in PUBLIC or not path.startswith("/v1/"):
            continue  # the web pages (/) sign in with a cookie: tests/web checks them
        for label, headers in (("no token", {}),
                               ("made-up token", bearer(MADE_UP)),
                               ("empty bearer", {"Authorization": "Bearer "}),
                               ("other scheme", {"Authorization": f"Basic {MADE_UP}"})):
            problem = _problem_401(_call(client, method, path, headers))
            if problem:
                failures.append(f"{method} {path} with {label}: {problem}")
    assert not failures, "\n".join(failures)


def test_a_401_carries_a_bearer_challenge(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/v1/partnerships")
    assert response.status_code == 401
    assert response.headers.get("www-authenticate", "").lower().startswith("bearer")


def test_health_answers_without_a_token(client) -> None:  # type: ignore[no-untyped-def]
    body = expect(client.get("/v1/health"), 200)
    assert body["status"] == "ok"


def test_a_token_revoked_by_an_admin_is_refused_with_401_afterwards(
        client, make_token) -> None:  # type: ignore[no-untyped-def]
    admin = make_token("admin")
    created = expect(client.post("/v1/tokens", headers=bearer(admin),
                                 json={"role": "auditor", "region": "32.16",
                                       "name": "Inspektorat Kab. Bekasi"}), 201)
    assert created["token"].startswith("kl_") and created["region"] == "32.16"
    auditor = bearer(created["token"])
    expect(client.get("/v1/partnerships", headers=auditor), 200)

    revoked = expect(client.delete(f"/v1/tokens/{created['id']}", headers=bearer(admin)), 200)
    assert revoked["revoked"] is True and revoked["id"] == created["id"]

    for method, path in (("GET", "/v1/partnerships"), ("GET", f"/v1/businesses/{LARGE_A}"),
                         ("POST", "/v1/tokens")):
        response = client.request(method, path, headers=auditor)
        assert _problem_401(response) is None, (method, path, response.text)
    # revoking twice is refused and the admin's own token is untouched
    assert client.delete(f"/v1/tokens/{created['id']}", headers=bearer(admin)).status_code == 409
    expect(client.get("/v1/partnerships", headers=bearer(admin)), 200)


def test_an_auditor_gets_403_for_every_write_whatever_it_posts(
        app, client, make_token) -> None:  # type: ignore[no-untyped-def]
    """Contract, Conventions: 403 for "an auditor posting anything" — decided before the body
    or the path is looked at, so an empty body, a made-up id or a malformed one is still 403."""
    auditors = [bearer(make_token("auditor", region="32.16")), bearer(make_token("auditor",
                                                                                 region=""))]
    writes = [(m, p) for m, p in _routes(app) if m != "GET" and p.startswith("/v1/")]
    assert {("POST", "/v1/businesses"), ("POST", "/v1/partnerships"),
            ("DELETE", "/v1/tokens/{token_id}"), ("POST", "/v1/imports/partnerships")} <= set(writes)
    failures = []
    for method, path in writes:
        for auditor in auditors:
            for url in (_PARAM.sub(lambda m: _plausible(m.group(1)), path),
                        _PARAM.sub("not-an-id", path)):
                for body in ({"json": {}}, {"content": b"", "headers": {}}):
                    response = client.request(method, url, headers=auditor | body.get(
                        "headers", {}), **{k: v for k, v in body.items() if k != "headers"})
                    if response.status_code != 403 or not response.headers.get(
                            "content-type", "").startswith(PROBLEM) or not response.json()[
                            "type"].endswith("/problems/forbidden"):  # as every other 403
                        failures.append(f"{method} {url} {list(body)}: {response.status_code} "
                                        f"{response.text[:120]}")
    assert not failures, "\n".join(failures)

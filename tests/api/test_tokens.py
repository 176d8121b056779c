"""Token management over HTTP: an admin lists who holds which token, revokes one, pages."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import load_workbook

from tests.api.helpers import assert_problem, expect
from tests.conftest import bearer


def _issue(client: Any, admin: str, **body: Any) -> dict[str, Any]:
    return expect(client.post("/v1/tokens", headers=bearer(admin), json=body), 201)


def test_an_admin_lists_tokens_in_issue_order_pages_them_and_sees_revocations(
        client: Any, make_token: Any) -> None:
    admin = make_token("admin")
    issued = [_issue(client, admin, role="dinas", region="32.16", name="DPMPTSP Kab. Bekasi"),
              _issue(client, admin, role="auditor", name="Auditor nasional"),
              _issue(client, admin, role="dinas", region="33.17", name="DPMPTSP Kab. Rembang")]
    first = expect(client.get("/v1/tokens", params={"limit": 2}, headers=bearer(admin)), 200)
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = expect(client.get("/v1/tokens", params={"limit": 2, "cursor": first["next_cursor"]},
                             headers=bearer(admin)), 200)
    listed = first["items"] + rest["items"]
    assert rest["next_cursor"] is None
    assert [i["role"] for i in listed] == ["admin", "dinas", "auditor", "dinas"]
    assert [i["id"] for i in listed[1:]] == [t["id"] for t in issued]
    assert listed[1]["region"] == "32.16" and listed[1]["name"] == "DPMPTSP Kab. Bekasi"
    assert listed[1]["issued_at"].endswith("+07:00") and listed[1]["revoked_at"] is None
    assert listed[2]["region"] == ""  # national
    every_body = str(first) + str(rest)
    assert not any(t["token"] in every_body for t in issued), "a token secret was listed"

    revoked = expect(client.delete(f"/v1/tokens/{issued[0]['id']}", headers=bearer(admin)), 200)
    live = expect(client.get("/v1/tokens", params={"min_position": revoked["position"]},
                             headers=bearer(admin)), 200)
    assert live["position"] >= revoked["position"]
    assert issued[0]["id"] not in [i["id"] for i in live["items"]]
    every = expect(client.get("/v1/tokens", params={"include_revoked": "true", "role": "dinas"},
                              headers=bearer(admin)), 200)["items"]
    assert [(i["id"], i["revoked_at"] is not None) for i in every] == [
        (issued[0]["id"], True), (issued[2]["id"], False)]
    assert every[0]["revoked_by"] == listed[0]["id"]  # the admin's principal id is its token id


def test_the_token_list_downloads_as_csv_and_as_xlsx_with_indonesian_headers(
        client: Any, make_token: Any) -> None:
    admin = make_token("admin")
    token = _issue(client, admin, role="dinas", region="32.16", name="DPMPTSP Kab. Bekasi")
    response = client.get("/v1/tokens", params={"format": "csv"}, headers=bearer(admin))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["id", "role", "region"]
    assert [r[1] for r in rows[1:]] == ["admin", "dinas"] and rows[2][0] == token["id"]
    assert token["token"] not in response.text
    response = client.get("/v1/tokens", params={"format": "xlsx"}, headers=bearer(admin))
    sheet = load_workbook(io.BytesIO(response.content)).active
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    assert header[:3] == ["ID token", "Peran", "Wilayah"]
    assert [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["admin", "dinas"]


def test_a_forged_token_list_cursor_is_422(client: Any, make_token: Any) -> None:
    admin = make_token("admin")
    body = assert_problem(client.get("/v1/tokens", params={"cursor": "bm90LWEtbnVtYmVy"},
                                     headers=bearer(admin)), 422)
    assert body["errors"][0]["field"] == "cursor"


def test_a_token_revoked_while_a_request_reads_it_is_not_cached_past_the_revocation(
        client: Any, container: Any, make_token: Any, monkeypatch: Any) -> None:
    """A request reads the token (valid), the revocation commits and empties the cache, then
    the request would cache what it read: the token kept working for the cache's 5 s in the
    process that revoked it (ADR 0004 promises at once)."""
    from datetime import datetime, timezone
    from uuid import UUID

    from domain.access import SYSTEM

    admin, secret = make_token("admin"), make_token("auditor")
    tid = next(t["id"] for t in expect(client.get("/v1/tokens", headers=bearer(admin)),
                                       200)["items"] if t["role"] == "auditor")
    read = container.ledger.authenticate

    def read_then_revoked(key: str) -> Any:
        who = read(key)  # still valid when read ...
        container.ledger.revoke_token(SYSTEM, datetime.now(timezone.utc), UUID(tid), "bocor")
        client.app.state.principals.forget(tid)  # ... revoked and forgotten meanwhile
        return who

    monkeypatch.setattr(container.ledger, "authenticate", read_then_revoked)
    expect(client.get("/v1/partnerships", headers=bearer(secret)), 200)  # it raced: answered
    monkeypatch.undo()
    assert_problem(client.get("/v1/partnerships", headers=bearer(secret)), 401)

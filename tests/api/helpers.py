"""Front-door helpers shared by the HTTP tests: every arrangement is a real request with a token.

Nothing here touches the store directly; tokens come from the `make_token` fixture (the same use
case `kemitraan token create` runs), everything else is a POST through the `client` fixture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import bearer

PROBLEM = "application/problem+json"

# Two regions, each with one large business and one UMKM (Kemendagri codes).
REGION_A, REGION_B = "32.16", "33.17"
LARGE_A, UMKM_A = "3216000000001", "3216010000002"
LARGE_B, UMKM_B = "3317000000001", "3317010000002"

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48


def expect(response: Any, *statuses: int) -> dict[str, Any]:
    """Assert the status (showing the body when it is wrong) and return the JSON body."""
    assert response.status_code in statuses, (
        f"{response.request.method} {response.request.url.path} answered "
        f"{response.status_code}, expected {statuses}: {response.text[:500]}")
    if response.headers.get("content-type", "").startswith(("application/json", PROBLEM)):
        return response.json()
    return {}


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """An RFC 9457 problem with the given status."""
    body = expect(response, status)
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    assert {"type", "title", "status", "detail"} <= set(body), body
    assert body["status"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def register_business(client: Any, token: str, nib: str, scale: str, region: str,
                      name: str | None = None) -> dict[str, Any]:
    return expect(client.post("/v1/businesses", headers=bearer(token), json={
        "nib": nib, "name": name or f"Usaha {nib}", "scale": scale, "region_code": region,
        "kbli": ["47111"]}), 201)


def two_parties(client: Any, make_token: Any, umkm_scale: str = "kecil") -> dict[str, str]:
    """An admin registers LARGE_A (besar, REGION_A) and UMKM_A (in REGION_A.01); tokens for the
    admin, the company (LARGE_A) and the UMKM (UMKM_A), by holder."""
    admin = make_token("admin")
    register_business(client, admin, LARGE_A, "besar", REGION_A)
    register_business(client, admin, UMKM_A, umkm_scale, REGION_A + ".01")
    return {"admin": admin, "company": make_token("company", nibs=[LARGE_A]),
            "umkm": make_token("umkm", nibs=[UMKM_A])}


def partnership_body(large: str, umkm: str, region: str, **extra: Any) -> dict[str, Any]:
    return {"large_nib": large, "umkm_nib": umkm, "pola": "rantai_pasok",
            "program": "rantai_pasok_industri", "title": f"Pasokan {umkm} ke {large}",
            "start_date": "2024-01-01", "end_date": "2026-12-31", "value_idr": 150_000_000,
            "location_region_code": region, **extra}


def propose(client: Any, token: str, large: str, umkm: str, region: str,
            **extra: Any) -> dict[str, Any]:
    return expect(client.post("/v1/partnerships", headers=bearer(token),
                              json=partnership_body(large, umkm, region, **extra)), 201)


def post(client: Any, token: str, pid: str, action: str, body: dict[str, Any] | None = None,
         headers: dict[str, str] | None = None) -> Any:
    return client.post(f"/v1/partnerships/{pid}/{action}",
                       headers={**bearer(token), **(headers or {})}, json=body)


def upload(client: Any, token: str, pid: str, content: bytes = PDF, *, kind: str = "perjanjian",
           filename: str = "perjanjian.pdf", media_type: str = "application/pdf",
           headers: dict[str, str] | None = None) -> Any:
    return client.post(f"/v1/partnerships/{pid}/evidence",
                       headers={**bearer(token), **(headers or {})},
                       files={"file": (filename, content, media_type)},
                       data={"kind": kind, "period_start": "2024-01-01",
                             "period_end": "2024-12-31"})


def events(client: Any, token: str, pid: str) -> list[dict[str, Any]]:
    return expect(client.get(f"/v1/partnerships/{pid}/events", headers=bearer(token)),
                  200)["items"]


def stored_files(evidence_dir: Path) -> set[str]:
    """Every file under the evidence folder (temp files included), relative to it."""
    if not evidence_dir.exists():
        return set()
    return {str(p.relative_to(evidence_dir)) for p in evidence_dir.rglob("*") if p.is_file()}

"""The audit endpoints over HTTP (contract: Audit): events with leaves, keys, signed
checkpoints, proofs, region scope, evidence receipts, key files and rotation."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from api.audit import checkpointer
from projections import merkle
from projections.audit_format import leaf_bytes
from projections.checkpoints import Cadence, Checkpointer, KeyRetired
from tests.api.helpers import (
    LARGE_A, LARGE_B, PDF, REGION_A, REGION_B, UMKM_A, UMKM_B, assert_problem, expect, post,
    propose, register_business, upload,
)
from tests.conftest import bearer


@pytest.fixture
def world(client: Any, make_token: Any) -> dict[str, Any]:
    admin = make_token("admin")
    for nib, scale, region in ((LARGE_A, "besar", REGION_A), (UMKM_A, "mikro", REGION_A + ".01"),
                               (LARGE_B, "besar", REGION_B), (UMKM_B, "mikro", REGION_B + ".01")):
        register_business(client, admin, nib, scale, region)
    company_a = make_token("company", nibs=[LARGE_A])
    company_b = make_token("company", nibs=[LARGE_B])
    pa = propose(client, company_a, LARGE_A, UMKM_A, REGION_A)["id"]
    pb = propose(client, company_b, LARGE_B, UMKM_B, REGION_B)["id"]
    return {"admin": admin, "company_a": company_a, "pa": pa, "pb": pb,
            "auditor": make_token("auditor", region=""),
            "auditor_a": make_token("auditor", region=REGION_A),
            "dinas_a": make_token("dinas", region=REGION_A),
            "umkm_a": make_token("umkm", nibs=[UMKM_A])}


def all_events(client: Any, token: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after = 0
    while True:
        page = expect(client.get("/v1/audit/events", headers=bearer(token),
                                 params={"after": after, "limit": 3}), 200)
        items += page["items"]
        if page["next_after"] is None:
            return items
        after = page["next_after"]


def keys_by_id(client: Any, token: str) -> dict[str, bytes]:
    keys = expect(client.get("/v1/audit/keys", headers=bearer(token)), 200)
    return {k["key_id"]: base64.b64decode(k["public_key"]) for k in keys}


def check_signature(client: Any, token: str, cp: dict[str, Any]) -> None:
    body = f"{cp['origin']}\n{cp['tree_size']}\n" \
           f"{base64.b64encode(bytes.fromhex(cp['root_hash'])).decode()}\n"
    assert cp["note"].startswith(body + "\n\u2014 " + cp["origin"] + " ")
    public = keys_by_id(client, token)[cp["key_id"]]
    Ed25519PublicKey.from_public_bytes(public).verify(base64.b64decode(cp["signature"]),
                                                      body.encode())
    # the note's signature line carries the C2SP key hash and the same signature
    line = base64.b64decode(cp["note"].rsplit(" ", 1)[1])
    assert line[:4].hex() == cp["key_id"] and line[4:] == base64.b64decode(cp["signature"])


def test_every_event_is_a_leaf_numbered_densely_and_recomputable(
        client: Any, world: dict[str, Any], container: Any) -> None:
    events = all_events(client, world["auditor"])
    head = container.views.head()
    assert len(events) == head  # tokens, businesses, partnerships: every stored event
    assert [e["leaf_index"] for e in events] == list(range(len(events)))
    assert [e["seq"] for e in events] == sorted({e["seq"] for e in events})
    for e in events:
        fields = {k: e[k] for k in ("seq", "stream_id", "version", "topic", "record_sha256")}
        assert merkle.leaf_hash(leaf_bytes(**fields)).hex() == e["leaf_hash"]
        assert e["type"] == e["topic"].removeprefix("kemitraan.")
    proposed = [e for e in events if e["type"] == "Partnership.Proposed"]
    assert {e["stream_id"] for e in proposed} == {world["pa"], world["pb"]}
    assert proposed[0]["data"]["large_nib"] in (LARGE_A, LARGE_B)
    assert proposed[0]["recorded_at"].endswith("+07:00")
    assert proposed[0]["actor"]["role"] == "company"


def test_the_audit_events_answer_csv_and_xlsx_with_the_same_events(
        client: Any, world: dict[str, Any]) -> None:
    """Spreadsheets: every list answers format=csv|xlsx; a page of the file holds the JSON
    page's events, with the next page's `after` in a header."""
    import csv
    import io

    auditor = {"Authorization": f"Bearer {world['auditor']}"}
    page = client.get("/v1/audit/events", params={"limit": 3}, headers=auditor).json()
    got = client.get("/v1/audit/events", params={"limit": 3, "format": "csv"}, headers=auditor)
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(got.text)))
    assert [int(r["seq"]) for r in rows] == [e["seq"] for e in page["items"]]
    assert [r["leaf_hash"] for r in rows] == [e["leaf_hash"] for e in page["items"]]
    assert got.headers["X-Next-After"] == str(page["next_after"])
    assert got.headers["X-Position"] == str(page["position"])
    first = page["items"][0]
    assert rows[0]["actor_role"] == (first["actor"] or {}).get("role", "")
    assert (json.loads(rows[0]["data"]) if rows[0]["data"] else None) == first["data"]
    xlsx = client.get("/v1/audit/events", params={"format": "xlsx"}, headers=auditor)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_the_latest_checkpoint_is_signed_and_covers_every_event_and_proofs_verify(
        client: Any, world: dict[str, Any]) -> None:
    token = world["auditor"]
    events = all_events(client, token)
    cp = expect(client.get("/v1/audit/checkpoints/latest", headers=bearer(token)), 200)
    assert cp["tree_size"] == len(events)
    check_signature(client, token, cp)
    leaves = [bytes.fromhex(e["leaf_hash"]) for e in events]
    assert merkle.root_of_leaves(leaves).hex() == cp["root_hash"]
    root = bytes.fromhex(cp["root_hash"])
    for e in events:
        proof = expect(client.get("/v1/audit/proofs/inclusion", headers=bearer(token), params={
            "leaf_index": e["leaf_index"], "tree_size": cp["tree_size"]}), 200)
        assert proof["leaf_hash"] == e["leaf_hash"]
        assert merkle.verify_inclusion(e["leaf_index"], cp["tree_size"],
                                       bytes.fromhex(proof["leaf_hash"]),
                                       [bytes.fromhex(h) for h in proof["audit_path"]], root)
    # the same checkpoint by size
    same = expect(client.get("/v1/audit/checkpoints", headers=bearer(token),
                             params={"tree_size": cp["tree_size"]}), 200)
    assert same == cp

    # more events: a new checkpoint, consistent with the first
    expect(post(client, world["admin"], world["pa"], "withdraw", {"reason": "salah input"}), 200)
    cp2 = expect(client.get("/v1/audit/checkpoints/latest", headers=bearer(token)), 200)
    assert cp2["tree_size"] == cp["tree_size"] + 1
    check_signature(client, token, cp2)
    proof = expect(client.get("/v1/audit/proofs/consistency", headers=bearer(token), params={
        "first": cp["tree_size"], "second": cp2["tree_size"]}), 200)
    assert merkle.verify_consistency(cp["tree_size"], cp2["tree_size"], root,
                                     bytes.fromhex(cp2["root_hash"]),
                                     [bytes.fromhex(h) for h in proof["proof"]])
    # asking again signs nothing new
    again = expect(client.get("/v1/audit/checkpoints/latest", headers=bearer(token)), 200)
    assert again == cp2


def test_bad_proof_requests_are_clear_4xx(client: Any, world: dict[str, Any]) -> None:
    token = bearer(world["auditor"])
    size = expect(client.get("/v1/audit/checkpoints/latest", headers=token), 200)["tree_size"]
    assert_problem(client.get("/v1/audit/proofs/inclusion", headers=token,
                              params={"leaf_index": size, "tree_size": size}), 422)
    assert_problem(client.get("/v1/audit/proofs/inclusion", headers=token,
                              params={"leaf_index": 0, "tree_size": size + 1}), 404)
    assert_problem(client.get("/v1/audit/proofs/inclusion", headers=token,
                              params={"leaf_index": -1, "tree_size": size}), 422)
    assert_problem(client.get("/v1/audit/proofs/consistency", headers=token,
                              params={"first": 3, "second": 2}), 422)
    assert_problem(client.get("/v1/audit/proofs/consistency", headers=token,
                              params={"first": 0, "second": 2}), 422)
    assert_problem(client.get("/v1/audit/proofs/consistency", headers=token,
                              params={"first": 1, "second": size + 1}), 404)
    assert_problem(client.get("/v1/audit/checkpoints", headers=token,
                              params={"tree_size": size + 5}), 404)
    assert_problem(client.get("/v1/audit/events", headers=token, params={"limit": 0}), 422)


def test_who_may_read_the_audit_log(client: Any, world: dict[str, Any]) -> None:
    for role in ("admin", "auditor", "auditor_a", "dinas_a"):
        expect(client.get("/v1/audit/events", headers=bearer(world[role])), 200)
        expect(client.get("/v1/audit/keys", headers=bearer(world[role])), 200)
    for role in ("company_a", "umkm_a"):
        for path in ("/v1/audit/events", "/v1/audit/keys", "/v1/audit/checkpoints/latest"):
            assert_problem(client.get(path, headers=bearer(world[role])), 403)


def test_a_regional_auditor_sees_the_events_of_its_region_and_global_proofs(
        client: Any, world: dict[str, Any]) -> None:
    everything = all_events(client, world["auditor"])
    regional = all_events(client, world["auditor_a"])
    streams = {e["stream_id"] for e in regional}
    assert world["pa"] in streams and world["pb"] not in streams
    nibs = {e["data"].get("nib") for e in regional if e["type"] == "Business.Registered"}
    assert nibs == {LARGE_A, UMKM_A}
    assert not any(e["type"].startswith("AccessToken") for e in regional)
    assert any(e["type"].startswith("AccessToken") for e in everything)
    # leaf numbers are those of the global log; proofs of any leaf are global
    outside = next(e for e in everything if e["stream_id"] == world["pb"])
    cp = expect(client.get("/v1/audit/checkpoints/latest",
                           headers=bearer(world["auditor_a"])), 200)
    expect(client.get("/v1/audit/proofs/inclusion", headers=bearer(world["auditor_a"]),
                      params={"leaf_index": outside["leaf_index"],
                              "tree_size": cp["tree_size"]}), 200)
    assert all_events(client, world["dinas_a"]) == regional


def test_an_evidence_receipt_leads_from_the_file_to_a_signed_root(
        client: Any, world: dict[str, Any]) -> None:
    written = expect(upload(client, world["company_a"], world["pa"], PDF), 201)
    assert isinstance(written["leaf_index"], int)
    read = expect(client.get(f"/v1/partnerships/{world['pa']}",
                             headers=bearer(world["company_a"])), 200)
    assert read["evidence"][0]["leaf_index"] == written["leaf_index"]
    # the auditor: from the file's SHA-256 to its event ...
    sha = hashlib.sha256(PDF).hexdigest()
    token = bearer(world["auditor_a"])
    found = expect(client.get("/v1/audit/events", headers=token,
                              params={"evidence_sha256": sha}), 200)["items"]
    assert [e["leaf_index"] for e in found] == [written["leaf_index"]]
    assert found[0]["data"]["sha256"] == sha and found[0]["seq"] == written["position"]
    # ... to its inclusion proof under a signed checkpoint
    cp = expect(client.get("/v1/audit/checkpoints/latest", headers=token), 200)
    check_signature(client, world["auditor_a"], cp)
    proof = expect(client.get("/v1/audit/proofs/inclusion", headers=token, params={
        "leaf_index": written["leaf_index"], "tree_size": cp["tree_size"]}), 200)
    assert merkle.verify_inclusion(written["leaf_index"], cp["tree_size"],
                                   bytes.fromhex(found[0]["leaf_hash"]),
                                   [bytes.fromhex(h) for h in proof["audit_path"]],
                                   bytes.fromhex(cp["root_hash"]))


def test_the_key_is_created_private_and_rotation_keeps_old_checkpoints_verifiable(
        client: Any, world: dict[str, Any], container: Any, tmp_path: Path) -> None:
    token = world["auditor"]
    cp1 = expect(client.get("/v1/audit/checkpoints/latest", headers=bearer(token)), 200)
    key_file = container.settings.audit_key_file
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    # a new key (configured path) takes over: the old one gets its end of validity
    new = Checkpointer(container.engine, tmp_path / "new.pem", container.settings.audit_origin)
    new.setup()
    expect(post(client, world["admin"], world["pb"], "withdraw", {"reason": "batal"}), 200)
    container.views.catch_up()
    cp2 = new.sign()
    keys = expect(client.get("/v1/audit/keys", headers=bearer(token)), 200)
    assert [k["key_id"] for k in keys] == [cp1["key_id"], new.key_id]
    assert keys[0]["valid_to"] is not None and keys[1]["valid_to"] is None
    assert all(k["algorithm"] == "ed25519" and len(base64.b64decode(k["public_key"])) == 32
               for k in keys)
    check_signature(client, token, cp1)
    check_signature(client, token, {**cp2, "issued_at": None})
    # the retired key signs nothing any more
    with pytest.raises(KeyRetired):
        checkpointer(container).sign()
    with pytest.raises(KeyRetired):
        Checkpointer(container.engine, key_file, container.settings.audit_origin).setup()
    # ... and a server still holding it says so instead of signing (reads keep working)
    expect(post(client, world["admin"], world["pa"], "withdraw", {"reason": "batal"}), 200)
    assert_problem(client.get("/v1/audit/checkpoints/latest", headers=bearer(token)), 503)
    expect(client.get("/v1/audit/checkpoints", headers=bearer(token),
                      params={"tree_size": cp2["tree_size"]}), 200)


def test_the_cadence_signs_after_n_events_or_m_seconds(container: Any, client: Any,
                                                       world: dict[str, Any]) -> None:
    from datetime import datetime, timedelta

    container.views.catch_up()
    signer = Checkpointer(container.engine, container.settings.audit_key_file,
                          container.settings.audit_origin, Cadence(every_events=2,
                                                                   every_seconds=30))
    signer.setup()
    assert signer.due()  # no checkpoint yet
    first = signer.sign()
    now = datetime.fromisoformat(first["issued_at"])
    assert not signer.due(now)
    expect(post(client, world["admin"], world["pa"], "withdraw", {"reason": "x"}), 200)
    container.views.catch_up()
    assert not signer.due(now + timedelta(seconds=5))      # 1 event, 5 s: not yet
    assert signer.due(now + timedelta(seconds=31))         # ... but after M seconds
    expect(post(client, world["admin"], world["pb"], "withdraw", {"reason": "y"}), 200)
    container.views.catch_up()
    assert signer.due(now + timedelta(seconds=1))          # N events


def test_rotate_key_replaces_the_file_and_a_running_signer_follows_it(
        client: Any, world: dict[str, Any], container: Any) -> None:
    """`kemitraan audit rotate-key` in another process: the server's signer, holding the old
    key in memory, signs the next checkpoint with the new key from the shared file."""
    token = world["auditor"]
    cp1 = expect(client.get("/v1/audit/checkpoints/latest", headers=bearer(token)), 200)
    key_file = container.settings.audit_key_file
    other_process = Checkpointer(container.engine, key_file, container.settings.audit_origin)
    new_id = other_process.rotate()
    assert new_id != cp1["key_id"]
    retired = key_file.with_name(f"{key_file.name}.{cp1['key_id']}.retired")
    assert retired.exists() and stat.S_IMODE(os.stat(retired).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    expect(post(client, world["admin"], world["pb"], "withdraw", {"reason": "batal"}), 200)
    cp2 = expect(client.get("/v1/audit/checkpoints/latest", headers=bearer(token)), 200)
    assert cp2["tree_size"] > cp1["tree_size"] and cp2["key_id"] == new_id
    keys = expect(client.get("/v1/audit/keys", headers=bearer(token)), 200)
    assert [(k["key_id"], k["valid_to"] is None) for k in keys] == [(cp1["key_id"], False),
                                                                     (new_id, True)]
    check_signature(client, token, cp1)
    check_signature(client, token, cp2)
    # the retired key file cannot come back into service
    with pytest.raises(KeyRetired):
        Checkpointer(container.engine, retired, container.settings.audit_origin).setup()

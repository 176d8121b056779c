"""`kemitraan audit verify` works on the bundle alone (no database code is even imported) and
catches edits to the bundle itself, a rewritten history, and a log that contradicts a checkpoint
saved earlier."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from api.audit import checkpointer
from domain.access import SYSTEM
from tests.audit.test_tamper import T0, first_bad, run, seed
from tests.conftest import bearer


def export(container: Any, path: Path, *extra: str) -> list[dict[str, Any]]:
    result = run(container, "audit", "export", "--out", str(path), *extra)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in path.read_text().splitlines()]


def write(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def verify_mutated(container: Any, tmp_path: Path, lines: list[dict[str, Any]]) -> Any:
    """`kemitraan audit verify` of `lines` written as a bundle file."""
    return run(container, "audit", "verify", str(write(tmp_path / "m.jsonl", lines)))


def entries(lines: list[dict[str, Any]]) -> list[int]:
    return [i for i, x in enumerate(lines) if "leaf_index" in x]


def test_the_verifier_imports_no_database_code(tmp_path: Path) -> None:
    code = ("import sys, projections.audit_verify as v; "
            "bad = [m for m in ('sqlalchemy', 'eventsourcing', 'psycopg', 'api', 'domain') "
            "if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).parents[2], timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_edits_to_the_bundle_itself_are_detected(container: Any, tmp_path: Path) -> None:
    seed(container)
    lines = export(container, tmp_path / "b.jsonl")
    first = entries(lines)[0]

    def verify(mutated: list[dict[str, Any]]) -> Any:
        return verify_mutated(container, tmp_path, mutated)

    # the readable data changed, the record kept: caught by re-reading the record
    m = json.loads(json.dumps(lines))
    m[first + 4]["display"]["data"]["name"] = "PT Lain"
    r = verify(m)
    assert r.exit_code == 1 and first_bad(r) == 4, r.output
    # an entry dropped, or two swapped
    r = verify(lines[:first + 6] + lines[first + 7:])
    assert r.exit_code == 1 and first_bad(r) == 6, r.output
    swapped = list(lines)
    swapped[first + 2], swapped[first + 3] = swapped[first + 3], swapped[first + 2]
    r = verify(swapped)
    assert r.exit_code == 1 and first_bad(r) == 2, r.output
    # a forger who rewrites a record AND its leaf hash still contradicts the signed root
    r = verify(_forged(lines, first + 9))
    assert r.exit_code == 1 and "differs from the signed checkpoint" in r.output, r.output
    # a forged signature
    cps = [i for i, x in enumerate(lines) if "checkpoint" in x]
    bad_sig = json.loads(json.dumps(lines))
    sig = bad_sig[cps[-1]]["checkpoint"]["signature"]
    bad_sig[cps[-1]]["checkpoint"]["signature"] = ("A" if sig[0] != "A" else "B") + sig[1:]
    r = verify(bad_sig)
    assert r.exit_code == 1 and "bad signature" in r.output, r.output
    # a truncated bundle (the last events cut off) falls short of its checkpoint
    r = verify(lines[:-2])
    assert r.exit_code == 1 and first_bad(r) == len(entries(lines)) - 2, r.output
    # the untouched bundle still verifies
    assert verify(lines).exit_code == 0


def test_a_saved_checkpoint_catches_a_rewritten_history(container: Any, client: Any,
                                                        make_token: Any, tmp_path: Path) -> None:
    seed(container)
    auditor = make_token("auditor", region="")
    saved = client.get("/v1/audit/checkpoints/latest", headers=bearer(auditor)).json()
    saved_file = tmp_path / "saved.json"
    saved_file.write_text(json.dumps(saved))
    bundle = tmp_path / "b.jsonl"
    lines = export(container, bundle)
    ok = run(container, "audit", "verify", str(bundle), "--checkpoint", str(saved_file))
    assert ok.exit_code == 0, ok.output

    # the operator rebuilds the log without leaf 3 and re-signs everything with the same key
    import base64

    from projections import merkle
    from projections.audit_format import checkpoint_body, signed_note

    signer = checkpointer(container)
    first = entries(lines)[0]
    kept = [x for x in lines[first:] if x["leaf_index"] != 3]
    for i, x in enumerate(kept):
        x["leaf_index"] = i
    root = merkle.root_of_leaves([bytes.fromhex(x["leaf_hash"]) for x in kept])
    body = checkpoint_body(signer.origin, len(kept), root)
    sig = signer._signing_key().sign(body.encode())
    cp = {"origin": signer.origin, "tree_size": len(kept), "root_hash": root.hex(),
          "issued_at": saved["issued_at"], "key_id": signer.key_id,
          "signature": base64.b64encode(sig).decode(),
          "note": signed_note(body, signer.origin, signer.public_key, sig)}
    header = {**lines[0], "tree_size": len(kept)}
    key_lines = [x for x in lines if "key" in x]
    rewritten = write(tmp_path / "r.jsonl", [header, *key_lines, {"checkpoint": cp}, *kept])
    alone = run(container, "audit", "verify", str(rewritten))
    assert alone.exit_code == 0, alone.output  # self-consistent: only a saved checkpoint can tell
    caught = run(container, "audit", "verify", str(rewritten), "--checkpoint", str(saved_file))
    assert caught.exit_code == 1, caught.output
    assert "missing" in caught.output or "contradicts" in caught.output


def test_a_region_bundle_shows_only_that_region_and_still_verifies(
        container: Any, tmp_path: Path) -> None:
    seed(container)
    lines = export(container, tmp_path / "b.jsonl", "--region", "32.16")
    shown = [x for x in lines if "seq" in x]
    hidden = [x for x in lines if "leaf_index" in x and "seq" not in x]
    assert shown and hidden
    assert not any((x["display"]["data"].get("region_code") or "32.16").startswith("33")
                   for x in shown)
    r = run(container, "audit", "verify", str(tmp_path / "b.jsonl"))
    assert r.exit_code == 0, r.output


def test_bad_input_exits_2_with_one_line(container: Any, tmp_path: Path) -> None:
    (tmp_path / "junk.jsonl").write_text("not json\n")
    r = run(container, "audit", "verify", str(tmp_path / "junk.jsonl"))
    assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1, r.output
    r = run(container, "audit", "verify", str(tmp_path / "missing.jsonl"))
    assert r.exit_code == 2, r.output
    for region in ("3", "32.16.00"):  # no region has a part of zeros
        r = run(container, "audit", "export", "--out", str(tmp_path / "x"), "--region", region)
        assert r.exit_code == 2 and "is not a Kemendagri region code" in r.output, r.output


def test_rotate_key_then_a_bundle_signed_by_both_keys_verifies(
        container: Any, tmp_path: Path) -> None:
    """`kemitraan audit rotate-key`: the old key is retired (kept beside the key file), the next
    checkpoint is signed with the new one, and a bundle holding checkpoints of both keys still
    verifies offline; a tampered leaf is still caught."""
    seed(container)
    before = export(container, tmp_path / "before.jsonl")
    old_ids = {x["checkpoint"]["key_id"] for x in before if "checkpoint" in x}
    r = run(container, "audit", "rotate-key")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["retired_key_id"] in old_ids and out["key_id"] != out["retired_key_id"]
    # what was signed stays signed by the old key: one checkpoint per tree size
    assert out["latest_checkpoint"]["tree_size"] == len(entries(before))
    assert out["latest_checkpoint"]["key_id"] == out["retired_key_id"]
    key_file = Path(out["key_file"])
    assert key_file.with_name(f"{key_file.name}.{out['retired_key_id']}.retired").exists()
    container.ledger.register_business(SYSTEM, T0, nib="3216010000009", name="UMKM Baru (sampel)",
                                       scale="mikro", region_code="32.16.01", kbli=["47111"])
    container.views.catch_up()
    lines = export(container, tmp_path / "after.jsonl")
    assert {x["checkpoint"]["key_id"] for x in lines if "checkpoint" in x} == \
        old_ids | {out["key_id"]}
    keys = {x["key"]["key_id"]: x["key"] for x in lines if "key" in x}
    assert keys[out["retired_key_id"]]["valid_to"] is not None
    assert keys[out["key_id"]]["valid_to"] is None
    ok = run(container, "audit", "verify", str(tmp_path / "after.jsonl"))
    assert ok.exit_code == 0, ok.output
    m = json.loads(json.dumps(lines))
    m[entries(lines)[4]]["display"]["data"]["name"] = "PT Lain"
    bad = run(container, "audit", "verify", str(write(tmp_path / "m.jsonl", m)))
    assert bad.exit_code == 1 and first_bad(bad) == 4, bad.output


def _forge_tail(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The bundle with its last event rewritten consistently."""
    return _forged(lines, len(lines) - 1)


def _forged(lines: list[dict[str, Any]], at: int) -> list[dict[str, Any]]:
    """The bundle with the event on line `at` rewritten consistently (record, sha256, display,
    leaf hash), the way someone with write access to the bundle but not the key would do it."""
    import base64
    import hashlib

    from projections import merkle
    from projections.audit_format import leaf_bytes, record_display

    forged = json.loads(json.dumps(lines))
    e = forged[at]
    state = json.loads(base64.b64decode(e["record"]))
    state["effective_date"] = "1999-01-01"
    raw = json.dumps(state).encode()
    e["record"] = base64.b64encode(raw).decode()
    e["record_sha256"] = hashlib.sha256(raw).hexdigest()
    e["display"] = record_display(e["topic"], raw)
    e["leaf_hash"] = merkle.leaf_hash(leaf_bytes(**{k: e[k] for k in (
        "seq", "stream_id", "version", "topic", "record_sha256")})).hex()
    return forged


def test_leaves_no_signed_checkpoint_covers_fail_the_verification(
        container: Any, tmp_path: Path) -> None:
    """A tail rewritten or appended after the newest checkpoint used to verify: only roots at
    checkpoint sizes were compared. An exported bundle is signed to its end, so a leaf past the
    newest checkpoint is refused, naming the first one."""
    seed(container)
    checkpointer(container).sign()  # an older checkpoint, then two more events
    container.ledger.register_business(SYSTEM, T0, nib="3216010000009", name="Usaha (sampel)",
                                       scale="mikro", region_code="32.16.02", kbli=["47111"])
    container.ledger.register_business(SYSTEM, T0, nib="3216010000010", name="Usaha (sampel)",
                                       scale="mikro", region_code="32.16.02", kbli=["47111"])
    lines = export(container, tmp_path / "b.jsonl")
    n = len(entries(lines))
    assert run(container, "audit", "verify", str(write(tmp_path / "ok.jsonl", lines))
               ).exit_code == 0
    # drop the checkpoint covering the whole bundle, then rewrite the last event
    cps = [i for i, x in enumerate(lines) if "checkpoint" in x]
    covering = [i for i in cps if lines[i]["checkpoint"]["tree_size"] == n]
    assert covering, "the export signs a checkpoint covering every leaf"
    older = [i for i in cps if lines[i]["checkpoint"]["tree_size"] < n]
    assert older, "the seed leaves an older checkpoint behind"
    last_signed = max(lines[i]["checkpoint"]["tree_size"] for i in older)
    trimmed = [x for i, x in enumerate(lines) if i not in covering]
    for mutated in (trimmed, _forge_tail(trimmed)):
        r = run(container, "audit", "verify", str(write(tmp_path / "m.jsonl", mutated)))
        assert r.exit_code == 1 and first_bad(r) == last_signed, r.output
        assert "covered by no signed checkpoint" in r.output
    # `audit check` of the live store allows leaves folded since the newest checkpoint
    checked = run(container, "audit", "check")
    assert checked.exit_code == 0, checked.output


def test_an_event_without_its_record_or_hidden_in_a_national_bundle_fails(
        container: Any, tmp_path: Path) -> None:
    seed(container)
    lines = export(container, tmp_path / "b.jsonl")
    first = entries(lines)[0]

    def verify(mutated: list[dict[str, Any]]) -> Any:
        return verify_mutated(container, tmp_path, mutated)

    # the readable form edited and the record removed: nothing left to check it against
    m = json.loads(json.dumps(lines))
    m[first + 4]["display"]["data"]["name"] = "PT Lain"
    del m[first + 4]["record"]
    r = verify(m)
    assert r.exit_code == 1 and first_bad(r) == 4 and "without its stored record" in r.output
    # an event replaced by its bare leaf in a bundle exported without a region: hidden
    m = json.loads(json.dumps(lines))
    m[first + 5] = {"leaf_index": 5, "leaf_hash": lines[first + 5]["leaf_hash"]}
    r = verify(m)
    assert r.exit_code == 1 and first_bad(r) == 5 and "hidden" in r.output, r.output
    # a bare leaf that still carries event fields is malformed
    m = json.loads(json.dumps(lines))
    m[first + 5] = {"leaf_index": 5, "leaf_hash": lines[first + 5]["leaf_hash"],
                    "display": lines[first + 5]["display"]}
    r = verify(m)
    assert r.exit_code == 1 and first_bad(r) == 5, r.output
    # a damaged line is named by its number
    path = write(tmp_path / "cut.jsonl", lines)
    text = path.read_text()
    path.write_text(text[:len(text) - 40])
    r = run(container, "audit", "verify", str(path))
    assert r.exit_code == 2 and f"line {len(lines)} is not JSON" in r.output, r.output


def test_pinned_keys_refuse_a_checkpoint_signed_with_a_key_the_bundle_brought_along(
        container: Any, client: Any, make_token: Any, tmp_path: Path) -> None:
    """Without --keys a bundle can carry its own key and a checkpoint over a forged tail; with
    the keys saved from the server, only its signatures count."""
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from projections import merkle
    from projections.audit_format import checkpoint_body, key_id, signed_note

    seed(container)
    auditor = make_token("auditor", region="")
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps(client.get("/v1/audit/keys", headers=bearer(auditor)).json()))
    lines = export(container, tmp_path / "b.jsonl")
    n = len(entries(lines))
    genuine = run(container, "audit", "verify", str(write(tmp_path / "g.jsonl", lines)),
                  "--keys", str(keys_file))
    assert genuine.exit_code == 0 and "signed with the pinned keys" in genuine.output

    forged = _forge_tail([x for x in lines if x.get("checkpoint", {}).get("tree_size") != n])
    frontier = merkle.Frontier()
    for x in forged:
        if "leaf_index" in x:
            frontier.append(bytes.fromhex(x["leaf_hash"]))
    origin = lines[0]["origin"]
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    kid = key_id(origin, public)
    body = checkpoint_body(origin, n, frontier.root())
    signature = private.sign(body.encode())
    cp = {"origin": origin, "tree_size": n, "root_hash": frontier.root().hex(),
          "issued_at": "2026-12-05T00:00:00+00:00", "key_id": kid,
          "signature": base64.b64encode(signature).decode(),
          "note": signed_note(body, origin, public, signature)}
    key = {"key": {"key_id": kid, "name": origin, "public_key": base64.b64encode(public).decode(),
                   "valid_from": "2026-12-05T00:00:00+00:00", "valid_to": None,
                   "algorithm": "ed25519"}}
    first = entries(forged)[0]
    forged = forged[:1] + [key] + forged[1:first] + [{"checkpoint": cp}] + forged[first:]
    path = write(tmp_path / "f.jsonl", forged)
    trusting = run(container, "audit", "verify", str(path))
    assert trusting.exit_code == 0 and "keys taken from the bundle itself" in trusting.output
    pinned = run(container, "audit", "verify", str(path), "--keys", str(keys_file))
    assert pinned.exit_code == 1 and f"unknown key {kid}" in pinned.output, pinned.output


def test_an_export_ends_at_the_checkpoint_it_signed_though_the_log_grew(
        container: Any, tmp_path: Path) -> None:
    from projections.audit_export import live_bundle, write_bundle
    from projections.audit_verify import read_bundle, verify

    seed(container)
    signer = checkpointer(container)
    signed = signer.sign()
    container.ledger.register_business(SYSTEM, T0, nib="3216010000009", name="Usaha (sampel)",
                                       scale="mikro", region_code="32.16.02", kbli=["47111"])
    container.views.catch_up()  # folded by another process after the export signed
    bundle = live_bundle(container.engine, container.settings.audit_origin, signer.keys(),
                         signer.all(), tree_size=int(signed["tree_size"]))
    path = tmp_path / "b.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        write_bundle(bundle, f)
    report = verify(read_bundle(str(path)))
    assert report.ok, report.problems
    assert report.leaves == signed["tree_size"]

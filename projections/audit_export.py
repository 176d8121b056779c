"""Audit bundles from the live store: `kemitraan audit export` writes one, `kemitraan audit
check` verifies one without writing it.

Each entry joins a stored record *as the store holds it now* with the leaf logged for its seq
when the audit view appended it. Whatever changed in between (an UPDATE, a DELETE, rows moved
or slipped in by SQL) shows up in `projections.audit_verify` as the first bad leaf.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from projections import audit_log
from projections.audit_format import record_display, record_sha256, stream_id_text
from projections.audit_verify import BUNDLE_FORMAT, Bundle

PAGE = 5000


def _leaf_rows(conn: sa.Connection, lo: int, hi: int) -> dict[int, Any]:
    lv = audit_log.leaves
    rows = conn.execute(sa.select(lv.c.seq, lv.c.leaf_index, lv.c.leaf_hash, lv.c.stream_id)
                        .where(lv.c.seq >= lo, lv.c.seq <= hi)).all()
    return {int(r.seq): r for r in rows}


def _in_scope(conn: sa.Connection, stream_ids: set[str], region: str) -> set[str]:
    sc = audit_log.scopes
    return set(conn.execute(sa.select(sc.c.stream_id).where(
        sc.c.stream_id.in_(sorted(stream_ids)), audit_log.stream_in_region(region))).scalars())


def entries(engine: sa.Engine, until_seq: int, region: str | None = None) -> Iterator[dict[str, Any]]:
    """One entry per stored record with seq <= until_seq, in seq order."""
    after = -2**62  # ids below the first one are records slipped in, not "before the log"
    while after < until_seq:
        with engine.connect() as conn:
            page = audit_log.raw_records(conn, after, until_seq, limit=PAGE)
            if not page:
                return
            logged = _leaf_rows(conn, int(page[0].seq), int(page[-1].seq))
            visible: set[str] | None = None
            if region:
                visible = _in_scope(conn, {stream_id_text(r.originator_id) for r in page},
                                    region)
        for r in page:
            leaf = logged.get(int(r.seq))
            sid = stream_id_text(r.originator_id)
            if visible is not None and sid not in visible:
                yield {"leaf_index": int(leaf.leaf_index) if leaf else None,
                       "leaf_hash": leaf.leaf_hash if leaf else None}
                continue
            state = bytes(r.state)
            yield {"leaf_index": int(leaf.leaf_index) if leaf else None, "seq": int(r.seq),
                   "stream_id": sid, "version": int(r.originator_version), "topic": r.topic,
                   "record_sha256": record_sha256(state),
                   "leaf_hash": leaf.leaf_hash if leaf else None,
                   "record": base64.b64encode(state).decode("ascii"),
                   "display": record_display(r.topic, state)}
        after = int(page[-1].seq)


def live_bundle(engine: sa.Engine, origin: str, keys: list[dict[str, Any]],
                checkpoints: list[dict[str, Any]], region: str | None = None,
                tree_size: int | None = None) -> Bundle:
    """The bundle of everything the audit view has logged so far, or of its first `tree_size`
    leaves (the export stops at the checkpoint it signed, though the log may grow meanwhile:
    a verifier refuses leaves no checkpoint covers)."""
    leaves = audit_log.leaves
    with engine.connect() as conn:
        if tree_size is None:
            size = audit_log.tree_size(conn)
            until = conn.execute(sa.select(sa.func.max(leaves.c.seq))).scalar() or 0
        else:
            size = tree_size
            until = conn.execute(sa.select(leaves.c.seq).where(
                leaves.c.leaf_index == size - 1)).scalar() or 0
    header = {"format": BUNDLE_FORMAT, "origin": origin, "tree_size": size,
              "exported_at": datetime.now(timezone.utc).isoformat(), "region": region}
    return Bundle(header, keys, checkpoints, entries(engine, int(until), region))


def _public(cp: dict[str, Any]) -> dict[str, Any]:
    return {k: cp[k] for k in ("origin", "tree_size", "root_hash", "issued_at", "key_id",
                               "signature", "note")}


def write_bundle(bundle: Bundle, out: Any) -> int:
    """Writes a bundle as JSON Lines to a text file; returns the number of entries."""
    import json

    def line(obj: Any) -> None:
        out.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
        out.write("\n")

    line(bundle.header)
    for k in bundle.keys:
        line({"key": {**k, "algorithm": "ed25519"}})
    for cp in bundle.checkpoints:
        line({"checkpoint": _public(cp)})
    n = 0
    for entry in bundle.entries:
        line(entry)
        n += 1
    return n


"""Audit log benchmark (docs/benchmarks.md, "Audit"). Run by hand, niced:

    nice .venv/bin/python bench/audit.py                       # all three, SQLite, ~5-8 minutes
    nice .venv/bin/python bench/audit.py --parts a --pg        # (a) on PostgreSQL too
    nice .venv/bin/python bench/audit.py --leaves 1000000 --events 100000   # smaller

(a) leaf append rate: N one-event `register_business` commands are saved through the real
    `Ledger` (the baseline: saves/s, the ledger's own event rate), then the audit view alone
    folds them from zero (`Runtime` with only `AuditLogView`): leaves/s, and the ratio.
(b) inclusion proof latency at 10 M leaves: the node table is filled SYNTHETICALLY (leaf hashes
    are SHA-256 of the index; every complete-subtree node written, as the view writes them), in
    a SQLite file, then random inclusion proofs are read through `audit_log.inclusion_proof`
    and verified against the root.
(c) verification of a 1 M-event export: a synthetic bundle of 1 M events with records shaped
    like the ledger's (about 450 bytes of JSON each) and a real signed checkpoint is written,
    then `projections.audit_verify.verify` checks it, as `kemitraan audit verify` does.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from projections import audit_log, merkle  # noqa: E402
from projections.audit_format import (  # noqa: E402
    b64, checkpoint_body, key_id, leaf_bytes, record_display, record_sha256, signed_note,
)


def part_a(n: int, pg: bool) -> None:
    from api.settings import Settings
    from api.wiring import build
    from domain.access import SYSTEM
    from projections.audit_log import AuditLogView
    from projections.runtime import Runtime

    backends = ["sqlite"] + (["postgresql"] if pg else [])
    for backend in backends:
        with tempfile.TemporaryDirectory() as tmp:
            url, dbname = None, None
            if backend == "postgresql":
                import psycopg

                dbname = f"kemitraan_bench_audit_{uuid.uuid4().hex[:8]}"
                with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres",
                                     autocommit=True) as c:
                    c.execute(f'CREATE DATABASE "{dbname}"')
                url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{dbname}"
            container = build(Settings(data_dir=Path(tmp), database_url=url, log_format="json"))
            try:
                now = datetime.now(timezone.utc)
                t0 = time.perf_counter()
                for i in range(n):
                    container.ledger.register_business(
                        SYSTEM, now, nib=f"{3216000000000 + i:013d}", name=f"Usaha {i}",
                        scale="mikro", region_code="32.16.01", kbli=["47111"])
                save_rate = n / (time.perf_counter() - t0)
                from bench.commands import RawSaver

                raw = RawSaver(container.settings)  # the raw baseline of bench/commands.py
                t0 = time.perf_counter()
                blocks = max(n // 100, 1)
                for b in range(blocks):
                    raw.block(b, None)
                raw_rate = blocks * 100 / (time.perf_counter() - t0)
                raw.close()
                runtime = Runtime(container.ledger, container.engine, [AuditLogView],
                                  store_kind=container.store_kind)
                runtime.setup()
                t0 = time.perf_counter()
                runtime.catch_up()
                append_rate = n / (time.perf_counter() - t0)
                with container.engine.connect() as conn:
                    assert audit_log.tree_size(conn) == n
                print(f"(a) {backend}: {n} events; raw app.save() {raw_rate:,.0f}/s; ledger "
                      f"register_business {save_rate:,.0f}/s; audit view alone appends "
                      f"{append_rate:,.0f} leaves/s: {append_rate / raw_rate:.1f}x raw, "
                      f"{append_rate / save_rate:.1f}x the ledger", flush=True)
            finally:
                container.close()
                if dbname:
                    import psycopg

                    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres",
                                         autocommit=True) as c:
                        c.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def part_b(leaves: int, proofs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = sa.create_engine(f"sqlite:///{tmp}/nodes.db")
        audit_log.nodes.create(engine)
        audit_log.leaves.create(engine)  # a leaf's own hash (level 0) is read from its row
        t0 = time.perf_counter()
        f = merkle.Frontier()
        batch: list[dict[str, object]] = []
        leaf_rows: list[dict[str, object]] = []
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=OFF")
            for i in range(leaves):
                h = merkle.leaf_hash(i.to_bytes(8, "big"))
                leaf_rows.append({"leaf_index": i, "seq": i + 1, "stream_id": "-", "version": 1,
                                  "topic": "-", "record_sha256": "-", "leaf_hash": h.hex()})
                for (level, idx), nh in f.append(h)[1:]:
                    batch.append({"level": level, "idx": idx, "hash": nh})
                if len(batch) >= 200_000:
                    conn.execute(audit_log.nodes.insert(), batch)
                    conn.execute(audit_log.leaves.insert(), leaf_rows)
                    batch.clear()
                    leaf_rows.clear()
            if batch:
                conn.execute(audit_log.nodes.insert(), batch)
            if leaf_rows:
                conn.execute(audit_log.leaves.insert(), leaf_rows)
        fill = time.perf_counter() - t0
        size_mb = os.path.getsize(f"{tmp}/nodes.db") / 1e6
        root = f.root()
        rng = random.Random(7)
        times = []
        with engine.connect() as conn:
            assert audit_log.root(conn, leaves) == root
            for _ in range(proofs):
                m = rng.randrange(leaves)
                t0 = time.perf_counter()
                path = audit_log.inclusion_proof(conn, m, leaves)
                times.append((time.perf_counter() - t0) * 1000)
                assert merkle.verify_inclusion(m, leaves, merkle.leaf_hash(m.to_bytes(8, "big")),
                                               path, root)
        times.sort()
        print(f"(b) {leaves:,} leaves (synthetic fill {fill:.0f} s, {size_mb:,.0f} MB SQLite): "
              f"{proofs} inclusion proofs p50 {statistics.median(times):.2f} ms, "
              f"p95 {times[int(len(times) * 0.95)]:.2f} ms, max {times[-1]:.2f} ms", flush=True)


def part_c(events: int) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from projections.audit_verify import BUNDLE_FORMAT, read_bundle, verify

    origin = "kemitraan-ledger"
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bundle.jsonl"
        t0 = time.perf_counter()
        f = merkle.Frontier()
        entries_path = Path(tmp) / "entries.jsonl"
        lines = open(entries_path, "w")
        topic = "kemitraan.Partnership.Proposed"
        for i in range(events):
            state = json.dumps({
                "timestamp": {"_type_": "datetime_iso", "_data_": "2024-03-01T03:00:00+00:00"},
                "originator_topic": "kemitraan.Partnership", "actor_id": str(uuid.UUID(int=i)),
                "actor_role": "company", "effective_date": "2024-03-01",
                "large_nib": "3216000000001", "umkm_nib": f"{3216010000000 + i:013d}",
                "pola": "rantai_pasok", "program": "rantai_pasok_industri",
                "title": f"Pasokan bahan baku {i}", "start_date": "2024-01-01",
                "end_date": "2026-12-31", "value_idr": 150_000_000 + i,
                "location_region_code": "32.16", "large_region_code": "32.16",
                "umkm_region_code": "32.16.01", "description": None,
            }, separators=(",", ":")).encode()
            fields = {"seq": i + 1, "stream_id": str(uuid.UUID(int=i + 1)), "version": 1,
                      "topic": topic, "record_sha256": record_sha256(state)}
            h = merkle.leaf_hash(leaf_bytes(**fields))
            f.append(h)
            lines.write(json.dumps({"leaf_index": i, **fields, "leaf_hash": h.hex(),
                                    "record": base64.b64encode(state).decode(),
                                    "display": record_display(topic, state)},
                                   separators=(",", ":")) + "\n")
        lines.close()
        body = checkpoint_body(origin, events, f.root())
        sig = key.sign(body.encode())
        kid = key_id(origin, public)
        header = {"format": BUNDLE_FORMAT, "origin": origin, "tree_size": events}
        cp = {"origin": origin, "tree_size": events, "root_hash": f.root().hex(),
              "issued_at": "2024-03-01T03:00:00+00:00", "key_id": kid, "signature": b64(sig),
              "note": signed_note(body, origin, public, sig)}
        with open(path, "w") as out:
            out.write(json.dumps(header) + "\n")
            out.write(json.dumps({"key": {"key_id": kid, "name": origin,
                                          "public_key": b64(public)}}) + "\n")
            out.write(json.dumps({"checkpoint": cp}) + "\n")
            with open(entries_path) as src:
                shutil.copyfileobj(src, out)
        entries_path.unlink()
        build = time.perf_counter() - t0
        size_mb = path.stat().st_size / 1e6
        t0 = time.perf_counter()
        report = verify(read_bundle(str(path)))
        took = time.perf_counter() - t0
        assert report.ok, report.summary()
        print(f"(c) verify {events:,} events ({size_mb:,.0f} MB bundle, built in {build:.0f} s): "
              f"{took:.1f} s ({events / took:,.0f} events/s)", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", default="abc")
    p.add_argument("--events-a", type=int, default=5000)
    p.add_argument("--leaves", type=int, default=10_000_000)
    p.add_argument("--proofs", type=int, default=1000)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--pg", action="store_true", help="(a) on PostgreSQL too")
    a = p.parse_args()
    if "a" in a.parts:
        part_a(a.events_a, a.pg)
    if "c" in a.parts:
        part_c(a.events)
    if "b" in a.parts:
        part_b(a.leaves, a.proofs)


if __name__ == "__main__":
    main()

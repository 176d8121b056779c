"""The audit log's leaves are the stored records as read from the log (ADR 0013): every record,
of any topic, hashed as stored, numbered in order; only the events that carry regions or an
evidence file are decoded. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any
from uuid import uuid4

import sqlalchemy as sa
from eventsourcing.persistence import StoredEvent

from domain.access import SYSTEM
from projections import audit_log, merkle
from tests.audit.test_tamper import T0, seed


def test_a_record_of_a_topic_no_view_knows_becomes_a_leaf_in_order(container: Any) -> None:
    seed(container)
    # a later release's event, written straight to the store: no class decodes it here
    stranger = StoredEvent(originator_id=uuid4(), originator_version=1,
                           topic="kemitraan.FutureThing.Happened", state=b'{"x": 1}')
    container.ledger.recorder.insert_events([stranger])
    # more events after it, folded in the same way
    container.ledger.propose_partnership(
        SYSTEM, T0, uuid4(), large_nib="3216000000001", umkm_nib="3216010000002",
        pola="rantai_pasok", program=None, title="Pasokan kedua", start_date=date(2024, 1, 1),
        end_date=None, value_idr=1_000_000, location_region_code="32.16", description=None)
    container.views.catch_up()
    head = container.views.head()
    assert container.views.position() == head

    with container.engine.connect() as conn:
        rows = conn.execute(sa.select(audit_log.leaves).order_by(
            audit_log.leaves.c.leaf_index)).mappings().all()
        stored = {int(r.seq): r for r in audit_log.raw_records(conn, 0)}
        evidence = conn.execute(sa.select(sa.func.count()).select_from(audit_log.leaves).where(
            audit_log.leaves.c.evidence_id.is_not(None))).scalar()
        scopes = conn.execute(sa.select(sa.func.count()).select_from(audit_log.scopes)).scalar()
    assert [r["leaf_index"] for r in rows] == list(range(len(stored)))
    assert [r["seq"] for r in rows] == sorted(stored)  # every record, in log order
    for r in rows:
        record = stored[r["seq"]]
        assert r["record_sha256"] == hashlib.sha256(bytes(record.state)).hexdigest()
        assert (r["topic"], r["version"]) == (record.topic, record.originator_version)
    odd = [r for r in rows if r["topic"] == "kemitraan.FutureThing.Happened"]
    assert len(odd) == 1 and odd[0]["stream_id"] == str(stranger.originator_id)
    assert odd[0]["record_sha256"] == hashlib.sha256(b'{"x": 1}').hexdigest()
    # the decoded few: 2 x 3 evidence files; 4 businesses + 3 partnerships
    assert evidence == 6
    assert scopes == 7
    with container.engine.connect() as conn:
        size = audit_log.tree_size(conn)
        root = audit_log.root(conn, size)
    assert size == len(rows)
    assert root == merkle.root_of_leaves(bytes.fromhex(r["leaf_hash"]) for r in rows)

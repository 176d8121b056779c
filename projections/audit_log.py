"""The audit log: every stored event is a leaf of one append-only RFC 9162 Merkle tree (ADR 0013).

A view like the others (exactly-once through the runtime's tracking), with one difference: its
leaves are read from the recorder's own table, not from the decoded events. Each page it reads
the stored records after its last leaf up to the last event of the page, in `seq` order, hashes
their bytes as stored, numbers them densely from 0 (the store's ids may have gaps), and writes
the leaf rows and the hash of every complete subtree that the new leaves complete. Any root or
proof then needs O(log n) indexed reads (`projections.merkle`). The handler is registered for
the base of all domain events, so every topic is read; a record of a topic no view knows still
becomes a leaf, in order, with the next page that reads anything.

It also keeps, per stream, the regions that stream touches, for auditors of a region.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import Tracking

from domain.application import Ledger
from projections import merkle
from projections.audit_format import leaf_bytes, record_sha256, stream_id_text
from projections.runtime import View
from projections.tables import chunks, insert_rows, metadata, region_within

leaves = sa.Table(
    "view_audit_leaves", metadata,
    sa.Column("leaf_index", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False, unique=True),
    sa.Column("stream_id", sa.String(36), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("record_sha256", sa.String(64), nullable=False),
    sa.Column("leaf_hash", sa.String(64), nullable=False),
    sa.Column("evidence_id", sa.String(64)),
    sa.Column("evidence_sha256", sa.String(64)),
    # Only the evidence submissions (a minority of leaves) are looked up by stream or file:
    # partial indexes. Full ones on a random-UUID stream_id and on two columns NULL for most
    # leaves made the leaf inserts the largest cost of a catch-up at 1 M partnerships.
    sa.Index("ix_view_audit_leaves_evidence_stream", "stream_id",
             postgresql_where=sa.text("evidence_id IS NOT NULL"),
             sqlite_where=sa.text("evidence_id IS NOT NULL")),
    sa.Index("ix_view_audit_leaves_evidence_sha", "evidence_sha256",
             postgresql_where=sa.text("evidence_sha256 IS NOT NULL"),
             sqlite_where=sa.text("evidence_sha256 IS NOT NULL")),
)

nodes = sa.Table(
    "view_audit_nodes", metadata,
    sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.LargeBinary(32), nullable=False),
    sqlite_with_rowid=False,
)

scopes = sa.Table(
    "view_audit_scopes", metadata,
    sa.Column("stream_id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),  # partnership|business|regulation|token
    sa.Column("region_a", sa.String(13)),
    sa.Column("region_b", sa.String(13)),
    sa.Column("region_c", sa.String(13)),
)


# ---- the recorder's table ----------------------------------------------------------------------

def raw_source(dialect: str) -> tuple[str, str]:
    """(table, id column) of the stored events: the library's documented layout."""
    if dialect == "sqlite":
        return "stored_events", "rowid"
    return f"{Ledger.name.lower()}_events", "notification_id"


def raw_records(conn: sa.Connection, after: int, until: int | None = None,
                limit: int | None = None) -> Sequence[Any]:
    """Stored records with after < seq <= until, in seq order: (seq, originator_id,
    originator_version, topic, state)."""
    table, id_col = raw_source(conn.dialect.name)
    sql = (f"SELECT {id_col} AS seq, originator_id, originator_version, topic, state "
           f"FROM {table} WHERE {id_col} > :after")
    params: dict[str, Any] = {"after": after}
    if until is not None:
        sql += f" AND {id_col} <= :until"
        params["until"] = until
    sql += f" ORDER BY {id_col}"
    if limit is not None:
        sql += " LIMIT :limit"
        params["limit"] = limit
    return conn.execute(sa.text(sql), params).all()


def iter_records(engine: sa.Engine, page: int = 5000) -> Iterator[Any]:
    """Every stored record in seq order, in pages (for `audit check` and the export)."""
    after = -2**62
    while True:
        with engine.connect() as conn:
            rows = raw_records(conn, after, limit=page)
        if not rows:
            return
        yield from rows
        after = int(rows[-1].seq)


def leaf_of(row: Any) -> tuple[dict[str, Any], bytes]:
    """The leaf of one stored record: its fields and its leaf hash."""
    state = bytes(row.state)
    fields = {"seq": int(row.seq), "stream_id": stream_id_text(row.originator_id),
              "version": int(row.originator_version), "topic": row.topic,
              "record_sha256": record_sha256(state)}
    return fields, merkle.leaf_hash(leaf_bytes(**fields))


# ---- reading the tree ----------------------------------------------------------------------------

def node_reader(conn: sa.Connection) -> merkle.NodeReader:
    """Reads the nodes a root or proof needs (at most ~2 per level) in one indexed query."""
    def read(keys: Sequence[merkle.Node]) -> dict[merkle.Node, bytes]:
        if not keys:
            return {}
        # one statement of primary-key lookups; plain SQL text, since building and compiling
        # an expression per proof cost more than the lookups themselves (a row-value IN list
        # would make SQLite scan the table)
        wanted = sorted(set(keys))
        where = " OR ".join(f"(level = {int(level)} AND idx = {int(idx)})"
                            for level, idx in wanted)
        rows = conn.exec_driver_sql(f"SELECT level, idx, hash FROM {nodes.name} WHERE {where}")
        return {(int(r.level), int(r.idx)): bytes(r.hash) for r in rows}
    return read


def tree_size(conn: sa.Connection) -> int:
    last = conn.execute(sa.select(sa.func.max(leaves.c.leaf_index))).scalar()
    return 0 if last is None else int(last) + 1


def root(conn: sa.Connection, size: int) -> bytes:
    return merkle.root(size, node_reader(conn))


def inclusion_proof(conn: sa.Connection, leaf_index: int, size: int) -> list[bytes]:
    return merkle.inclusion_proof(leaf_index, size, node_reader(conn))


def consistency_proof(conn: sa.Connection, first: int, second: int) -> list[bytes]:
    return merkle.consistency_proof(first, second, node_reader(conn))


def stream_in_region(prefix: str) -> sa.ColumnElement[bool]:
    """Events a region-scoped reader sees (ADR 0013): streams touching the region (businesses,
    partnerships by either party or location), regulations (public law) and no tokens."""
    in_region = sa.or_(*(region_within(c, prefix)
                         for c in (scopes.c.region_a, scopes.c.region_b, scopes.c.region_c)))
    return sa.or_(scopes.c.kind == "regulation",
                  sa.and_(scopes.c.kind.in_(["partnership", "business"]), in_region))


# ---- the view ------------------------------------------------------------------------------------

class AuditLogView(View):
    name = "audit_log"
    tables = (leaves, nodes, scopes)

    def __init__(self, view: Any) -> None:
        super().__init__(view)
        self._last_seq = 0
        self._scopes: dict[str, dict[str, Any]] = {}
        self._evidence: dict[int, tuple[str, str]] = {}

    @singledispatchmethod
    def process_event(self, e: Any, tracking: Tracking) -> None:
        pass

    @process_event.register(DomainEvent)
    def _event(self, e: Any, tracking: Tracking) -> None:
        seq = tracking.notification_id
        self._last_seq = max(self._last_seq, seq)
        topic = type(e).__dict__.get("TOPIC", "")
        sid = str(e.originator_id)
        if topic == "kemitraan.Partnership.Proposed":
            self._scopes[sid] = {"stream_id": sid, "kind": "partnership",
                                 "region_a": e.large_region_code,
                                 "region_b": e.umkm_region_code,
                                 "region_c": e.location_region_code}
        elif topic == "kemitraan.Business.Registered":
            self._scopes[sid] = {"stream_id": sid, "kind": "business",
                                 "region_a": e.region_code, "region_b": None, "region_c": None}
        elif topic == "kemitraan.Regulation.Enacted":
            self._scopes[sid] = {"stream_id": sid, "kind": "regulation",
                                 "region_a": e.pack.get("region_code"), "region_b": None,
                                 "region_c": None}
        elif topic == "kemitraan.AccessToken.Issued":
            self._scopes[sid] = {"stream_id": sid, "kind": "token", "region_a": None,
                                 "region_b": None, "region_c": None}
        elif topic == "kemitraan.Partnership.EvidenceSubmitted":
            self._evidence[seq] = (e.evidence_id, e.sha256)

    def flush(self) -> None:
        try:
            if self._last_seq:
                self._write()
        finally:  # a page's state never carries into the next page
            self._last_seq = 0
            self._scopes = {}
            self._evidence = {}

    def _write(self) -> None:
        conn = self.conn
        last = conn.execute(sa.select(leaves.c.leaf_index, leaves.c.seq)
                            .order_by(leaves.c.leaf_index.desc()).limit(1)).first()
        size, after = (int(last.leaf_index) + 1, int(last.seq)) if last else (0, 0)
        edge_keys = merkle.Frontier.edge_nodes(size)
        edge = node_reader(conn)(edge_keys)
        frontier = merkle.Frontier(size, [edge[k] for k in edge_keys])
        leaf_rows: list[dict[str, Any]] = []
        node_rows: list[dict[str, Any]] = []
        for row in raw_records(conn, after, self._last_seq):
            fields, h = leaf_of(row)
            evidence_id, evidence_sha = self._evidence.get(fields["seq"], (None, None))
            leaf_rows.append({**fields, "leaf_index": frontier.size, "leaf_hash": h.hex(),
                              "evidence_id": evidence_id, "evidence_sha256": evidence_sha})
            node_rows.extend({"level": level, "idx": idx, "hash": nh}
                             for (level, idx), nh in frontier.append(h))
        insert_rows(conn, leaves, leaf_rows)  # PostgreSQL: one statement per table
        insert_rows(conn, nodes, node_rows)
        if self._scopes:
            known: set[str] = set()
            for chunk in chunks(list(self._scopes)):
                known.update(conn.execute(sa.select(scopes.c.stream_id).where(
                    scopes.c.stream_id.in_(chunk))).scalars())
            insert_rows(conn, scopes, [v for k, v in self._scopes.items() if k not in known])


def records_by_seq(conn: sa.Connection, seqs: Sequence[int]) -> dict[int, Any]:
    """The stored records at these seqs, by seq."""
    if not seqs:
        return {}
    table, id_col = raw_source(conn.dialect.name)
    stmt = sa.text(f"SELECT {id_col} AS seq, originator_id, originator_version, topic, state "
                   f"FROM {table} WHERE {id_col} IN :seqs").bindparams(
        sa.bindparam("seqs", expanding=True))
    return {int(r.seq): r for r in conn.execute(stmt, {"seqs": list(seqs)})}

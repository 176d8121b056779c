"""The audit log: every stored event is a leaf of one append-only RFC 9162 Merkle tree (ADR 0013).

A view like the others (exactly-once through the runtime's tracking), with one difference: its
leaves are the stored records themselves, not the decoded events (`records = True`: the runtime
hands it every record of the page as read from the log, of any topic, and reads the log
unfiltered for it). Each page it hashes the records' bytes as stored, in `seq` order, numbers
them densely from 0 (the store's ids may have gaps), and writes the leaf rows and the hash of
every complete subtree that the new leaves complete. Any root or proof then needs O(log n)
indexed reads (`projections.merkle`). Only the few events that carry a stream's regions or an
evidence file are decoded.

It also keeps, per stream, the regions that stream touches, for auditors of a region.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Notification, Tracking

from domain.access_token import AccessToken
from domain.application import Ledger
from domain.business import Business
from domain.partnership import Partnership
from domain.regulation import Regulation
from projections import merkle
from projections.audit_format import leaf_bytes, record_sha256, stream_id_text
from projections.runtime import View
from projections.tables import (
    batches, in_values, insert_rows, insert_tuples, metadata, region_within,
)

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

# the leaf row as `AuditLogView._write` builds it
_LEAF_COLUMNS = ("leaf_index", "seq", "stream_id", "version", "topic", "record_sha256", "leaf_hash",
                 "evidence_id", "evidence_sha256")

nodes = sa.Table(
    "view_audit_nodes", metadata,
    sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.LargeBinary(32), nullable=False),
    sqlite_with_rowid=False,
)

# The tree's size and last seq, moved with every page. Reading them from the leaves (`ORDER BY
# leaf_index DESC LIMIT 1`) walked, inside a rebuild, every leaf the rebuild had deleted and not
# yet replaced: quadratic. Bookkeeping (not in `tables`): created without a rebuild; a missing
# row is read from the leaves once.
head = sa.Table(
    "view_audit_head", metadata,
    sa.Column("id", sa.SmallInteger, primary_key=True, autoincrement=False),  # always 1
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
    info={"bookkeeping": True},
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


# ---- reading the tree ----------------------------------------------------------------------------

def node_reader(conn: sa.Connection) -> merkle.NodeReader:
    """Reads the nodes a root or proof needs (at most ~2 per level) in one indexed query per
    table: a leaf's own hash (level 0) from `view_audit_leaves`, the others from
    `view_audit_nodes` (which kept level 0 too until 2026-12-06: such rows are not read)."""
    def read(keys: Sequence[merkle.Node]) -> dict[merkle.Node, bytes]:
        if not keys:
            return {}
        # one statement of primary-key lookups; plain SQL text, since building and compiling
        # an expression per proof cost more than the lookups themselves (a row-value IN list
        # would make SQLite scan the table)
        wanted = sorted(set(keys))
        found: dict[merkle.Node, bytes] = {}
        leaf_idx = [int(idx) for level, idx in wanted if level == 0]
        if leaf_idx:
            rows = conn.exec_driver_sql(
                f"SELECT leaf_index, leaf_hash FROM {leaves.name} WHERE leaf_index IN "
                f"({', '.join(map(str, leaf_idx))})")
            found.update(((0, int(r.leaf_index)), bytes.fromhex(r.leaf_hash)) for r in rows)
        where = " OR ".join(f"(level = {int(level)} AND idx = {int(idx)})"
                            for level, idx in wanted if level != 0)
        if where:
            rows = conn.exec_driver_sql(f"SELECT level, idx, hash FROM {nodes.name} WHERE {where}")
            found.update(((int(r.level), int(r.idx)), bytes(r.hash)) for r in rows)
        return found
    return read


def tree_size(conn: sa.Connection) -> int:
    size = conn.execute(sa.select(head.c.size).where(head.c.id == 1)).scalar()
    if size is not None:
        return int(size)
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
    read_indexes = ("ix_view_audit_leaves_evidence_sha", "ix_view_audit_leaves_evidence_stream")
    records = True  # every stored record becomes a leaf, hashed as stored (any topic)

    def __init__(self, view: Any) -> None:
        super().__init__(view)
        self._records: list[Notification] = []
        self._scopes: dict[str, dict[str, Any]] = {}
        self._evidence: dict[int, tuple[str, str]] = {}

    def process_record(self, record: Notification) -> None:
        self._records.append(record)

    # Only the events that carry a stream's regions or an evidence file are decoded.
    @singledispatchmethod
    def process_event(self, e: Any, tracking: Tracking) -> None:
        pass

    @process_event.register(Partnership.Proposed)
    def _proposed(self, e: Partnership.Proposed, tracking: Tracking) -> None:
        self._scope(e, "partnership", e.large_region_code, e.umkm_region_code,
                    e.location_region_code)

    @process_event.register(Business.Registered)
    def _registered(self, e: Business.Registered, tracking: Tracking) -> None:
        self._scope(e, "business", e.region_code)

    @process_event.register(Regulation.Enacted)
    def _enacted(self, e: Regulation.Enacted, tracking: Tracking) -> None:
        self._scope(e, "regulation", e.pack.get("region_code"))

    @process_event.register(AccessToken.Issued)
    def _issued(self, e: AccessToken.Issued, tracking: Tracking) -> None:
        self._scope(e, "token", None)

    @process_event.register(Partnership.EvidenceSubmitted)
    def _evidence_submitted(self, e: Partnership.EvidenceSubmitted, tracking: Tracking) -> None:
        self._evidence[tracking.notification_id] = (e.evidence_id, e.sha256)

    def _scope(self, e: Any, kind: str, a: str | None, b: str | None = None,
               c: str | None = None) -> None:
        sid = str(e.originator_id)
        self._scopes[sid] = {"stream_id": sid, "kind": kind, "region_a": a, "region_b": b,
                             "region_c": c}

    def flush(self) -> None:
        try:
            if self._records:
                self._write()
        finally:  # a page's state never carries into the next page
            self._records = []
            self._scopes = {}
            self._evidence = {}

    def clear(self) -> None:
        super().clear()
        self.conn.execute(head.delete())
        self.conn.execute(head.insert().values(id=1, size=0, last_seq=0))

    def _head(self, conn: sa.Connection) -> tuple[int, int]:
        """(tree size, seq of the last leaf)."""
        row = conn.execute(sa.select(head.c.size, head.c.last_seq).where(head.c.id == 1)).first()
        if row is not None:
            return int(row.size), int(row.last_seq)
        last = conn.execute(sa.select(leaves.c.leaf_index, leaves.c.seq)
                            .order_by(leaves.c.leaf_index.desc()).limit(1)).first()
        size, after = (int(last.leaf_index) + 1, int(last.seq)) if last else (0, 0)
        conn.execute(head.insert().values(id=1, size=size, last_seq=after))
        return size, after

    def _write(self) -> None:
        conn = self.conn
        size, after = self._head(conn)
        if self._records[0].id <= after:  # the runtime hands each record over once
            raise RuntimeError(f"audit log: record {self._records[0].id} is already a leaf")
        edge_keys = merkle.Frontier.edge_nodes(size)
        edge = node_reader(conn)(edge_keys)
        frontier = merkle.Frontier(size, [edge[k] for k in edge_keys])
        leaf_rows: list[tuple[Any, ...]] = []
        node_rows: list[tuple[int, int, bytes]] = []
        evidence = self._evidence
        for n in self._records:
            seq, version, topic = int(n.id), int(n.originator_version), n.topic
            sid = stream_id_text(n.originator_id)
            sha = record_sha256(bytes(n.state))
            h = merkle.leaf_hash(leaf_bytes(seq, sid, version, topic, sha))
            evidence_id, evidence_sha = evidence.get(seq, (None, None))
            leaf_rows.append((frontier.size, seq, sid, version, topic, sha, h.hex(), evidence_id,
                              evidence_sha))
            # the first node an append creates is the leaf's own hash (level 0): the leaf row
            # holds it, so the nodes table keeps only complete subtrees of two leaves or more
            node_rows.extend((level, idx, nh) for (level, idx), nh in frontier.append(h)[1:])
        insert_tuples(conn, leaves, _LEAF_COLUMNS, leaf_rows)  # PostgreSQL: one COPY per table
        insert_tuples(conn, nodes, ("level", "idx", "hash"), node_rows)
        conn.execute(head.update().where(head.c.id == 1).values(
            size=frontier.size, last_seq=self._records[-1].id))
        if self._scopes:
            known: set[str] = set()
            for chunk in batches(conn, list(self._scopes)):
                known.update(conn.execute(sa.select(scopes.c.stream_id).where(
                    in_values(conn, scopes.c.stream_id, chunk))).scalars())
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

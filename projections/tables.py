"""The views' tables. One metadata, so `create_all` sets up every view and the tracking table."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()


def region_within(column: sa.ColumnElement[str], prefix: str) -> sa.ColumnElement[bool]:
    """Whole-segment prefix match: `32.16` matches `32.16` and `32.16.01`, never `32.160`;
    the empty prefix (national) matches everything."""
    if prefix == "":
        return sa.true()
    return sa.or_(column == prefix, column.like(prefix + ".%"))


def write_rows(conn: sa.Connection, table: sa.Table, key: sa.Column,
               new: dict[str, dict[str, Any]], changed: dict[str, dict[str, Any]]) -> None:
    """A view page's writes in bulk: `new` rows inserted in one statement, `changed` rows
    ({key value: {column: value}}) updated with one executemany per set of changed columns."""
    if new:
        conn.execute(table.insert(), list(new.values()))
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for k, values in changed.items():
        by_columns.setdefault(tuple(sorted(values)), []).append({"_key": k, **values})
    for columns, rows in by_columns.items():
        conn.execute(table.update().where(key == sa.bindparam("_key"))
                     .values({c: sa.bindparam(c) for c in columns}), rows)

tracking = sa.Table(
    "view_tracking", metadata,
    sa.Column("view", sa.String(64), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
)

partnership_list = sa.Table(
    "view_partnership_list", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("created_seq", sa.BigInteger, nullable=False, unique=True),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("large_nib", sa.String(13), nullable=False, index=True),
    sa.Column("umkm_nib", sa.String(13), nullable=False, index=True),
    sa.Column("pola", sa.String(40), nullable=False),
    sa.Column("program", sa.String(100)),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("end_date", sa.Date),
    sa.Column("value_idr", sa.BigInteger),
    sa.Column("location_region_code", sa.String(13), nullable=False),
    sa.Column("large_region_code", sa.String(13), nullable=False),
    sa.Column("umkm_region_code", sa.String(13), nullable=False),
    sa.Column("external_ref", sa.String(200)),
)

evidence_index = sa.Table(
    "view_evidence_index", metadata,
    sa.Column("evidence_id", sa.String(36), primary_key=True),
    sa.Column("partnership_id", sa.String(36), nullable=False, index=True),
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    sa.Column("media_type", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("review", sa.String(20)),
)

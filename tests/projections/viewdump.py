"""Helpers for comparing views: a canonical dump of every view table, and a fresh store."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from projections.tables import metadata, tracking


def _surrogate(table: sa.Table, column: sa.Column) -> bool:
    """An autoincrement integer key: differs between two builds of the same rows."""
    return (column.primary_key and len(table.primary_key.columns) == 1
            and isinstance(column.type, sa.Integer) and column.autoincrement in (True, "auto"))


def dump(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every view table, in a canonical order, without surrogate keys."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table is tracking or table.info.get("bookkeeping"):
                continue  # positions, which differ between builds of the same rows
            columns = [c for c in table.columns if not _surrogate(table, c)]
            rows = conn.execute(sa.select(*columns)).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out

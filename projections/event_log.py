"""Where each stored event sits in the global log (its `seq`), read straight from the store.

The library's event store returns a stream's events without their notification ids; auditors
and clients need the `seq` of each, so we read it from the recorder's own table (the library's
documented schema: `rowid` on SQLite, `notification_id` on PostgreSQL), by primary key.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import sqlalchemy as sa


class EventLog:
    def __init__(self, engine: sa.Engine, kind: str, recorder: Any) -> None:
        self.engine = engine
        self.kind = kind
        self.recorder = recorder
        table = recorder.events_table_name
        seq = "rowid" if kind == "sqlite" else "notification_id"
        self._sql = sa.text(f"SELECT originator_version, {seq} FROM {table} "
                            "WHERE originator_id = :id")
        self._head = sa.text(f"SELECT max({seq}) FROM {table}")

    def _key(self, agg_id: UUID) -> Any:
        return agg_id.hex if self.kind == "sqlite" else agg_id

    def positions(self, agg_id: UUID) -> dict[int, int]:
        """{version: seq} for every event of one stream."""
        with self.engine.connect() as conn:
            rows = conn.execute(self._sql, {"id": self._key(agg_id)}).all()
        return {int(version): int(seq) for version, seq in rows}

    def position_of(self, agg_id: UUID, version: int) -> int:
        return self.positions(agg_id)[version]

    def head(self) -> int:
        """The position of the last recorded event (0 for an empty log), read through the
        views' engine: the library's pool queues every request, readers included, behind a
        writer waiting for its one writer connection, and `GET /v1/health` must answer while
        a command waits for a lock held elsewhere (a rebuild, an import); nor the runner."""
        with self.engine.connect() as conn:
            return int(conn.execute(self._head).scalar() or 0)

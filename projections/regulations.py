"""View: which regulations exist, their region and latest version, for `GET /v1/regulations`."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking

from domain.regulation import Regulation
from projections.runtime import View
from projections.tables import metadata, write_rows

regulation_list = sa.Table(
    "view_regulation_list", metadata,
    sa.Column("stream_id", sa.String(36), primary_key=True),
    sa.Column("id", sa.String(100), nullable=False, unique=True),
    sa.Column("region_code", sa.String(13), nullable=False, index=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("instrument", sa.String(40), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("effective_from", sa.String(10), nullable=False),
    sa.Column("revoked_on", sa.String(10)),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
)


class RegulationsView(View):
    name = "regulations"
    tables = (regulation_list,)
    read_indexes = ("ix_view_regulation_list_region_code",)

    def __init__(self, view: Any) -> None:
        super().__init__(view)
        self._new: dict[str, dict[str, Any]] = {}
        self._changed: dict[str, dict[str, Any]] = {}

    @singledispatchmethod
    def process_event(self, e: Any, tracking: Tracking) -> None:
        pass

    @process_event.register(Regulation.Event)
    def _event(self, e: Regulation.Event, tracking: Tracking) -> None:
        rid = str(e.originator_id)
        values: dict[str, Any] = {"version": e.originator_version,
                                  "last_seq": tracking.notification_id}
        if isinstance(e, (Regulation.Enacted, Regulation.Amended)):
            p = e.pack
            values.update(id=p["id"], region_code=p["region_code"], title=p["title"],
                          instrument=p["instrument"], effective_from=p["effective_from"])
        if isinstance(e, Regulation.Revoked):
            values["revoked_on"] = e.effective_date
        if isinstance(e, Regulation.Enacted):
            self._new[rid] = {"stream_id": rid, "revoked_on": None, **values}
        else:
            (self._new.get(rid) or self._changed.setdefault(rid, {})).update(values)

    def flush(self) -> None:
        t = regulation_list
        try:
            write_rows(self.conn, t, t.c.stream_id, self._new, self._changed)
        finally:
            self._new.clear()
            self._changed.clear()


def query(conn: sa.Connection, region: str | None) -> list[dict[str, Any]]:
    """Regulations touching `region`: inside the prefix, or a parent of it (national = "")."""
    t = regulation_list
    q = sa.select(t).order_by(t.c.region_code, t.c.id)
    if region is not None:
        parents = [""] + [".".join(region.split(".")[:i + 1])
                          for i in range(len(region.split(".")))] if region else []
        q = q.where(sa.or_(t.c.region_code.in_(parents) if parents else sa.false(),
                           t.c.region_code.like(region + ".%") if region else sa.true(),
                           t.c.region_code == region))
    return [dict(r._mapping) for r in conn.execute(q)]

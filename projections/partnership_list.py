"""View: which partnerships exist, with what status, for the list endpoint and its filters."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from domain.partnership import Partnership
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking

from projections.runtime import View
from projections import tables
from projections.tables import partnership_list, write_rows

_STATUS_BY_EVENT = {
    Partnership.Confirmed: "active", Partnership.Declined: "declined",
    Partnership.Withdrawn: "withdrawn", Partnership.Suspended: "suspended",
    Partnership.Resumed: "active", Partnership.Terminated: "terminated",
}


class PartnershipListView(View):
    """Which partnerships exist, with what status: the list endpoint and its filters.

    Handlers only collect the page's changes in memory; `flush()` writes them in bulk."""

    name = "partnership_list"
    tables = (partnership_list,)
    read_indexes = ("ix_view_partnership_list_large_nib", "ix_view_partnership_list_umkm_nib")

    def __init__(self, view: Any) -> None:
        super().__init__(view)
        self._new: dict[str, dict[str, Any]] = {}
        self._changed: dict[str, dict[str, Any]] = {}

    @singledispatchmethod
    def process_event(self, e: Any, tracking: Tracking) -> None:
        pass

    @process_event.register(Partnership.Proposed)
    def _proposed(self, e: Partnership.Proposed, tracking: Tracking) -> None:
        self._new[str(e.originator_id)] = dict(
            id=str(e.originator_id), created_seq=tracking.notification_id,
            last_seq=tracking.notification_id, version=e.originator_version,
            large_nib=e.large_nib, umkm_nib=e.umkm_nib, pola=e.pola, program=e.program,
            title=e.title, status="proposed", start_date=date.fromisoformat(e.start_date),
            end_date=date.fromisoformat(e.end_date) if e.end_date else None,
            value_idr=e.value_idr, location_region_code=e.location_region_code,
            large_region_code=e.large_region_code, umkm_region_code=e.umkm_region_code,
            external_ref=e.external_ref)

    @process_event.register(Partnership.Event)
    def _changed_event(self, e: Partnership.Event, tracking: Tracking) -> None:
        pid = str(e.originator_id)
        row = self._new.get(pid)
        if row is None:
            row = self._changed.setdefault(pid, {})
        row["last_seq"] = tracking.notification_id
        row["version"] = e.originator_version
        status = _STATUS_BY_EVENT.get(type(e))
        if status is not None:
            row["status"] = status
        elif isinstance(e, Partnership.Amended):
            for k, val in e.changes.items():
                if k in partnership_list.c:  # the list keeps no description
                    row[k] = date.fromisoformat(val) if (k == "end_date" and val) else val

    def flush(self) -> None:
        t = partnership_list
        try:
            write_rows(self.conn, t, t.c.id, self._new, self._changed)
        finally:
            self._new.clear()
            self._changed.clear()


def touches_region(prefix: str) -> sa.ColumnElement[bool]:
    return tables.touches_region(partnership_list, prefix)


def in_scope(scope: dict[str, Any]) -> list[sa.ColumnElement[bool]]:
    """The conditions on `partnership_list` rows for a caller's scope
    (`domain.access.partnership_scope_filter`): what every read of the view applies."""
    return tables.scope_conditions(scope, partnership_list)


def query(conn: sa.Connection, *, scope: dict[str, Any], today: date, limit: int,
          after_seq: int | None = None, region: str | None = None, pola: str | None = None,
          program: str | None = None, status: str | None = None,
          large_nib: str | None = None, umkm_nib: str | None = None,
          real_between: tuple[date, date] | None = None) -> tuple[list[Any], int | None]:
    """One page of partnerships in the caller's scope; returns (rows, next cursor seq).
    `real_between`: only those real in that period (the real_partnerships view)."""
    t = partnership_list
    q = sa.select(t)
    if real_between is not None:
        from projections.real_partnerships import real_ids
        q = q.where(t.c.id.in_(real_ids(*real_between)))
    q = q.where(*in_scope(scope))
    if region is not None:
        q = q.where(touches_region(region))
    for column, value in ((t.c.pola, pola), (t.c.program, program),
                          (t.c.large_nib, large_nib), (t.c.umkm_nib, umkm_nib)):
        if value is not None:
            q = q.where(column == value)
    running = t.c.status.in_(["proposed", "active", "suspended"])
    past_end = sa.and_(t.c.end_date.is_not(None), t.c.end_date < today)
    if status == "expired":
        q = q.where(running, past_end)
    elif status is not None:
        q = q.where(t.c.status == status)
        if status in ("proposed", "active", "suspended"):
            q = q.where(sa.not_(past_end))
    if after_seq is not None:
        q = q.where(t.c.created_seq > after_seq)
    rows = conn.execute(q.order_by(t.c.created_seq).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].created_seq if more else None)

"""View: naik kelas — the upward moves in each business's dated scale history, by effective
date and region.

Three tables: each business's region (from `Business.Registered`); its scale entries (the
registered scale, the baseline before any change whatever the registration's date, and every
`Business.ScaleChanged` by effective date: `domain.business.ordered_scales`); and the moves
between consecutive entries of that history, recomputed for a business whenever a change is
recorded for it. A change recorded late but dated early takes its place in the history: until
2026-12-05 each change was counted with the `from_scale` it was recorded with, so back-dated
changes counted twice (mikro→besar recorded for 2022-06-01, then for 2022-01-01: two naik
kelas) or hid a downgrade. The new table makes existing stores rebuild the view on start.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking

from domain.business import Business
from projections.runtime import View
from projections.tables import batches, in_values, insert_rows, metadata, region_within

SCALES = ("mikro", "kecil", "menengah", "besar")
# Every move up the order (naik kelas), in a fixed order: (from_scale, to_scale).
UPWARD_PAIRS = tuple((a, b) for i, a in enumerate(SCALES) for b in SCALES[i + 1:])

businesses = sa.Table(
    "view_scale_business", metadata,
    sa.Column("business_id", sa.String(36), primary_key=True),
    sa.Column("nib", sa.String(13), nullable=False),
    sa.Column("region_code", sa.String(13), nullable=False, index=True),
)

entries = sa.Table(
    "view_scale_entry", metadata,
    sa.Column("business_id", sa.String(36), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),  # ties on a date: the later one wins
    sa.Column("effective_date", sa.Date, nullable=False),
    sa.Column("scale", sa.String(10), nullable=False),
    sa.Column("registered", sa.Boolean, nullable=False),
)

changes = sa.Table(
    "view_scale_change", metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("business_id", sa.String(36), nullable=False, index=True),
    sa.Column("from_scale", sa.String(10), nullable=False),
    sa.Column("to_scale", sa.String(10), nullable=False),
    sa.Column("effective_date", sa.Date, nullable=False, index=True),
)


class ScaleUpgradesView(View):
    name = "scale_upgrades"
    tables = (businesses, entries, changes)
    read_indexes = ("ix_view_scale_business_region_code", "ix_view_scale_change_effective_date")

    def __init__(self, view: Any) -> None:
        super().__init__(view)
        self._businesses: list[dict[str, Any]] = []
        self._entries: list[dict[str, Any]] = []
        self._changed: set[str] = set()  # businesses whose moves are recomputed

    @singledispatchmethod
    def process_event(self, e: Any, tracking: Tracking) -> None:
        pass

    @process_event.register(Business.Registered)
    def _registered(self, e: Business.Registered, tracking: Tracking) -> None:
        self._businesses.append({"business_id": str(e.originator_id), "nib": e.nib,
                                 "region_code": e.region_code})
        self._entries.append({"business_id": str(e.originator_id),
                              "seq": tracking.notification_id,
                              "effective_date": date.fromisoformat(e.effective_date),
                              "scale": e.scale, "registered": True})

    @process_event.register(Business.ScaleChanged)
    def _scale_changed(self, e: Business.ScaleChanged, tracking: Tracking) -> None:
        self._entries.append({"business_id": str(e.originator_id),
                              "seq": tracking.notification_id,
                              "effective_date": date.fromisoformat(e.effective_date),
                              "scale": e.to_scale, "registered": False})
        self._changed.add(str(e.originator_id))

    def flush(self) -> None:
        try:
            if self._businesses:
                insert_rows(self.conn, businesses, self._businesses)
            if self._entries:
                insert_rows(self.conn, entries, self._entries)
            if self._changed:
                self._write_moves(sorted(self._changed))
        finally:
            self._businesses = []
            self._entries = []
            self._changed = set()

    def _write_moves(self, ids: list[str]) -> None:
        """The moves of these businesses' histories, replacing the ones stored."""
        history: dict[str, list[Any]] = {}
        conn = self.conn
        for chunk in batches(conn, ids):
            for r in conn.execute(sa.select(entries)
                                  .where(in_values(conn, entries.c.business_id, chunk))
                                  .order_by(entries.c.business_id, entries.c.seq)):
                history.setdefault(r.business_id, []).append(r)
            conn.execute(changes.delete().where(in_values(conn, changes.c.business_id, chunk)))
        rows = []
        for bid, found in history.items():
            registered = [r for r in found if r.registered]
            later = sorted((r for r in found if not r.registered),
                           key=lambda r: (r.effective_date, r.seq))
            current = registered[0].scale if registered else None
            for r in later:
                if current is not None and r.scale != current:
                    rows.append({"seq": r.seq, "business_id": bid, "from_scale": current,
                                 "to_scale": r.scale, "effective_date": r.effective_date})
                current = r.scale
        if rows:
            insert_rows(self.conn, changes, rows)


def counts(conn: sa.Connection, region: str, date_from: date,
           date_to: date) -> list[dict[str, Any]]:
    """Naik kelas counts by (from_scale, to_scale) for businesses registered in `region` (a
    prefix, "" = national), by effective date in [date_from, date_to]; every upward pair is
    present, with 0 when there was none, in the order of `UPWARD_PAIRS`."""
    c, b = changes, businesses
    q = (sa.select(c.c.from_scale, c.c.to_scale, sa.func.count().label("n"))
         .select_from(c.join(b, b.c.business_id == c.c.business_id))
         .where(c.c.effective_date >= date_from, c.c.effective_date <= date_to,
                region_within(b.c.region_code, region))
         .group_by(c.c.from_scale, c.c.to_scale))
    found = {(r.from_scale, r.to_scale): int(r.n) for r in conn.execute(q)}
    return [{"from_scale": a, "to_scale": z, "count": found.get((a, z), 0)}
            for a, z in UPWARD_PAIRS]

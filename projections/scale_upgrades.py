"""View: scale changes of businesses by effective date and region, for naik kelas counts.

Two tables: each business's region (from `Business.Registered`) and each recorded scale change
(`Business.ScaleChanged`, as it was recorded: its `from_scale` is the scale in force on its
effective date when the change was recorded). They are joined at query time, so folding never
reads: handlers collect rows in memory and `flush()` inserts them in bulk.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking

from domain.business import Business
from projections.runtime import View
from projections.tables import insert_rows, metadata, region_within

SCALES = ("mikro", "kecil", "menengah", "besar")
# Every move up the order (naik kelas), in a fixed order: (from_scale, to_scale).
UPWARD_PAIRS = tuple((a, b) for i, a in enumerate(SCALES) for b in SCALES[i + 1:])

businesses = sa.Table(
    "view_scale_business", metadata,
    sa.Column("business_id", sa.String(36), primary_key=True),
    sa.Column("nib", sa.String(13), nullable=False),
    sa.Column("region_code", sa.String(13), nullable=False, index=True),
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
    tables = (businesses, changes)
    read_indexes = ("ix_view_scale_business_region_code", "ix_view_scale_change_business_id",
                    "ix_view_scale_change_effective_date")

    def __init__(self, view: Any) -> None:
        super().__init__(view)
        self._businesses: list[dict[str, Any]] = []
        self._changes: list[dict[str, Any]] = []

    @singledispatchmethod
    def process_event(self, e: Any, tracking: Tracking) -> None:
        pass

    @process_event.register(Business.Registered)
    def _registered(self, e: Business.Registered, tracking: Tracking) -> None:
        self._businesses.append({"business_id": str(e.originator_id), "nib": e.nib,
                                 "region_code": e.region_code})

    @process_event.register(Business.ScaleChanged)
    def _scale_changed(self, e: Business.ScaleChanged, tracking: Tracking) -> None:
        self._changes.append({"seq": tracking.notification_id,
                              "business_id": str(e.originator_id), "from_scale": e.from_scale,
                              "to_scale": e.to_scale,
                              "effective_date": date.fromisoformat(e.effective_date)})

    def flush(self) -> None:
        try:
            if self._businesses:
                insert_rows(self.conn, businesses, self._businesses)
            if self._changes:
                insert_rows(self.conn, changes, self._changes)
        finally:
            self._businesses = []
            self._changes = []


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

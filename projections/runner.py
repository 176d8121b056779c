"""Catch-up of the views from the global event log.

Each page of notifications is folded into the views and the tracking position is advanced in
the *same* SQL transaction, so a crash mid-page neither loses nor double-counts an event.
Readers call `catch_up()` before they read (read-your-writes in one process). The full runner
on `eventsourcing.projection`, woken by LISTEN/NOTIFY on PostgreSQL, is the read side's issue.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

import sqlalchemy as sa

from projections.tables import metadata, tracking


class View(Protocol):
    name: str

    def process(self, conn: sa.Connection, event: Any, seq: int) -> None: ...


class ViewRunner:
    PAGE = 500

    def __init__(self, ledger: Any, engine: sa.Engine, views: list[View] | None = None) -> None:
        from projections.partnership_list import PartnershipListView

        self.ledger = ledger
        self.engine = engine
        self.views: list[View] = views or [PartnershipListView()]
        self._lock = threading.Lock()

    def setup(self) -> None:
        metadata.create_all(self.engine)
        with self.engine.begin() as conn:
            known = set(conn.execute(sa.select(tracking.c.view)).scalars())
            for view in self.views:
                if view.name not in known:
                    conn.execute(tracking.insert().values(view=view.name, position=0))

    def position(self, conn: sa.Connection | None = None) -> int:
        if conn is None:
            with self.engine.connect() as c:
                return self.position(c)
        rows = conn.execute(sa.select(tracking.c.view, tracking.c.position)).all()
        known = {r.view: r.position for r in rows}
        return min((known.get(v.name, 0) for v in self.views), default=0)

    def catch_up(self) -> int:
        """Fold every event recorded so far into the views; returns the position reached.

        Safe with several processes on one database: each page first moves the tracking rows
        from the position it read to the page's end, conditionally, which also takes the write
        lock; a process that lost that race rolls back and reads the position again.
        """
        with self._lock:
            while True:
                with self.engine.connect() as conn:
                    with conn.begin() as tx:
                        start = self.position(conn)
                        page = self.ledger.recorder.select_notifications(
                            start=start, limit=self.PAGE, inclusive_of_start=False)
                        if not page:
                            return start
                        if not self._claim(conn, start, page[-1].id):
                            tx.rollback()
                            continue
                        for notification in page:
                            event = self.ledger.mapper.to_domain_event(notification)
                            for view in self.views:
                                view.process(conn, event, notification.id)

    def _claim(self, conn: sa.Connection, start: int, end: int) -> bool:
        for view in self.views:
            moved = conn.execute(tracking.update()
                                 .where(tracking.c.view == view.name,
                                        tracking.c.position == start)
                                 .values(position=end)).rowcount
            if moved != 1:
                return False
        return True

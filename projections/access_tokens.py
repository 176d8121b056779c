"""View: which access tokens exist, for whom, and which are revoked (token management).

One row per issued token (never its secret: the ledger keeps only the hash, and the id derived
from it), in the order tokens were issued; a revocation stamps its row. Handlers collect the
page in memory and `flush()` writes it in bulk, like every view.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking

from domain.access_token import AccessToken
from projections.runtime import View
from projections.tables import insert_rows, metadata, stored_instant, update_rows

access_tokens = sa.Table(
    "view_access_token", metadata,
    sa.Column("token_id", sa.String(36), primary_key=True),
    sa.Column("issued_seq", sa.BigInteger, nullable=False, unique=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("region", sa.String(13)),
    sa.Column("nibs", sa.Text, nullable=False),  # a JSON list
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("issued_by", sa.String(64), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
    sa.Column("revoked_by", sa.String(64)),
)


class AccessTokensView(View):
    name = "access_tokens"
    tables = (access_tokens,)

    def __init__(self, view: Any) -> None:
        super().__init__(view)
        self._new: dict[str, dict[str, Any]] = {}
        self._revoked: dict[str, dict[str, Any]] = {}

    @singledispatchmethod
    def process_event(self, e: Any, tracking: Tracking) -> None:
        pass

    @process_event.register(AccessToken.Issued)
    def _issued(self, e: AccessToken.Issued, tracking: Tracking) -> None:
        self._new[str(e.originator_id)] = dict(
            token_id=str(e.originator_id), issued_seq=tracking.notification_id, role=e.role,
            region=e.region, nibs=json.dumps(list(e.nibs)), name=e.name,
            issued_at=e.timestamp, issued_by=e.actor_id, revoked_at=None, revoked_by=None)

    @process_event.register(AccessToken.Revoked)
    def _revoked_event(self, e: AccessToken.Revoked, tracking: Tracking) -> None:
        stamp = {"revoked_at": e.timestamp, "revoked_by": e.actor_id}
        if str(e.originator_id) in self._new:
            self._new[str(e.originator_id)].update(stamp)
        else:
            self._revoked[str(e.originator_id)] = {"token_id": str(e.originator_id), **stamp}

    def flush(self) -> None:
        try:
            if self._new:
                insert_rows(self.conn, access_tokens, list(self._new.values()))
            if self._revoked:
                update_rows(self.conn, access_tokens, ["token_id"], list(self._revoked.values()))
        finally:
            self._new.clear()
            self._revoked.clear()


def query(conn: sa.Connection, *, after_seq: int = 0, limit: int = 100,
          include_revoked: bool = False, role: str | None = None) -> list[dict[str, Any]]:
    """Tokens in the order they were issued, after `after_seq` (the cursor), at most `limit`."""
    t = access_tokens
    q = sa.select(t).where(t.c.issued_seq > after_seq).order_by(t.c.issued_seq).limit(limit)
    if not include_revoked:
        q = q.where(t.c.revoked_at.is_(None))
    if role is not None:
        q = q.where(t.c.role == role)
    return [_read(r._mapping) for r in conn.execute(q)]


def _read(row: Any) -> dict[str, Any]:
    def instant(value: datetime | None) -> datetime | None:
        return stored_instant(value) if value is not None else None

    return {"id": row["token_id"], "seq": row["issued_seq"], "role": row["role"],
            "region": row["region"], "nibs": json.loads(row["nibs"]), "name": row["name"],
            "issued_at": instant(row["issued_at"]), "issued_by": row["issued_by"],
            "revoked_at": instant(row["revoked_at"]), "revoked_by": row["revoked_by"]}


def every(conn: sa.Connection, *, include_revoked: bool = False,
          role: str | None = None) -> list[dict[str, Any]]:
    """All of them, in the order they were issued (a few hundred at most: one per holder)."""
    rows: list[dict[str, Any]] = []
    while page := query(conn, after_seq=rows[-1]["seq"] if rows else 0, limit=1000,
                        include_revoked=include_revoked, role=role):
        rows += page
    return rows

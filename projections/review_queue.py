"""Query: the evidence waiting for a dinas review, in the caller's scope (the web queue).

It reads two existing views (`evidence_index` and `partnership_list`); it keeps no table of its
own. Oldest submissions first, so the queue is worked in order; paged by the submission's log
position, so a file reviewed or submitted meanwhile moves no other file to another page.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from projections.partnership_list import in_scope
from projections.tables import evidence_index, partnership_list, stored_instant


def _waiting(columns: list[Any], scope: dict[str, Any], *, join: bool = True) -> sa.Select[Any]:
    e, p = evidence_index, partnership_list
    q = sa.select(*columns).where(e.c.review.is_(None))
    where = in_scope(scope)
    if join or where:
        q = q.select_from(e.join(p, p.c.id == e.c.partnership_id)).where(*where)
    return q


def pending(conn: sa.Connection, *, scope: dict[str, Any], limit: int = 50,
            after_seq: int | None = None) -> tuple[list[dict[str, Any]], int | None]:
    """One page of waiting files, oldest submission first, after the file at `after_seq`;
    returns (rows, the next page's `after_seq` or None on the last page)."""
    e, p = evidence_index, partnership_list
    q = _waiting([e.c.evidence_id, e.c.kind, e.c.media_type, e.c.sha256, e.c.seq,
                  e.c.submitted_at, e.c.period_start, e.c.period_end,
                  p.c.id.label("partnership_id"), p.c.title, p.c.large_nib, p.c.umkm_nib,
                  p.c.location_region_code, p.c.status], scope)
    if after_seq is not None:
        q = q.where(e.c.seq > after_seq)
    rows = conn.execute(q.order_by(e.c.seq).limit(limit + 1)).mappings().all()
    more = len(rows) > limit
    page = [{**r, "submitted_at": stored_instant(r["submitted_at"])} for r in rows[:limit]]
    return page, (page[-1]["seq"] if more else None)


def count(conn: sa.Connection, *, scope: dict[str, Any], cap: int) -> int:
    """How many files wait in the caller's scope, counted up to `cap + 1` (a queue longer than
    `cap` is "more than cap", and counting it costs no more than `cap` rows)."""
    e = evidence_index
    first = _waiting([e.c.evidence_id], scope, join=False).limit(cap + 1).subquery()
    return int(conn.execute(sa.select(sa.func.count()).select_from(first)).scalar_one())

"""Query: the evidence waiting for a dinas review, in the caller's scope (the web queue).

It reads two existing views (`evidence_index` and `partnership_list`); it keeps no table of its
own. Oldest submissions first, so the queue is worked in order.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from projections.partnership_list import touches_region
from projections.tables import evidence_index, partnership_list


def pending(conn: sa.Connection, *, scope: dict[str, Any], limit: int = 200) -> list[Any]:
    e, p = evidence_index, partnership_list
    q = (sa.select(e.c.evidence_id, e.c.kind, e.c.media_type, e.c.sha256,
                   p.c.id.label("partnership_id"), p.c.title, p.c.large_nib, p.c.umkm_nib,
                   p.c.location_region_code, p.c.status)
         .select_from(e.join(p, p.c.id == e.c.partnership_id))
         .where(e.c.review.is_(None)))
    if scope.get("touches_region") is not None:
        q = q.where(touches_region(scope["touches_region"]))
    if "large_nibs" in scope:
        q = q.where(p.c.large_nib.in_(scope["large_nibs"]))
    if "umkm_nibs" in scope:
        q = q.where(p.c.umkm_nib.in_(scope["umkm_nibs"]))
    return list(conn.execute(q.order_by(p.c.created_seq, e.c.evidence_id).limit(limit)))

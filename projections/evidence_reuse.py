"""View: evidence files (by sha256) and the partnerships they were submitted for, to find files
used as evidence for more than one partnership (the classic sign of staged evidence).

Two tables: each partnership's parties, regions and title (`Partnership.Proposed`, titles kept
current from `Partnership.Amended`) and each evidence submission (`Partnership.EvidenceSubmitted`:
sha256, kind, submitter, the instant it was recorded and its effective date). Folding never
reads: handlers collect rows in memory and `flush()` writes them in bulk.
"""

from __future__ import annotations

from datetime import date, timezone
from typing import Any

import sqlalchemy as sa
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking

from domain.partnership import Partnership
from projections.runtime import View
from projections.tables import (
    insert_rows, metadata, region_within, stored_instant, update_rows,
)

partnerships = sa.Table(
    "view_reuse_partnership", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("large_nib", sa.String(13), nullable=False),
    sa.Column("umkm_nib", sa.String(13), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("large_region_code", sa.String(13), nullable=False),
    sa.Column("umkm_region_code", sa.String(13), nullable=False),
    sa.Column("location_region_code", sa.String(13), nullable=False),
)

submissions = sa.Table(
    "view_reuse_evidence", metadata,
    sa.Column("evidence_id", sa.String(36), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    sa.Column("partnership_id", sa.String(36), nullable=False, index=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("submitter_id", sa.String(100), nullable=False),
    sa.Column("submitter_role", sa.String(20), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("effective_date", sa.Date, nullable=False),
)


class EvidenceReuseView(View):
    name = "evidence_reuse"
    tables = (partnerships, submissions)
    read_indexes = ("ix_view_reuse_evidence_partnership_id", "ix_view_reuse_evidence_sha256")

    def __init__(self, view: Any) -> None:
        super().__init__(view)
        self._new: dict[str, dict[str, Any]] = {}
        self._titles: dict[str, str] = {}
        self._submissions: list[dict[str, Any]] = []

    @singledispatchmethod
    def process_event(self, e: Any, tracking: Tracking) -> None:
        pass

    @process_event.register(Partnership.Proposed)
    def _proposed(self, e: Partnership.Proposed, tracking: Tracking) -> None:
        self._new[str(e.originator_id)] = dict(
            id=str(e.originator_id), large_nib=e.large_nib, umkm_nib=e.umkm_nib, title=e.title,
            large_region_code=e.large_region_code, umkm_region_code=e.umkm_region_code,
            location_region_code=e.location_region_code)

    @process_event.register(Partnership.Amended)
    def _amended(self, e: Partnership.Amended, tracking: Tracking) -> None:
        title = e.changes.get("title")
        if title is None:
            return
        pid = str(e.originator_id)
        if pid in self._new:
            self._new[pid]["title"] = title
        else:
            self._titles[pid] = title

    @process_event.register(Partnership.EvidenceSubmitted)
    def _submitted(self, e: Partnership.EvidenceSubmitted, tracking: Tracking) -> None:
        self._submissions.append(dict(
            evidence_id=e.evidence_id, seq=tracking.notification_id, sha256=e.sha256,
            partnership_id=str(e.originator_id), kind=e.kind, submitter_id=e.actor_id,
            submitter_role=e.actor_role, recorded_at=e.timestamp.astimezone(timezone.utc),
            effective_date=date.fromisoformat(e.effective_date)))

    def flush(self) -> None:
        p = partnerships
        try:
            if self._new:
                insert_rows(self.conn, p, list(self._new.values()))
            if self._titles:
                update_rows(self.conn, p, ["id"],
                            [{"id": k, "title": v} for k, v in self._titles.items()])
            if self._submissions:
                insert_rows(self.conn, submissions, self._submissions)
        finally:
            self._new = {}
            self._titles = {}
            self._submissions = []


def touches_region(prefix: str) -> sa.ColumnElement[bool]:
    """A partnership touches a region when either party or its location lies in it."""
    if prefix == "":
        return sa.true()
    p = partnerships
    return sa.or_(*(region_within(c, prefix) for c in
                    (p.c.large_region_code, p.c.umkm_region_code, p.c.location_region_code)))


def reused(conn: sa.Connection, *, region: str, limit: int,
           after_sha256: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """Files used as evidence for at least two distinct partnerships touching `region` (a
    prefix, "" = national), by sha256, one page of `limit` files after `after_sha256`.

    Only partnerships in the region, and submissions to them, are shown or counted. Returns
    (files, the sha256 to continue after, or None on the last page); each file is
    `{sha256, partnership_count, submission_count, partnerships: [...], submissions: [...]}`."""
    s, p = submissions, partnerships
    in_scope = s.join(p, p.c.id == s.c.partnership_id)
    q = (sa.select(s.c.sha256).select_from(in_scope).where(touches_region(region))
         .group_by(s.c.sha256)
         .having(sa.func.count(sa.distinct(s.c.partnership_id)) >= 2))
    if after_sha256 is not None:
        q = q.where(s.c.sha256 > after_sha256)
    shas = list(conn.execute(q.order_by(s.c.sha256).limit(limit + 1)).scalars())
    more = len(shas) > limit
    shas = shas[:limit]
    if not shas:
        return [], None
    rows = conn.execute(
        sa.select(s.c.sha256, s.c.evidence_id, s.c.kind, s.c.submitter_id, s.c.submitter_role,
                  s.c.recorded_at, s.c.effective_date, s.c.partnership_id, p.c.large_nib,
                  p.c.umkm_nib, p.c.title)
        .select_from(in_scope)
        .where(s.c.sha256.in_(shas), touches_region(region))
        .order_by(s.c.sha256, s.c.seq)).all()
    files: dict[str, dict[str, Any]] = {
        sha: {"sha256": sha, "partnerships": {}, "submissions": []} for sha in shas}
    for r in rows:
        f = files[r.sha256]
        f["partnerships"].setdefault(r.partnership_id, {
            "id": r.partnership_id, "large_nib": r.large_nib, "umkm_nib": r.umkm_nib,
            "title": r.title})
        f["submissions"].append({
            "evidence_id": r.evidence_id, "partnership_id": r.partnership_id, "kind": r.kind,
            "submitted_by": r.submitter_id, "submitter_role": r.submitter_role,
            "submitted_at": stored_instant(r.recorded_at), "effective_date": r.effective_date})
    out = []
    for f in files.values():
        plist = list(f["partnerships"].values())
        out.append({"sha256": f["sha256"], "partnership_count": len(plist),
                    "submission_count": len(f["submissions"]), "partnerships": plist,
                    "submissions": f["submissions"]})
    return out, (shas[-1] if more else None)

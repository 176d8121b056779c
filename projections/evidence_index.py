"""View: which partnership each evidence file belongs to, and its review (download checks),
with when it was submitted and the period it covers (the review queue)."""

from __future__ import annotations

from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking

from domain.base import opt_date
from domain.partnership import Partnership
from projections.runtime import View
from projections.tables import evidence_index, insert_rows, update_rows


class EvidenceIndexView(View):
    name = "evidence_index"
    tables = (evidence_index,)
    # (not the index on partnership_id: `real_partnerships` reads a page's partnerships' evidence
    # by it while folding, in a rebuild too)
    read_indexes = ("ix_view_evidence_index_waiting",)

    def __init__(self, view: Any) -> None:
        super().__init__(view)
        self._new: dict[str, dict[str, Any]] = {}
        self._reviews: dict[str, str] = {}

    @singledispatchmethod
    def process_event(self, e: Any, tracking: Tracking) -> None:
        pass

    @process_event.register(Partnership.EvidenceSubmitted)
    def _submitted(self, e: Partnership.EvidenceSubmitted, tracking: Tracking) -> None:
        self._new[e.evidence_id] = dict(
            evidence_id=e.evidence_id, partnership_id=str(e.originator_id), sha256=e.sha256,
            media_type=e.media_type, kind=e.kind, review=None, seq=tracking.notification_id,
            submitted_at=e.timestamp, period_start=opt_date(e.period_start),
            period_end=opt_date(e.period_end))

    @process_event.register(Partnership.EvidenceReviewed)
    def _reviewed(self, e: Partnership.EvidenceReviewed, tracking: Tracking) -> None:
        if e.evidence_id in self._new:
            self._new[e.evidence_id]["review"] = e.decision
        else:
            self._reviews[e.evidence_id] = e.decision

    def flush(self) -> None:
        t = evidence_index
        try:
            if self._new:
                insert_rows(self.conn, t, list(self._new.values()))
            if self._reviews:
                update_rows(self.conn, t, ["evidence_id"],
                            [{"evidence_id": k, "review": v} for k, v in self._reviews.items()])
        finally:
            self._new.clear()
            self._reviews.clear()

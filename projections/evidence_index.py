"""View: which partnership each evidence file belongs to, and its review (download checks)."""

from __future__ import annotations

from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking

from domain.partnership import Partnership
from projections.runtime import View
from projections.tables import evidence_index


class EvidenceIndexView(View):
    name = "evidence_index"
    tables = (evidence_index,)

    @singledispatchmethod
    def process_event(self, e: Any, tracking: Tracking) -> None:
        pass

    @process_event.register(Partnership.EvidenceSubmitted)
    def _submitted(self, e: Partnership.EvidenceSubmitted, tracking: Tracking) -> None:
        self.conn.execute(evidence_index.insert().values(
            evidence_id=e.evidence_id, partnership_id=str(e.originator_id), sha256=e.sha256,
            media_type=e.media_type, kind=e.kind))

    @process_event.register(Partnership.EvidenceReviewed)
    def _reviewed(self, e: Partnership.EvidenceReviewed, tracking: Tracking) -> None:
        self.conn.execute(evidence_index.update()
                          .where(evidence_index.c.evidence_id == e.evidence_id)
                          .values(review=e.decision))

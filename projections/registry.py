"""Every view the runtime maintains, by name (`kemitraan projections rebuild NAME`)."""

from __future__ import annotations

from projections.evidence_index import EvidenceIndexView
from projections.partnership_list import PartnershipListView
from projections.runtime import View

VIEWS: list[type[View]] = [PartnershipListView, EvidenceIndexView]

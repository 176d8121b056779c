"""Every view the runtime maintains, by name (`kemitraan projections rebuild NAME`)."""

from __future__ import annotations

import weakref

import sqlalchemy as sa

from projections import funnel_cube

from projections.access_tokens import AccessTokensView
from projections.audit_log import AuditLogView
from projections.compliance_facts import ComplianceFactsView
from projections.evidence_index import EvidenceIndexView
from projections.evidence_reuse import EvidenceReuseView
from projections.partnership_list import PartnershipListView
from projections.real_partnerships import RealPartnershipsView
from projections.regulations import RegulationsView
from projections.runtime import View
from projections.scale_upgrades import ScaleUpgradesView

VIEWS: list[type[View]] = [PartnershipListView, EvidenceIndexView, RealPartnershipsView,
                           ScaleUpgradesView, EvidenceReuseView, RegulationsView,
                           ComplianceFactsView, AuditLogView, AccessTokensView]

# Views folded in a process of their own when several are allowed (`api.lanes`, ADR 0011):
# each group here is a lane, every other view is in the first lane. A lane may hold only views
# whose tables no read joins with another lane's. The audit log is the heaviest view (a leaf and
# its tree nodes for every event); naik kelas and evidence reuse answer their own questions and
# move work off the first lane, which keeps the views read together (the list, the funnel and
# what is real, evidence review, compliance facts and the regulations they apply). The view of
# what is real also reads `evidence_index`'s rows while it folds: those two share a page.
LANES: list[tuple[str, ...]] = [("scale_upgrades", "evidence_reuse", "audit_log")]


_refreshed: weakref.WeakKeyDictionary[sa.Engine, list[str]] = weakref.WeakKeyDictionary()


def refresh_funnel_cells(engine: sa.Engine) -> bool:
    """Refreshes one stale span of the pre-aggregated funnel (`projections.funnel_cube`),
    remembering per engine which spans it refreshed last (the current ones yield a turn)."""
    recent = _refreshed.setdefault(engine, [])
    return funnel_cube.refresh_next(engine, funnel_cube.jakarta_today(), recent) is not None


MAINTENANCE = [refresh_funnel_cells]

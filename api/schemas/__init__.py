"""Request and response models of the public contract, re-exported for the routes.

Separate from events on purpose: events are a storage contract that must load forever, these
are the wire format.
"""

from api.schemas.businesses import (
    AffiliationCreate, AffiliationEnd, AffiliationRead, BusinessCreate, BusinessRead,
    BusinessWritten, FactCreate, FactRead, ScaleBasis, ScaleChangeCreate, ScaleEntryRead,
)
from api.schemas.common import IDR, KBLI, NIB, Day, Instant, Pola, Region, Scale
from api.schemas.partnerships import (
    ActorRead, AmendBody, ConfirmBody, DatedReasonBody, EventPage, EventRead, EvidenceRead,
    EvidenceWritten, PartnershipCreate, PartnershipPage, PartnershipRead, PartnershipSummary,
    PartnershipWritten, RealizationCreate, RealizationRead, RealizationWritten, ReasonBody,
    ResumeBody, ReviewBody, ReviewRead,
)
from api.schemas.tokens import Health, TokenCreate, TokenCreated, TokenRevoked

__all__ = [
    "IDR", "KBLI", "NIB", "ActorRead", "AffiliationCreate", "AffiliationEnd", "AffiliationRead",
    "AmendBody", "BusinessCreate", "BusinessRead", "BusinessWritten", "ConfirmBody",
    "DatedReasonBody", "Day", "EventPage", "EventRead", "EvidenceRead", "EvidenceWritten",
    "FactCreate", "FactRead", "Health", "Instant", "PartnershipCreate", "PartnershipPage",
    "PartnershipRead", "PartnershipSummary", "PartnershipWritten", "Pola", "RealizationCreate",
    "RealizationRead", "RealizationWritten", "ReasonBody", "Region", "ResumeBody", "ReviewBody",
    "ReviewRead", "Scale", "ScaleBasis", "ScaleChangeCreate", "ScaleEntryRead", "TokenCreate",
    "TokenCreated", "TokenRevoked",
]

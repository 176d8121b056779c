"""Who may do what (contract: Principals and scopes).

Two questions, asked in this order by every use case:
1. may this *role* ever do this action? If not: `Forbidden` (403);
2. is the object inside the caller's scope? If not: `NotFound` (404), so that nobody learns that
   an object outside their scope exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from domain.errors import Forbidden, NotFound
from domain.values import Actor, region_within


class Role(str, Enum):
    ADMIN = "admin"
    DINAS = "dinas"
    AUDITOR = "auditor"
    COMPANY = "company"
    UMKM = "umkm"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. `region` scopes dinas and auditors ("" = national auditor);
    `nibs` scopes companies (one or more besar NIBs) and UMKM (exactly one NIB)."""

    id: str
    role: Role
    name: str = ""
    region: str | None = None
    nibs: tuple[str, ...] = field(default_factory=tuple)

    @property
    def actor(self) -> Actor:
        return Actor(self.id, self.role.value)

    def in_region(self, *codes: str) -> bool:
        return self.region is not None and any(region_within(c, self.region) for c in codes if c)


SYSTEM = Principal(id="system", role=Role.ADMIN, name="system")

# Actions and the roles that may ever perform them (the first question above).
_ROLES_FOR: dict[str, frozenset[Role]] = {
    "business.register": frozenset({Role.ADMIN, Role.DINAS}),
    "business.scale": frozenset({Role.ADMIN, Role.DINAS}),
    "business.fact": frozenset({Role.ADMIN, Role.DINAS, Role.COMPANY}),
    "business.affiliation": frozenset({Role.ADMIN, Role.DINAS, Role.COMPANY}),
    "partnership.propose": frozenset({Role.ADMIN, Role.COMPANY}),
    "partnership.respond": frozenset({Role.ADMIN, Role.UMKM}),  # confirm, decline
    "partnership.manage": frozenset({Role.ADMIN, Role.COMPANY}),  # withdraw ... amend
    "partnership.evidence": frozenset({Role.ADMIN, Role.COMPANY, Role.UMKM}),
    "partnership.review": frozenset({Role.ADMIN, Role.DINAS}),
    "partnership.realization": frozenset({Role.ADMIN, Role.COMPANY, Role.UMKM}),
    "token.manage": frozenset({Role.ADMIN}),
}


_PHRASES = {
    "business.register": "register businesses",
    "business.scale": "record scale changes",
    "business.fact": "declare business facts",
    "business.affiliation": "declare affiliations",
    "partnership.propose": "propose partnerships",
    "partnership.respond": "confirm or decline partnerships",
    "partnership.manage": "withdraw, suspend, resume, terminate or amend partnerships",
    "partnership.evidence": "submit evidence",
    "partnership.review": "review evidence",
    "partnership.realization": "report realizations",
    "token.manage": "manage tokens",
}


def require_role(p: Principal, action: str) -> None:
    if p.role not in _ROLES_FOR[action]:
        raise Forbidden(f"the {p.role.value} role may not {_PHRASES[action]}")


def may_read_business(p: Principal, nib: str, region_code: str) -> bool:
    if p.role is Role.ADMIN:
        return True
    if p.role in (Role.DINAS, Role.AUDITOR):
        return p.in_region(region_code)
    return nib in p.nibs


def check_read_business(p: Principal, nib: str, region_code: str) -> None:
    if not may_read_business(p, nib, region_code):
        raise NotFound(f"business {nib} not found")


def may_read_partnership(p: Principal, *, large_nib: str, umkm_nib: str, large_region: str,
                         umkm_region: str, location_region: str) -> bool:
    """A partnership touches a region when either party or its location lies in it."""
    if p.role is Role.ADMIN:
        return True
    if p.role in (Role.DINAS, Role.AUDITOR):
        return p.in_region(large_region, umkm_region, location_region)
    if p.role is Role.COMPANY:
        return large_nib in p.nibs
    return umkm_nib in p.nibs


def partnership_scope_filter(p: Principal) -> dict[str, object]:
    """The same rule as `may_read_partnership`, as parameters for a view query."""
    if p.role is Role.ADMIN:
        return {}
    if p.role in (Role.DINAS, Role.AUDITOR):
        return {"touches_region": p.region}
    if p.role is Role.COMPANY:
        return {"large_nibs": list(p.nibs)}
    return {"umkm_nibs": list(p.nibs)}

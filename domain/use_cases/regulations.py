"""Use cases: enacting, amending, revoking and reading regulations (rule packs).

Who may: admin anywhere; a dinas only for a `region_code` inside its own region prefix (403
otherwise: legislating outside is something it may never do). Regulations are public law, so
every role may read them; dinas and auditors read those touching their region (a pack inside
their prefix, or a parent of it such as a national Permen), others outside it get 404.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from domain import values as v
from domain.access import Principal, Role
from domain.clock import utc
from domain.errors import Forbidden, NotFound
from domain.ledger_base import LedgerBase, Written
from domain.regulation import Regulation, regulation_id


def touches(code: str, prefix: str) -> bool:
    """A regulation touches a region when it lies inside it or is a parent of it."""
    return v.region_within(code, prefix) or v.region_within(prefix, code)


class RegulationUseCases(LedgerBase):
    def _may_legislate_regulation(self, by: Principal, region_code: str) -> None:
        if by.role is Role.ADMIN:
            return
        if by.role is not Role.DINAS:
            raise Forbidden(f"the {by.role.value} role may not manage regulations")
        if not by.in_region(region_code):
            raise Forbidden(f"a dinas of region {by.region} may only manage regulations in it")

    def _may_read_regulation(self, by: Principal, r: Regulation) -> None:
        if by.role in (Role.DINAS, Role.AUDITOR) and not touches(r.region_code, by.region or ""):
            raise NotFound(f"regulation {r.pack_id} not found")

    def enact_regulation(self, by: Principal, now: datetime, pack: dict[str, Any]) -> Written:
        self._may_legislate_regulation(by, pack["region_code"])
        r = Regulation.enact(actor=by.actor, now=utc(now), pack=pack)
        return self._save(r, creating=f"regulation {pack['id']} is already enacted")

    def _regulation(self, pack_id: str) -> Regulation:
        r = self._load(Regulation, regulation_id(pack_id))
        if r is None:
            raise NotFound(f"regulation {pack_id} not found")
        return r

    def amend_regulation(self, by: Principal, now: datetime, pack_id: str,
                         pack: dict[str, Any]) -> Written:
        r = self._regulation(pack_id)
        self._may_read_regulation(by, r)
        self._may_legislate_regulation(by, r.region_code)
        self._may_legislate_regulation(by, pack["region_code"])
        r.amend(by.actor, utc(now), pack)
        return self._save(r)

    def revoke_regulation(self, by: Principal, now: datetime, pack_id: str, *,
                          effective_date: date, reason: str) -> Written:
        r = self._regulation(pack_id)
        self._may_read_regulation(by, r)
        self._may_legislate_regulation(by, r.region_code)
        r.revoke(by.actor, utc(now), effective_date, reason)
        return self._save(r)

    def get_regulation(self, by: Principal, pack_id: str, version: int | None = None) -> Regulation:
        r = self._load(Regulation, regulation_id(pack_id), version=version, reading=True)
        if r is None:
            raise NotFound(f"regulation {pack_id} not found")
        self._may_read_regulation(by, r)
        return r

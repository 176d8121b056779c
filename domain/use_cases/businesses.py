"""Use cases: registering businesses, scale changes (naik kelas), facts, affiliations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from domain import values as v
from domain.access import Principal, Role, check_read_business, require_role
from domain.business import Business, business_id
from domain.clock import jakarta_date, utc
from domain.errors import Forbidden, InvalidValue, NotFound, collect
from domain.ledger_base import LedgerBase, Written
from domain.partnership import Partnership


class BusinessUseCases(LedgerBase):
    def register_business(self, by: Principal, now: datetime, *, nib: str, name: str,
                          scale: str, region_code: str, kbli: list[str],
                          address: str | None = None,
                          effective_date: date | None = None) -> Written:
        require_role(by, "business.register")
        errors = collect(
            lambda: v.nib(nib), lambda: v.text(name, "name", max_len=300),
            lambda: v.scale(scale), lambda: v.region_code(region_code),
            lambda: [v.kbli(k) for k in kbli] or v.kbli("", "kbli"),
            lambda: v.text(address, "address", required=False, max_len=500),
        )
        if errors:
            raise InvalidValue(errors)
        if by.role is Role.DINAS and not by.in_region(region_code):
            raise Forbidden(f"a dinas of region {by.region} may only register businesses in it")
        b = Business.register(actor=by.actor, now=utc(now), on=effective_date or jakarta_date(now),
                              nib=nib, name=name.strip(), scale=v.scale(scale),
                              region_code=region_code, kbli=kbli,
                              address=v.text(address, "address", required=False))
        return self._save(b, creating=f"a business with NIB {nib} is already registered")

    def get_business(self, by: Principal, nib: str, *, as_of: datetime | None = None
                     ) -> Business:
        """The business now, or as recorded at `as_of` (its scale history, facts and
        affiliations as known then: what an auditor asks of a past report)."""
        bid = business_id(v.nib(nib))
        b = (self._load(Business, bid, reading=True) if as_of is None
             else self._as_of(Business, bid, utc(as_of)))
        if b is None:
            raise NotFound(f"business {nib} not found" + (" at that time" if as_of else ""))
        check_read_business(by, b.nib, b.region_code)
        return b

    def _business_command(self, by: Principal, action: str, nib: str,
                          act: Callable[[Business], None],
                          expected_version: int | None = None) -> Written:
        require_role(by, action)
        b = self._take(Business, business_id(v.nib(nib)))
        if b is None:
            raise NotFound(f"business {nib} not found")

        def checked(b: Business) -> None:
            check_read_business(by, b.nib, b.region_code)
            if by.role is Role.COMPANY and b.nib not in by.nibs:
                raise NotFound(f"business {nib} not found")
            self._check_version(b, expected_version)
            act(b)
        return self._run(b, checked)

    def change_scale(self, by: Principal, now: datetime, nib: str, *, scale: str,
                     effective_date: date, basis: dict[str, int] | None = None,
                     expected_version: int | None = None) -> Written:
        def act(b: Business) -> None:
            to = v.scale(scale)
            for key, value in (basis or {}).items():
                v.rupiah(value, f"basis.{key}")
            kept = {k: x for k, x in (basis or {}).items() if x is not None}
            b.change_scale(by.actor, utc(now), effective_date, to, kept)
        return self._business_command(by, "business.scale", nib, act, expected_version)

    def declare_fact(self, by: Principal, now: datetime, nib: str, *, name: str, value: Decimal,
                     unit: str, effective_date: date, evidence_id: str | None = None,
                     evidence_partnership: Callable[[str], UUID | None] = lambda _: None,
                     expected_version: int | None = None) -> Written:
        """`evidence_partnership`: which partnership an evidence file was submitted on (an
        index the application keeps outside the domain); without one, no evidence is known."""
        def act(b: Business) -> None:
            if evidence_id is not None:
                self._check_fact_evidence(b, evidence_id, evidence_partnership(evidence_id))
            b.declare_fact(by.actor, utc(now), effective_date,
                           name=v.text(name, "name", max_len=100) or "", value=value,
                           unit=v.text(unit, "unit", max_len=50) or "", evidence_id=evidence_id)
        return self._business_command(by, "business.fact", nib, act, expected_version)

    def _check_fact_evidence(self, b: Business, evidence_id: str, pid: UUID | None) -> None:
        """A fact's evidence is a file submitted on one of the business's own partnerships:
        the index names the partnership, the partnership's own events confirm it."""
        p = self._load(Partnership, pid, reading=True) if pid is not None else None
        if p is None or evidence_id not in p.evidence or b.nib not in (p.large_nib, p.umkm_nib):
            raise InvalidValue.single(
                "evidence_id", "is not evidence submitted on a partnership of this business")

    def declare_affiliation(self, by: Principal, now: datetime, nib: str, *, umkm_nib: str,
                            kind: str, effective_date: date,
                            ended_date: date | None = None,
                            expected_version: int | None = None) -> Written:
        def act(b: Business) -> None:
            v.nib(umkm_nib, "umkm_nib")
            try:
                affiliation = v.AffiliationKind(kind).value
            except ValueError:
                raise InvalidValue.single("kind", "must be owns or controls") from None
            # Only an admin, who may read every business, is told the partner is unknown: for
            # a company or a dinas a 422-or-201 answered whether any NIB exists, outside their
            # scope too. An affiliation with a NIB not (yet) registered changes nothing until
            # that business partners with this one.
            if by.role is Role.ADMIN and self._load(Business, business_id(umkm_nib)) is None:
                raise InvalidValue.single("umkm_nib", "is not a registered business")
            b.declare_affiliation(by.actor, utc(now), effective_date, umkm_nib=umkm_nib,
                                  kind=affiliation, ended=ended_date)
        return self._business_command(by, "business.affiliation", nib, act, expected_version)

    def end_affiliation(self, by: Principal, now: datetime, nib: str, *, umkm_nib: str,
                        ended_date: date, expected_version: int | None = None) -> Written:
        return self._business_command(by, "business.affiliation", nib, lambda b:
                                      b.end_affiliation(by.actor, utc(now), ended_date, umkm_nib),
                                      expected_version)

"""Use cases: proposing partnerships (idempotently) and reading them, now or as of before."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from uuid import UUID

from domain import values as v
from domain.access import Principal, Role, may_read_partnership, require_role
from domain.business import Business, business_id
from domain.clock import jakarta_date, utc
from domain.errors import (
    DuplicateKey, FieldError, Forbidden, InvalidValue, NotFound, collect,
)
from domain.ledger_base import LedgerBase, Written
from domain.partnership import PROPOSED, Partnership, partnership_id_for_key


class PartnershipUseCases(LedgerBase):
    def propose_partnership(self, by: Principal, now: datetime, new_id: UUID, *, large_nib: str,
                            umkm_nib: str, pola: str, title: str, start_date: date,
                            location_region_code: str, program: str | None = None,
                            end_date: date | None = None, value_idr: int | None = None,
                            description: str | None = None, idempotency_key: str | None = None,
                            external_ref: str | None = None) -> Written:
        require_role(by, "partnership.propose")
        body = dict(large_nib=large_nib, umkm_nib=umkm_nib, pola=pola, program=program,
                    title=title, start_date=start_date, end_date=end_date, value_idr=value_idr,
                    location_region_code=location_region_code, description=description)
        self._check_proposal(by, body)
        request_hash = None
        if idempotency_key is not None:
            # Keys belong to the company acting as the large party (its NIB), not to one token:
            # they survive rotation, and any token of the company (whatever other NIBs it
            # holds) repeats the same proposal. Until 2026-12-05 the scope was the token's
            # whole NIB set: a key stored under that older scope is still honoured.
            scopes = [body["large_nib"]] if by.role is Role.COMPANY else [by.id]
            if by.role is Role.COMPANY and len(by.nibs) > 1:
                scopes.append(",".join(sorted(by.nibs)))
            request_hash = _hash_body(body)
            ids = [partnership_id_for_key(f"idem:{scope}", idempotency_key) for scope in scopes]
            new_id = ids[0]
            for candidate in ids:
                existing = self._load(Partnership, candidate)
                if existing is not None:
                    return self._idempotent_repeat(existing, request_hash)
        p = self._new_partnership(by, now, new_id, body, external_ref=external_ref,
                                  request_hash=request_hash)
        try:
            written = self._save(p, creating="this partnership already exists")
            # The UMKM's confirmation usually comes next: keep the new aggregate for it.
            self.command_cache.keep(p.id, p)
            return written
        except DuplicateKey:
            if idempotency_key is None:
                raise
            # A concurrent request with the same key won the race: answer as a repeat.
            existing = self._load(Partnership, new_id)
            assert existing is not None
            return self._idempotent_repeat(existing, request_hash)

    @staticmethod
    def _check_proposal(by: Principal, body: dict[str, Any]) -> None:
        """The value and scope rules of a proposal (shared by the API and the import)."""
        errors = collect(
            lambda: v.nib(body["large_nib"], "large_nib"),
            lambda: v.nib(body["umkm_nib"], "umkm_nib"),
            lambda: v.pola(body["pola"]), lambda: v.text(body["title"], "title", max_len=300),
            lambda: v.region_code(body["location_region_code"], "location_region_code"),
            lambda: v.rupiah(body["value_idr"], "value_idr"),
            lambda: v.text(body["program"], "program", required=False, max_len=100),
            lambda: v.text(body["description"], "description", required=False, max_len=5000),
            lambda: (v.date_range(body["start_date"], body["end_date"], "start_date", "end_date")
                     if body["start_date"] is not None else _required("start_date")),
        )
        if errors:
            raise InvalidValue(errors)
        if by.role is Role.COMPANY and body["large_nib"] not in by.nibs:
            raise Forbidden("a company may only propose partnerships where it is the large party")

    def _new_partnership(self, by: Principal, now: datetime, new_id: UUID, body: dict[str, Any],
                         *, external_ref: str | None, request_hash: str | None,
                         business: Callable[[str], Business | None] | None = None,
                         ) -> Partnership:
        """A new (unsaved) Partnership once both parties are registered with the right scale.
        `business` looks a NIB up (the import passes a cached lookup)."""
        lookup = business or (lambda n: self._load(Business, business_id(n)))
        large, umkm = lookup(body["large_nib"]), lookup(body["umkm_nib"])
        errors = []
        if large is None:
            errors.append(FieldError("large_nib", "is not a registered business"))
        elif large.scale_on(jakarta_date(now)) != v.Scale.BESAR.value:
            errors.append(FieldError("large_nib", "must be a besar business"))
        if umkm is None:
            errors.append(FieldError("umkm_nib", "is not a registered business"))
        elif not v.Scale(umkm.scale_on(jakarta_date(now))).is_umkm:
            errors.append(FieldError("umkm_nib", "must be a mikro, kecil or menengah business"))
        if errors:
            raise InvalidValue(errors)
        assert large is not None and umkm is not None
        return Partnership.propose(
            id=new_id, actor=by.actor, now=utc(now), large_nib=body["large_nib"],
            umkm_nib=body["umkm_nib"], pola=body["pola"],
            program=v.text(body["program"], "program", required=False),
            title=body["title"].strip(), start_date=body["start_date"],
            end_date=body["end_date"], value_idr=body["value_idr"],
            location_region_code=body["location_region_code"],
            description=v.text(body["description"], "description", required=False),
            large_region_code=large.region_code, umkm_region_code=umkm.region_code,
            external_ref=external_ref, request_hash=request_hash)

    def _idempotent_repeat(self, existing: Partnership, request_hash: str | None) -> Written:
        """The first answer again, whatever happened to the partnership since: its version 1,
        status proposed (the caller adds that version's position). A repeat is a replay, not a
        read: `GET` gives the current state."""
        if existing.request_hash != request_hash:
            raise DuplicateKey("this Idempotency-Key was already used with another body")
        return Written(existing.id, 1, None, status=PROPOSED, repeat=True)

    def get_partnership(self, by: Principal, pid: UUID, *, version: int | None = None,
                        as_of: datetime | None = None) -> Partnership:
        if version is not None and version < 1:
            raise InvalidValue.single("version", "must be 1 or more")
        if as_of is not None:
            p = self._partnership_as_of(pid, utc(as_of))
        else:
            p = self._load(Partnership, pid, version=version, reading=True)
        if p is None or not self._may_read(by, p):
            raise NotFound(f"partnership {pid} not found" + (" at that time" if as_of else ""))
        if version is not None and p.version != version:
            raise NotFound(f"partnership {pid} has no version {version}")
        return p

    def _partnership_as_of(self, pid: UUID, as_of: datetime) -> Partnership | None:
        return self._as_of(Partnership, pid, as_of)

    def partnership_events(self, by: Principal, pid: UUID) -> list[Any]:
        self.get_partnership(by, pid)  # scope check
        return list(self.reads.events.get(pid))

    def _may_read(self, by: Principal, p: Partnership) -> bool:
        return may_read_partnership(by, large_nib=p.large_nib, umkm_nib=p.umkm_nib,
                                    large_region=p.large_region_code,
                                    umkm_region=p.umkm_region_code,
                                    location_region=p.location_region_code)

    def _partnership_command(self, by: Principal, action: str, pid: UUID,
                             expected_version: int | None,
                             act: Callable[[Partnership], None]) -> Written:
        require_role(by, action)
        p = self._take(Partnership, pid)
        if p is None:
            raise NotFound(f"partnership {pid} not found")

        def checked(p: Partnership) -> None:
            if not self._may_read(by, p):
                raise NotFound(f"partnership {pid} not found")
            self._check_version(p, expected_version)
            act(p)
        return self._run(p, checked)


def _required(field: str) -> None:
    raise InvalidValue.single(field, "is required")


def _hash_body(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()

"""Use cases: the partnership lifecycle after its proposal, evidence and realizations."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from domain import values as v
from domain.clock import jakarta_date, utc
from domain.access import Principal, require_role
from domain.errors import InvalidValue, NotFound
from domain.ledger_base import Written
from domain.partnership import Partnership
from domain.use_cases.partnerships import PartnershipUseCases


class LifecycleUseCases(PartnershipUseCases):
    def confirm(self, by: Principal, now: datetime, pid: UUID, *, note: str | None = None,
                effective_date: date | None = None, expected_version: int | None = None) -> Written:
        note = v.text(note, "note", required=False)
        return self._partnership_command(by, "partnership.respond", pid, expected_version,
                                         lambda p: p.confirm(by.actor, utc(now),
                                                             effective_date or jakarta_date(now),
                                                             note))

    def decline(self, by: Principal, now: datetime, pid: UUID, *, reason: str,
                effective_date: date | None = None, expected_version: int | None = None) -> Written:
        reason = v.text(reason, "reason")
        return self._partnership_command(by, "partnership.respond", pid, expected_version,
                                         lambda p: p.decline(by.actor, utc(now),
                                                             effective_date or jakarta_date(now),
                                                             reason))

    def withdraw(self, by: Principal, now: datetime, pid: UUID, *, reason: str,
                 effective_date: date | None = None, expected_version: int | None = None) -> Written:
        reason = v.text(reason, "reason")
        return self._partnership_command(by, "partnership.manage", pid, expected_version,
                                         lambda p: p.withdraw(by.actor, utc(now),
                                                              effective_date or jakarta_date(now),
                                                              reason))

    def suspend(self, by: Principal, now: datetime, pid: UUID, *, reason: str,
                effective_date: date, expected_version: int | None = None) -> Written:
        reason = v.text(reason, "reason")
        return self._partnership_command(by, "partnership.manage", pid, expected_version,
                                         lambda p: p.suspend(by.actor, utc(now), effective_date,
                                                             reason))

    def resume(self, by: Principal, now: datetime, pid: UUID, *, effective_date: date,
               expected_version: int | None = None) -> Written:
        return self._partnership_command(by, "partnership.manage", pid, expected_version,
                                         lambda p: p.resume(by.actor, utc(now), effective_date))

    def terminate(self, by: Principal, now: datetime, pid: UUID, *, reason: str,
                  effective_date: date, expected_version: int | None = None) -> Written:
        reason = v.text(reason, "reason")
        return self._partnership_command(by, "partnership.manage", pid, expected_version,
                                         lambda p: p.terminate(by.actor, utc(now),
                                                               effective_date, reason))

    def amend(self, by: Principal, now: datetime, pid: UUID, *, changes: dict[str, Any],
              effective_date: date | None = None, expected_version: int | None = None) -> Written:
        allowed = {"end_date", "value_idr", "title", "description"}
        unknown = set(changes) - allowed
        if unknown:
            raise InvalidValue.single(sorted(unknown)[0], "cannot be amended")
        if "value_idr" in changes:
            v.rupiah(changes["value_idr"], "value_idr")
        if "title" in changes:
            changes["title"] = v.text(changes["title"], "title", max_len=300)
        if "description" in changes:
            changes["description"] = v.text(changes["description"], "description",
                                             required=False, max_len=5000)
        return self._partnership_command(by, "partnership.manage", pid, expected_version,
                                         lambda p: p.amend(by.actor, utc(now),
                                                           effective_date or jakarta_date(now),
                                                           changes))

    def check_evidence(self, by: Principal, pid: UUID, *, kind: str,
                       period_start: date | None = None, period_end: date | None = None,
                       description: str | None = None,
                       expected_version: int | None = None) -> None:
        """Raises what `submit_evidence` with these fields would raise now (role, scope,
        If-Match, lifecycle, values), so the API keeps no file for a request that will fail.
        Only a concurrent write recorded in between can still refuse the submission."""
        v.evidence_kind(kind)
        v.text(description, "description", required=False, max_len=2000)
        require_role(by, "partnership.evidence")
        p = self._load(Partnership, pid)
        if p is None or not self._may_read(by, p):
            raise NotFound(f"partnership {pid} not found")
        self._check_version(p, expected_version)
        p.check_evidence(period_start, period_end)

    def submit_evidence(self, by: Principal, now: datetime, pid: UUID, *, evidence_id: str,
                        kind: str, sha256: str, size: int, media_type: str,
                        period_start: date | None = None, period_end: date | None = None,
                        description: str | None = None, effective_date: date | None = None,
                        expected_version: int | None = None) -> Written:
        v.evidence_kind(kind)
        description = v.text(description, "description", required=False, max_len=2000)
        return self._partnership_command(
            by, "partnership.evidence", pid, expected_version,
            lambda p: p.submit_evidence(by.actor, utc(now), effective_date or jakarta_date(now),
                                        evidence_id=evidence_id, kind=kind, sha256=sha256,
                                        size=size, media_type=media_type,
                                        period_start=period_start, period_end=period_end,
                                        description=description))

    def review_evidence(self, by: Principal, now: datetime, pid: UUID, *, evidence_id: str,
                        decision: str, reason: str | None = None,
                        effective_date: date | None = None,
                        expected_version: int | None = None) -> Written:
        reason = v.text(reason, "reason", required=False)
        return self._partnership_command(
            by, "partnership.review", pid, expected_version,
            lambda p: p.review_evidence(by.actor, utc(now), effective_date or jakarta_date(now),
                                        evidence_id=evidence_id, decision=decision,
                                        reason=reason))

    def report_realization(self, by: Principal, now: datetime, pid: UUID, *,
                           realization_id: str, period_start: date, period_end: date,
                           value_idr: int | None = None, quantity: float | None = None,
                           unit: str | None = None, evidence_ids: list[str] | None = None,
                           effective_date: date | None = None,
                           expected_version: int | None = None) -> Written:
        v.rupiah(value_idr, "value_idr")
        if quantity is not None and (quantity < 0 or quantity != quantity):
            raise InvalidValue.single("quantity", "must be a number of 0 or more")
        unit = v.text(unit, "unit", required=False, max_len=50)
        return self._partnership_command(
            by, "partnership.realization", pid, expected_version,
            lambda p: p.report_realization(by.actor, utc(now),
                                           effective_date or jakarta_date(now),
                                           realization_id=realization_id,
                                           period_start=period_start, period_end=period_end,
                                           value_idr=value_idr, quantity=quantity, unit=unit,
                                           evidence_ids=list(evidence_ids or [])))

"""Use case: importing many partnership proposals at once (contract: Spreadsheets; ADR 0016).

Every row goes through the same rules as `POST /v1/partnerships` (`_check_proposal`,
`_new_partnership`): the same values, the same parties, the same scope. A row is keyed by
(`large_nib`, `external_ref`): its partnership id is `uuid5("import:<large_nib>", external_ref)`,
so a second import of the same row finds the partnership it created and records nothing.

Speed: the parties are looked up once per NIB for the whole file, existing rows are found with
one cheap read per row (no event decoding), and new partnerships are saved in batches, many
aggregates per transaction. A failing batch (another import won a race) falls back to one save
per row, so each row still ends up either created or unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from domain.access import Principal, require_role
from domain.business import Business, business_id
from domain.errors import DomainError, FieldError, InvalidValue
from domain.partnership import Partnership, partnership_id_for_key
from domain.use_cases.partnerships import PartnershipUseCases, _hash_body

BATCH = 1000
# The fields of one row, as `propose_partnership` takes them (external_ref aside).
BODY_FIELDS = ("large_nib", "umkm_nib", "pola", "program", "title", "start_date", "end_date",
               "value_idr", "location_region_code", "description")


def import_id(large_nib: str, external_ref: str) -> UUID:
    """The partnership id of an import row: the same (large_nib, external_ref), the same id."""
    return partnership_id_for_key(f"import:{large_nib}", external_ref)


@dataclass
class ImportRow:
    """One parsed row: `number` as the spreadsheet shows it (the header is row 1), `values`
    typed for the use case, `errors` found while reading the cells."""

    number: int
    external_ref: str | None
    values: dict[str, Any]
    errors: list[FieldError] = field(default_factory=list)


@dataclass
class ImportResult:
    rows: int = 0
    accepted: int = 0  # new partnerships (recorded, or that a dry run would record)
    unchanged: int = 0  # rows already imported with the same values
    rejected: list[tuple[int, list[FieldError]]] = field(default_factory=list)
    created: list[UUID] = field(default_factory=list)
    position: int | None = None  # the last event recorded (None: nothing recorded)


class ImportUseCases(PartnershipUseCases):
    def import_partnerships(self, by: Principal, now: datetime, rows: Iterable[ImportRow], *,
                            dry_run: bool = False, batch_size: int = BATCH,
                            progress: Callable[[int], None] | None = None,
                            existing: Callable[[list[UUID]], set[UUID]] | None = None,
                            ) -> ImportResult:
        """Propose every valid row that is not there yet; reject the others with their fields.
        `progress(n)` is called after each batch with the number of rows it held. `existing`
        answers which of a batch's ids are already stored, in one query (the adapter knows the
        store's tables); without it, each id is looked up on its own."""
        require_role(by, "partnership.propose")
        stored = existing or (lambda ids: {i for i in ids if self._exists(i)})
        result = ImportResult()
        parties: dict[str, Business | None] = {}
        seen: dict[UUID, int] = {}  # id -> first row number in this file

        def business(nib: str) -> Business | None:
            if nib not in parties:
                parties[nib] = self._load(Business, business_id(nib))
            return parties[nib]

        batch: list[ImportRow] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= batch_size:
                self._import_batch(by, now, batch, result, business, seen, stored, dry_run)
                if progress:
                    progress(len(batch))
                batch = []
        if batch:
            self._import_batch(by, now, batch, result, business, seen, stored, dry_run)
            if progress:
                progress(len(batch))
        result.rejected.sort(key=lambda r: r[0])
        return result

    def _import_batch(self, by: Principal, now: datetime, batch: list[ImportRow],
                      result: ImportResult, business: Callable[[str], Business | None],
                      seen: dict[UUID, int], stored: Callable[[list[UUID]], set[UUID]],
                      dry_run: bool) -> None:
        new: list[Partnership] = []
        valid: list[tuple[ImportRow, UUID, dict[str, Any]]] = []
        for row in batch:
            result.rows += 1
            errors = list(row.errors)  # cells that could not be read
            if not row.external_ref:
                errors.append(FieldError("external_ref", "is required"))
            body = {name: row.values.get(name) for name in BODY_FIELDS}
            try:
                self._check_proposal(by, body)
            except InvalidValue as e:
                errors.extend(e.errors)
            except DomainError as e:  # Forbidden: outside the caller's scope
                errors.append(FieldError("large_nib", e.detail))
            if errors:
                result.rejected.append((row.number, _first_per_column(errors)))
                continue
            assert row.external_ref is not None
            pid = import_id(body["large_nib"], row.external_ref)
            if pid in seen:
                result.rejected.append((row.number, [FieldError(
                    "external_ref", f"repeats row {seen[pid]} (same large_nib and external_ref)")]))
                continue
            seen[pid] = row.number
            valid.append((row, pid, body))
        known = stored([pid for _, pid, _ in valid]) if valid else set()
        for row, pid, body in valid:
            assert row.external_ref is not None
            request_hash = _hash_body(body)
            if pid in known:
                existing = self._load(Partnership, pid)
                if existing is not None and existing.request_hash == request_hash:
                    result.unchanged += 1
                else:
                    result.rejected.append((row.number, [FieldError(
                        "external_ref", "was imported before with other values; change that "
                                        "partnership through the API (amend) instead")]))
                continue
            try:
                p = self._new_partnership(by, now, pid, body, external_ref=row.external_ref,
                                          request_hash=request_hash, business=business)
            except InvalidValue as e:
                result.rejected.append((row.number, _first_per_column(e.errors)))
                continue
            new.append(p)
        if dry_run:
            result.accepted += len(new)
            result.created.extend(p.id for p in new)
            return
        self._save_new(new, result)

    def _exists(self, pid: UUID) -> bool:
        return bool(self.recorder.select_events(pid, limit=1))

    def _save_new(self, new: list[Partnership], result: ImportResult) -> None:
        if not new:
            return
        # `save` takes the aggregates' pending events even when the store refuses them: keep
        # them, to save row by row if the batch fails.
        events = {p.id: list(p.pending_events) for p in new}
        try:
            recordings = self.save(*new)
        except IntegrityError:
            # Another writer (a concurrent import of the same rows) recorded one of these ids
            # meanwhile: save one by one; the rows it recorded first count as unchanged.
            for p in new:
                try:
                    one = self.save(*events[p.id])
                except IntegrityError:
                    result.unchanged += 1
                    continue
                self._count_saved([p], one[-1].notification.id, result)
            return
        self._count_saved(new, recordings[-1].notification.id if recordings else None, result)

    @staticmethod
    def _count_saved(saved: list[Partnership], position: int | None,
                     result: ImportResult) -> None:
        result.accepted += len(saved)
        result.created.extend(p.id for p in saved)
        if position is not None:
            result.position = max(result.position or 0, position)


def _first_per_column(errors: list[FieldError]) -> list[FieldError]:
    """One message per column: a cell that could not be read is not also "required"."""
    out: dict[str, FieldError] = {}
    for e in errors:
        out.setdefault(e.field, e)
    return list(out.values())

"""The seeder's hands: every write goes through `container.ledger`, as the principal who would act
in life (the DPMPTSP of the kabupaten, the company, the UMKM owner), with the business date the
action speaks of.
"""

from __future__ import annotations

import io
import random
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal

from api.demo import documents as docs
from api.demo.dates import AGREEMENT_DAYS, Period, filed, reviewed
from api.demo.documents import Kemitraan
from api.demo.world import DINAS_NAMES, Biz, Names, kecamatan_in, nib, place
from api.wiring import Container
from domain.access import Principal, Role

SEED = 2024


def dinas(region: str) -> Principal:
    kab = region[:5]
    return Principal(id=f"demo:dinas:{kab}", role=Role.DINAS, name=DINAS_NAMES[kab], region=kab)


def company(b: Biz) -> Principal:
    return Principal(id=f"demo:company:{b.nib}", role=Role.COMPANY, name=b.name, nibs=(b.nib,))


def owner(b: Biz) -> Principal:
    return Principal(id=f"demo:umkm:{b.nib}", role=Role.UMKM, name=b.name, nibs=(b.nib,))


class Seeder:
    """The ledger, the instant every event is recorded at, and the seeded randomness: content
    draws from `rng`, business dates from `days` (tuning the calendar moves no name or amount)."""

    def __init__(self, container: Container, now: datetime) -> None:
        self.c = container
        self.ledger = container.ledger
        self.now = now
        self.rng = random.Random(SEED)
        self.days = random.Random(SEED + 1)  # business dates: their own stream
        self.submitted: dict[str, date] = {}  # evidence id -> the day it went in
        self.names = Names(self.rng)
        self.number = docs.Numbers()

    # ---- businesses ---------------------------------------------------------------------------

    def register(self, b: Biz) -> Biz:
        self.ledger.register_business(dinas(b.region), self.now, nib=b.nib, name=b.name,
                                      scale=b.scale, region_code=b.region, kbli=list(b.kbli),
                                      address=b.address, effective_date=b.registered_on)
        return b

    def umkm(self, kab: str, counter: int, registered_on: date, *, region: str | None = None,
             scale: str = "mikro", trade: tuple[str, str] | None = None, note: str | None = None,
             name: str | None = None) -> Biz:
        generated, product, kbli = self.names.umkm(kab, trade)
        region = region or self.rng.choice(kecamatan_in(kab))
        address = place(region) + (f" ({note})" if note else "")
        return self.register(Biz(nib(kab, counter), name or generated, scale, region, (kbli,),
                                 registered_on, address, product))

    def large(self, kab: str, counter: int, name: str, region: str, kbli: str,
              registered_on: date, trade: str, address: str | None = None) -> Biz:
        return self.register(Biz(nib(kab, counter, large=True), name, "besar", region, (kbli,),
                                 registered_on, address or place(region), trade))

    def naik_kelas(self, b: Biz, scale: str, on: date, annual_sales_idr: int) -> None:
        self.ledger.change_scale(dinas(b.region), self.now, b.nib, scale=scale,
                                 effective_date=on, basis={"annual_sales_idr": annual_sales_idr})

    def declare_fact(self, b: Biz, on: date, name: str, value: str, unit: str) -> None:
        self.ledger.declare_fact(company(b), self.now, b.nib, name=name, value=Decimal(value),
                                 unit=unit, effective_date=on)

    # ---- the partnership lifecycle ------------------------------------------------------------

    def propose(self, large: Biz, umkm: Biz, *, pola: str, program: str | None, title: str,
                start: date, location: str | None = None, end: date | None = None,
                value: int | None = None, description: str | None = None) -> Kemitraan:
        k = Kemitraan(uuid.uuid4(), large, umkm, pola, program, title, start, end, value,
                      location or umkm.region, description)
        self.ledger.propose_partnership(
            company(large), self.now, k.id, large_nib=large.nib, umkm_nib=umkm.nib,
            pola=pola, program=program, title=title, start_date=start, end_date=end,
            value_idr=value, location_region_code=k.location, description=description)
        return k

    def confirm(self, k: Kemitraan, on: date, note: str | None = None) -> None:
        self.ledger.confirm(owner(k.umkm), self.now, k.id, note=note, effective_date=on)

    def decline(self, k: Kemitraan, on: date, reason: str) -> None:
        self.ledger.decline(owner(k.umkm), self.now, k.id, effective_date=on, reason=reason)

    def withdraw(self, k: Kemitraan, on: date, reason: str) -> None:
        self.ledger.withdraw(company(k.large), self.now, k.id, effective_date=on, reason=reason)

    def activate(self, k: Kemitraan, *, agreement: str | None = "verified") -> None:
        """Sign and confirm; the perjanjian goes in and the dinas reviews it (`agreement`)."""
        signed = k.start - timedelta(days=self.rng.randint(0, 12))
        self.confirm(k, signed, note="Perjanjian sudah ditandatangani kedua pihak.")
        self.agreement(k, signed, review=agreement)

    def amend(self, k: Kemitraan, on: date, **changes: object) -> None:
        self.ledger.amend(company(k.large), self.now, k.id, changes=dict(changes),
                          effective_date=on)
        for name, value in changes.items():
            setattr(k, {"end_date": "end", "value_idr": "value"}.get(name, name), value)

    def suspend(self, k: Kemitraan, on: date, reason: str) -> None:
        self.ledger.suspend(company(k.large), self.now, k.id, effective_date=on, reason=reason)

    def resume(self, k: Kemitraan, on: date) -> None:
        self.ledger.resume(company(k.large), self.now, k.id, effective_date=on)

    def terminate(self, k: Kemitraan, on: date, reason: str) -> None:
        self.ledger.terminate(company(k.large), self.now, k.id, effective_date=on, reason=reason)

    # ---- evidence and realizations ------------------------------------------------------------

    def evidence(self, k: Kemitraan, by: Principal, kind: str, content: bytes,
                 period: Period | None, description: str, *, on: date | None = None) -> str:
        """Submit a file on `on` (by default a few days after the period it covers)."""
        if on is None:
            if period is None:
                raise ValueError("evidence that covers no period needs the day it went in")
            on = filed(self.days, period[1])
        stored = self.c.evidence.save(io.BytesIO(content), self.c.settings.max_upload_bytes)
        evidence_id = str(uuid.uuid4())
        self.ledger.submit_evidence(
            by, self.now, k.id, evidence_id=evidence_id, kind=kind, sha256=stored.sha256,
            size=stored.size, media_type=stored.media_type,
            period_start=period[0] if period else None, period_end=period[1] if period else None,
            description=description, effective_date=on)
        self.submitted[evidence_id] = on
        return evidence_id

    def review(self, k: Kemitraan, evidence_id: str, decision: str | None = "verified",
               reason: str | None = None) -> date | None:
        """The dinas's decision some days to weeks after submission; None (and nothing
        recorded) if `decision` is None or the review would fall after DATA_UNTIL."""
        on = reviewed(self.days, self.submitted[evidence_id])
        if decision is None or on is None:
            return None
        self.ledger.review_evidence(dinas(k.location), self.now, k.id, evidence_id=evidence_id,
                                    decision=decision, reason=reason, effective_date=on)
        return on

    def reject(self, k: Kemitraan, evidence_id: str, reason: str) -> date:
        on = self.review(k, evidence_id, "rejected", reason)
        if on is None:
            raise ValueError("the demo rejects only evidence the dinas reviewed before DATA_UNTIL")
        return on

    def realize(self, k: Kemitraan, by: Principal, period: Period, evidence_ids: list[str], *,
                value: int | None = None, quantity: float | None = None,
                unit: str | None = None) -> None:
        """Reported with the last of its evidence (so after the period ends)."""
        self.ledger.report_realization(
            by, self.now, k.id, realization_id=str(uuid.uuid4()), period_start=period[0],
            period_end=period[1], value_idr=value, quantity=quantity, unit=unit,
            evidence_ids=evidence_ids, effective_date=max(self.submitted[i] for i in evidence_ids))

    def agreement(self, k: Kemitraan, signed: date, *, review: str | None = "verified",
                  signed_by_both: bool = True) -> str:
        """The perjanjian signed on `signed` goes in within days; the dinas reviews it."""
        number = self.number("PKS", signed)
        evidence_id = self.evidence(
            k, company(k.large), "perjanjian",
            docs.agreement_pdf(k, number, signed, signed_by_both=signed_by_both), None,
            f"Perjanjian kemitraan No. {number}", on=filed(self.days, signed, AGREEMENT_DAYS))
        self.review(k, evidence_id, review)
        return evidence_id

    def agreement_rejected_first(self, k: Kemitraan, signed: date, reason: str, *,
                                 signed_by_both: bool = True) -> None:
        """A first copy the dinas rejects, then one signed again after the rejection."""
        first = self.agreement(k, signed, review=None, signed_by_both=signed_by_both)
        rejected = self.reject(k, first, reason)
        self.agreement(k, filed(self.days, rejected, AGREEMENT_DAYS))

"""What running partnerships send in each period: the evidence files and the realization they
support (a few days after the period ends), then the dinas's reviews; one routine per kind of
partnership.
"""

from __future__ import annotations

from datetime import date

from api.demo import documents as docs
from api.demo.actors import Seeder, company, owner
from api.demo.dates import RETAIL_REPORTING_FROM, Period, filed, periods
from api.demo.documents import Kemitraan
from api.demo.files import photo_jpeg, shelf_photo_png
from api.demo.world import Biz


def retail(s: Seeder, chain: Biz, umkm: Biz, start: date, *, end: date | None = None,
           location: str | None = None, note: str = "") -> Kemitraan:
    """Propose a consignment placement of the UMKM's products on the chain's local shelf."""
    return s.propose(
        chain, umkm, pola="perdagangan_umum", program="penempatan_ritel", start=start,
        end=end, location=location, value=s.rng.randrange(24, 120) * 1_000_000,
        title=f"Penempatan produk {umkm.trade} di rak produk lokal {chain.name}",
        description="Produk UMKM dipajang dan dijual secara konsinyasi di rak produk lokal "
                    "gerai; dimodelkan pada praktik penempatan rak produk lokal di "
                    "minimarket (perdagangan umum)." + (f" {note}" if note else ""))


def retail_periods(k: Kemitraan, until: date) -> list[Period]:
    return periods(max(k.start, RETAIL_REPORTING_FROM), until, 3)


def retail_quarter(s: Seeder, k: Kemitraan, period: Period, *,
                   photo: bytes | None = None) -> None:
    """A consignment sales recap (and, twice a year, a shelf photo) for one quarter."""
    by = company(k.large)
    recap, total, skus = docs.consignment_recap(s.rng, s.number, k, period)
    ids = [s.evidence(k, by, "invoice", recap, period, "Rekap penjualan konsinyasi produk UMKM")]
    if photo is None and period[1].month in (6, 12):
        photo = shelf_photo_png(s.rng, f"Rak produk lokal {k.large.name} - "
                                       f"{k.umkm.name} - {period[1]}")
    if photo is not None:
        ids.append(s.evidence(k, by, "shelf_photo", photo, period,
                              "Foto rak produk lokal di gerai"))
    s.realize(k, by, period, ids, value=total, quantity=skus, unit="sku")
    for evidence_id in ids:
        s.review(k, evidence_id)


def mentoring_semester(s: Seeder, k: Kemitraan, period: Period, *,
                       unsigned_first: bool = False) -> None:
    """The semester's attendance list; with `unsigned_first`, a first copy without the
    participants' signatures is rejected (its realization never counts) and a signed copy
    goes in after the rejection."""
    sessions = docs.mentoring_sessions(s.rng, k, period)
    by = company(k.large)
    after = period[1]
    for signature in ("", "ada") if unsigned_first else ("ada",):
        evidence_id = s.evidence(k, by, "mentoring_log",
                                 docs.attendance_list(sessions, signature), period,
                                 "Daftar hadir pendampingan program bapak angkat",
                                 on=filed(s.days, after))
        s.realize(k, by, period, [evidence_id], quantity=len(sessions), unit="session")
        if signature:
            s.review(k, evidence_id)
        else:
            after = s.reject(k, evidence_id, "Daftar hadir tidak ditandatangani peserta; "
                                             "unggah ulang yang bertanda tangan.")


def booth_semester(s: Seeder, k: Kemitraan, period: Period, area_m2: int) -> None:
    """A mall's UMKM booth: a photo and the floor area given, for the floor-share rules."""
    by = company(k.large)
    photo = photo_jpeg(f"Booth UMKM {k.umkm.name} di {k.large.name}, {period[1]}")
    evidence_id = s.evidence(k, by, "shelf_photo", photo, period,
                             f"Foto booth UMKM ({area_m2} m2)")
    s.realize(k, by, period, [evidence_id], quantity=area_m2, unit="m2")
    s.review(k, evidence_id)


def fish_quarter(s: Seeder, k: Kemitraan, period: Period, *,
                 overstated_first: bool = False) -> None:
    """The processor's weighing notes, then the fisher's invoice for one quarter; with
    `overstated_first`, a first invoice heavier than the notes is rejected and a correct one
    goes in after the rejection."""
    _, price = docs.fish_of(k)
    months = periods(period[0], period[1], 1)
    kgs = [s.rng.randint(400, 2_600) for _ in months]
    notes_id = s.evidence(k, company(k.large), "delivery_note",
                          docs.weighing_notes(s.number, k, months, kgs), period,
                          "Nota timbang penerimaan ikan")
    s.review(k, notes_id)
    after = s.submitted[notes_id]
    for extra in ([900, 0] if overstated_first else [0]):
        invoiced = [kg + (extra if i == 0 else 0) for i, kg in enumerate(kgs)]
        invoice_id = s.evidence(k, owner(k.umkm), "invoice",
                                docs.fish_invoice(s.number, k, months, invoiced), period,
                                "Faktur penjualan ikan", on=filed(s.days, after))
        s.realize(k, owner(k.umkm), period, [invoice_id, notes_id],
                  value=sum(invoiced) * price, quantity=sum(invoiced), unit="kg")
        if extra:
            after = s.reject(k, invoice_id, "Berat pada faktur tidak sesuai nota timbang.")
        else:
            s.review(k, invoice_id)


def subcontract_semester(s: Seeder, k: Kemitraan, period: Period) -> None:
    """Purchase order, the UMKM's invoice and the payment proof for one semester."""
    by = company(k.large)
    amount = s.rng.randrange(60, 240) * 1_000_000
    order, invoice, paid = docs.subcontract_documents(s.number, k, period, amount)
    ids = [s.evidence(k, by, "purchase_order", order, period, "Surat pesanan"),
           s.evidence(k, owner(k.umkm), "invoice", invoice, period, "Faktur"),
           s.evidence(k, by, "payment_proof", paid, period, "Bukti transfer")]
    s.realize(k, by, period, ids, value=amount)
    for evidence_id in ids:
        s.review(k, evidence_id)

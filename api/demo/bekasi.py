"""Kab. Bekasi: the 162 participants of "UMKM Juara" and retail chains placing their products,
with every lifecycle state and a graduate to `besar`. A shelf photo is submitted for two
partnerships here (and another in Rembang): the staged-evidence signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from api.demo.actors import Seeder
from api.demo.dates import DATA_UNTIL, month_start
from api.demo.documents import Kemitraan
from api.demo.files import shelf_photo_png
from api.demo.reports import retail, retail_periods, retail_quarter
from api.demo.world import Biz, nib

KAB = "32.16"


@dataclass
class Bekasi:
    participants: list[Biz]  # UMKM Juara
    chain_a: Biz  # the national chain (the demo company), with outlets in Rembang too
    chain_b: Biz
    hyper: Biz


def businesses(s: Seeder) -> Bekasi:
    participants = []
    for i in range(1, 163):
        scale = "menengah" if i in (81, 162) else "kecil" if i % 8 == 0 or i == 7 else "mikro"
        participants.append(s.umkm(KAB, i, date(2023, 1 + (i - 1) * 8 // 162, 10 + i % 18),
                                   scale=scale, note="peserta UMKM Juara"))
    b = Bekasi(participants,
               s.large(KAB, 1, "PT Contoh Ritel Nusantara (sampel)", "32.16.09", "47111",
                       date(2021, 4, 1), "minimarket"),
               s.large(KAB, 2, "PT Sampel Minimarket Jaya (sampel)", "32.16.06", "47111",
                       date(2021, 9, 1), "minimarket"),
               s.large(KAB, 3, "PT Contoh Hipermarket Cikarang (sampel)", "32.16.19", "47111",
                       date(2022, 2, 1), "hipermarket"))
    for on, skus in ((date(2024, 1, 1), "4200"), (date(2025, 1, 1), "4480")):
        s.declare_fact(b.chain_a, on, "listed_products", skus, "sku")
    return b


def partnerships(s: Seeder, b: Bekasi) -> None:
    pool = [p for p in b.participants if p.nib != nib(KAB, 7)]
    s.rng.shuffle(pool)
    graduate = b.participants[6]
    chain_a(s, b.chain_a, graduate, pool[:33])
    chain_b(s, b.chain_b, pool[33:50])
    hypermarket(s, b.hyper, pool[50:57])


def standard_retail(s: Seeder, chain: Biz, umkm: Biz, start: date, *, end: date | None = None,
                    until: date = DATA_UNTIL, agreement: str | None = "verified") -> Kemitraan:
    k = retail(s, chain, umkm, start, end=end)
    s.activate(k, agreement=agreement)
    for period in retail_periods(k, min(until, k.end or until)):
        retail_quarter(s, k, period)
    return k


def chain_a(s: Seeder, chain: Biz, graduate: Biz, pool: list[Biz]) -> None:
    standard_retail(s, chain, graduate, date(2023, 4, 1))
    s.naik_kelas(graduate, "menengah", date(2024, 1, 1), 24_000_000_000)
    s.naik_kelas(graduate, "besar", date(2025, 1, 1), 61_500_000_000)
    replacement = retail(s, chain, pool[0], date(2025, 3, 1), note=(
        f"Pengganti kemitraan dengan {graduate.name}, yang naik kelas menjadi usaha besar "
        "per 1 Januari 2025 (Peraturan BKPM 3/2025 Pasal 22: mitra pengganti dalam satu "
        "tahun)."))
    s.activate(replacement)
    for period in retail_periods(replacement, DATA_UNTIL):
        retail_quarter(s, replacement, period)
    for n, umkm in enumerate(pool[1:22]):
        start = month_start(2023, 3 + n)
        if n == 0:  # the first agreement named the wrong business
            k = retail(s, chain, umkm, start)
            s.confirm(k, start)
            s.agreement_rejected_first(k, start, "Nama pihak kedua tidak sesuai dengan data NIB.")
            for period in retail_periods(k, DATA_UNTIL):
                retail_quarter(s, k, period)
        elif n == 1:
            standard_retail(s, chain, umkm, start, end=date(2024, 12, 31))  # expired
        elif n == 2:
            k = standard_retail(s, chain, umkm, start, until=date(2025, 9, 30))
            s.suspend(k, date(2025, 10, 1),
                      "Izin edar PIRT kedaluwarsa; produk ditarik sementara dari rak.")
        elif n in (3, 4):
            k = standard_retail(s, chain, umkm, start)
            if n == 3:
                s.amend(k, date(2024, 7, 1), value_idr=(k.value or 0) + 36_000_000)
            else:
                s.amend(k, date(2025, 2, 1), end_date=date(2028, 12, 31),
                        title=f"Penempatan produk {umkm.trade} di seluruh gerai {chain.name} "
                              "di Kab. Bekasi")
        elif n == 20:  # signed late in 2025: the agreement waits for the dinas
            standard_retail(s, chain, umkm, date(2025, 9, 1), agreement=None)
        else:
            standard_retail(s, chain, umkm, start)
    s.decline(retail(s, chain, pool[22], date(2024, 6, 1)), date(2024, 5, 20),
              "Harga konsinyasi terlalu rendah untuk menutup biaya produksi.")
    s.withdraw(retail(s, chain, pool[23], date(2024, 8, 1)), date(2024, 7, 25),
               "Produk belum memiliki izin edar PIRT.")
    for umkm in pool[24:29]:  # proposals waiting for the UMKM's confirmation
        retail(s, chain, umkm, date(2026, 1, 1))


def chain_b(s: Seeder, chain: Biz, pool: list[Biz]) -> None:
    staged = shelf_photo_png(s.rng, f"Rak produk lokal {chain.name}, Tambun")
    for n, umkm in enumerate(pool[:14]):
        start = month_start(2023, 5 + n)
        if n == 0:  # suspended, then resumed
            k = retail(s, chain, umkm, start)
            s.activate(k)
            resumed = date(2024, 7, 15)
            for period in retail_periods(k, DATA_UNTIL):
                if period[1] < date(2024, 5, 1) or period[0] > date(2024, 6, 30):
                    retail_quarter(s, k, (max(period[0], resumed), period[1])
                                   if period[0] < resumed <= period[1] else period)
                elif period[1] == date(2024, 6, 30):
                    s.suspend(k, date(2024, 5, 1), "Sertifikat halal dalam perpanjangan.")
                    s.resume(k, resumed)
        elif n == 1:
            k = standard_retail(s, chain, umkm, start, until=date(2024, 9, 30))
            s.terminate(k, date(2024, 9, 30), "UMKM berhenti berproduksi.")
        elif n == 2:
            standard_retail(s, chain, umkm, start, end=date(2025, 6, 30))  # expired
        elif n == 3:
            k = standard_retail(s, chain, umkm, start, end=date(2025, 12, 31))
            s.amend(k, date(2025, 11, 1), end_date=date(2027, 12, 31))
        elif n in (4, 5):  # the same photo submitted for two partnerships
            k = retail(s, chain, umkm, start)
            s.activate(k)
            for period in retail_periods(k, DATA_UNTIL):
                same = period[1] == date(2024, 12, 31)
                retail_quarter(s, k, period, photo=staged if same else None)
        else:
            standard_retail(s, chain, umkm, start)
    s.decline(retail(s, chain, pool[14], date(2025, 2, 1)), date(2025, 1, 28),
              "Kapasitas produksi belum mencukupi pesanan rutin.")
    retail(s, chain, pool[15], date(2026, 1, 1))  # waiting


def hypermarket(s: Seeder, chain: Biz, pool: list[Biz]) -> None:
    for n, umkm in enumerate(pool[:5]):
        start = month_start(2024, 1 + 2 * n)
        if n == 0:
            k = standard_retail(s, chain, umkm, start, until=date(2025, 6, 30))
            s.terminate(k, date(2025, 6, 30),
                        "Retur berulang: mutu produk tidak memenuhi standar gerai.")
        else:
            standard_retail(s, chain, umkm, start)
    k = retail(s, chain, pool[5], date(2025, 11, 1))  # agreement in, not yet confirmed
    s.agreement(k, date(2025, 10, 28), review=None)
    retail(s, chain, pool[6], date(2026, 2, 1))

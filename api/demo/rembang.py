"""Kab. Rembang: minimarkets stocking local products, a fish processor buying from fishers (and
owning one of its suppliers), a cement company's subcontracting and mentoring.
"""

from __future__ import annotations

from datetime import date, timedelta

from api.demo.actors import Seeder, company
from api.demo.dates import DATA_UNTIL, month_start, periods
from api.demo.files import shelf_photo_png
from api.demo.reports import (fish_quarter, mentoring_semester, retail, retail_periods,
                              retail_quarter, subcontract_semester)
from api.demo.world import PRODUCTS, Biz

KAB = "33.17"
COAST = ["33.17.14", "33.17.10", "33.17.09", "33.17.13", "33.17.12"]
NEAR_PLANT = [("Bengkel Las", "33121"), ("Konveksi Seragam", "14111"), ("Katering", "56290"),
              ("Angkutan Barang", "49431"), ("Kerupuk Ikan", "10794"),
              ("Batik Tulis Lasem", "13134")]


def seed(s: Seeder, chain_a: Biz) -> None:
    """`chain_a` is Kab. Bekasi's national chain, with outlets in Rembang too."""
    local = [s.umkm(KAB, i, date(2023, s.rng.randint(1, 5), 10), region=COAST[i % len(COAST)],
                    trade=PRODUCTS[KAB][i - 1]) for i in range(1, 13)]
    fishers = [s.umkm(KAB, 12 + i, date(2023, 1 + i // 2, 20),
                      region=["33.17.05", "33.17.12", "33.17.10"][i % 3],
                      trade=("Perikanan Tangkap", "03111")) for i in range(1, 10)]
    owned = s.umkm(KAB, 22, date(2023, 1, 5), region="33.17.05", scale="kecil",
                   trade=("Pengepul Ikan", "46206"), name="UD Sampel Pengepul Ikan Sarang")
    near_plant = [s.umkm(KAB, 22 + i, date(2023, 3, 1 + i),
                         region="33.17.03" if i % 2 else "33.17.04", trade=trade)
                  for i, trade in enumerate(NEAR_PLANT, 1)]
    chain_r = s.large(KAB, 1, "PT Sampel Swalayan Pantura (sampel)", "33.17.10", "47111",
                      date(2022, 6, 1), "minimarket")
    processor = s.large(KAB, 2, "PT Contoh Olahan Laut Rembang (sampel)", "33.17.05", "10213",
                        date(2022, 9, 1), "pengolahan ikan")
    cement = s.large(KAB, 3, "PT Semen Contoh Jawa Tengah (sampel)", "33.17.03", "23941",
                     date(2022, 3, 1), "semen")
    local_shelves(s, chain_r, chain_a, local)
    fish_supply(s, processor, fishers, owned)
    cement_works(s, cement, near_plant)


def local_shelves(s: Seeder, chain_r: Biz, chain_a: Biz, local: list[Biz]) -> None:
    staged = shelf_photo_png(s.rng, f"Rak produk lokal {chain_r.name}, Rembang")
    for i, umkm in enumerate(local[:8]):
        expired = umkm.trade == "Sirup Kawis"
        k = retail(s, chain_r, umkm, month_start(2023, 3 + 2 * i),
                   end=date(2024, 12, 31) if expired else None)
        s.activate(k)
        for period in retail_periods(k, k.end or DATA_UNTIL):
            same_photo = i in (1, 2) and period[1] == date(2024, 9, 30)
            retail_quarter(s, k, period, photo=staged if same_photo else None)
    s.naik_kelas(local[0], "kecil", date(2024, 7, 1), 2_600_000_000)
    for i, umkm in enumerate(local[8:]):
        k = retail(s, chain_a, umkm, month_start(2024, 2 + 2 * i), location=umkm.region)
        s.activate(k)
        for period in retail_periods(k, DATA_UNTIL):
            retail_quarter(s, k, period)
        if i == 0:
            s.amend(k, date(2025, 1, 1), value_idr=(k.value or 0) * 2,
                    title=f"Penempatan produk {umkm.trade} di rak produk lokal {chain_a.name} "
                          "(gerai Rembang dan Lasem)")


def fish_supply(s: Seeder, processor: Biz, fishers: list[Biz], owned: Biz) -> None:
    s.ledger.declare_affiliation(company(processor), s.now, processor.nib, umkm_nib=owned.nib,
                                 kind="owns", effective_date=date(2023, 1, 1))
    for i, fisher in enumerate([*fishers, owned]):
        start = month_start(2023, 3 + 2 * i)
        k = s.propose(
            processor, fisher, pola="rantai_pasok", program="rantai_pasok_industri",
            start=start, end=date(2025, 12, 31) if i == 2 else None,
            value=s.rng.randrange(300, 1_200) * 1_000_000, location=fisher.region,
            title=f"Pasokan ikan segar dari {fisher.name} ke {processor.name}",
            description="Nelayan memasok ikan segar untuk pembekuan; harga acuan mingguan, "
                        "pembayaran paling lambat 7 hari setelah penimbangan.")
        if i == 0:  # the first copy lacked the fisher's signature
            signed = start - timedelta(days=5)
            s.confirm(k, signed)
            s.agreement_rejected_first(k, signed, "Salinan perjanjian belum ditandatangani "
                                                  "pihak nelayan.", signed_by_both=False)
        else:
            s.activate(k)
        until = date(2025, 3, 31) if i == 1 else DATA_UNTIL
        for n, period in enumerate(periods(k.start, until, 3)):
            fish_quarter(s, k, period, overstated_first=(i == 3 and n == 1))
        if i == 1:
            s.terminate(k, until, "Kapal rusak berat; nelayan berhenti memasok.")
        elif i == 2:
            s.amend(k, date(2024, 7, 1), end_date=date(2027, 12, 31),
                    value_idr=(k.value or 0) + 250_000_000)


def cement_works(s: Seeder, cement: Biz, near_plant: list[Biz]) -> None:
    las, konveksi, katering, angkutan, kerupuk, batik = near_plant
    for umkm, pola, start, value in [(las, "subkontrak", date(2023, 6, 1), 480),
                                     (konveksi, "subkontrak", date(2024, 1, 15), 260),
                                     (katering, "penyumberluaran", date(2023, 9, 1), 900)]:
        k = s.propose(cement, umkm, pola=pola, program=None, start=start,
                      value=value * 1_000_000, end=date(2027, 12, 31),
                      title=f"Pekerjaan {umkm.trade.lower()} untuk pabrik semen")
        s.activate(k)
        for period in periods(k.start, DATA_UNTIL, 6):
            subcontract_semester(s, k, period)
    k = s.propose(cement, angkutan, pola="subkontrak", program=None, start=date(2024, 9, 1),
                  value=350_000_000, title="Angkutan kantong semen ke gudang penyangga")
    s.withdraw(k, date(2024, 8, 20), "Tender angkutan dibatalkan; rute dialihkan ke rel.")
    for umkm in (kerupuk, batik):
        k = s.propose(cement, umkm, pola="lainnya", program="bapak_angkat",
                      start=date(2024, 3, 1), value=30_000_000,
                      title=f"Bapak angkat: pendampingan usaha {umkm.trade} sekitar tambang",
                      description="Program TJSL: pendampingan UMKM di desa sekitar tambang "
                                  "kapur.")
        s.activate(k)
        for period in periods(k.start, DATA_UNTIL, 6):
            mentoring_semester(s, k, period)

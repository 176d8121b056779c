"""Kab. Kendal: Forum UMKM Kaliwungu members beside an industrial estate whose tenants have no
partnership yet (the compliance report's zero).
"""

from __future__ import annotations

from datetime import date

from api.demo.actors import Seeder
from api.demo.world import place

KAB = "33.24"
TENANTS = [("PT Contoh Komponen Otomotif Kendal (sampel)", "29300", "komponen otomotif"),
           ("PT Sampel Mebel Ekspor Jaya (sampel)", "31001", "mebel kayu"),
           ("PT Contoh Kemasan Plastik Nusantara (sampel)", "22220", "kemasan plastik"),
           ("PT Sampel Garmen Pantura (sampel)", "14111", "garmen"),
           ("PT Contoh Alas Kaki Semesta (sampel)", "15201", "alas kaki"),
           ("PT Sampel Pangan Olahan Kendal (sampel)", "10750", "pangan olahan")]


def seed(s: Seeder) -> None:
    members = [s.umkm(KAB, i, date(2023, s.rng.randint(1, 6), s.rng.randint(1, 28)),
                      region="33.24.08" if i <= 8 else "33.24.20",
                      note="anggota Forum UMKM Kaliwungu") for i in range(1, 13)]
    for i, (name, kbli, trade) in enumerate(TENANTS, 1):
        region = "33.24.08" if i % 2 else "33.24.09"
        s.large(KAB, i, name, region, kbli, date(2023 + i // 4, 2 * i, 1), trade,
                address=f"Kawasan industri di Kaliwungu (sampel), {place(region)}")
    # The tenants have no partnership yet; one forum member grew out of mikro.
    s.naik_kelas(members[2], "kecil", date(2025, 1, 1), 2_450_000_000)

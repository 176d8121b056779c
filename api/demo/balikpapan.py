"""Kota Balikpapan: 15 UMKM communities (60 UMKM) fostered by 20 hotels, supermarkets and malls
(`bapak_angkat`: mentoring logs, sessions per semester; a mall declares its floor area).
"""

from __future__ import annotations

from datetime import date, timedelta

from api.demo.actors import Seeder
from api.demo.dates import DATA_UNTIL, month_start, periods
from api.demo.documents import Kemitraan
from api.demo.reports import booth_semester, mentoring_semester
from api.demo.world import BALIKPAPAN_COMMUNITIES, Biz

KAB = "64.71"
HOTELS = [f"Hotel Contoh {n} Balikpapan (sampel)" for n in
          ("Teluk", "Manggar", "Klandasan", "Sepinggan", "Kilang", "Bandar", "Samudra", "Borneo",
           "Pesisir")]
MARKETS = [f"PT Sampel Swalayan {n} (sampel)" for n in
           ("Kaltim Sejahtera", "Beruang Madu", "Teluk Indah", "Gunung Sari", "Pantai Banua",
            "Karang Jati")]
MALLS = [f"PT Contoh Mal {n} Balikpapan (sampel)" for n in
         ("Permai", "Pelabuhan", "Sentosa", "Kota Baru", "Lestari")]

Community = tuple[str, list[Biz]]


def seed(s: Seeder) -> None:
    communities: list[Community] = []
    counter = 0
    for name, size, region in BALIKPAPAN_COMMUNITIES:
        members = []
        for _ in range(size):
            counter += 1
            members.append(s.umkm(KAB, counter, date(2023, s.rng.randint(1, 10), 15),
                                  region=region, note=f"anggota {name}"))
        communities.append((name, members))
    larges = foster_parents(s)
    fosters = larges[:7] + larges[9:13] + larges[15:19]
    extras = larges[7:9] + larges[13:15] + larges[19:]
    for (community, members), foster in zip(communities, fosters):
        start = month_start(2023, s.rng.randint(2, 20))
        for j, member in enumerate(members):
            k = propose(s, foster, member, community, start)
            if community == BALIKPAPAN_COMMUNITIES[2][0] and j == 1:
                s.decline(k, start, "Jadwal pendampingan bentrok dengan jam produksi; kami "
                                    "belum dapat ikut tahun ini.")
                continue
            s.activate(k)
            for n, period in enumerate(periods(k.start, DATA_UNTIL, 6)):
                mentoring_semester(s, k, period, unsigned_first=(
                    community == communities[0][0] and j == 0 and n == 1))
                if foster.trade == "pusat belanja":
                    booth_semester(s, k, period, s.rng.choice([6, 9, 12, 16]))
    grown = communities[0][1][1]
    s.naik_kelas(grown, "kecil", date(2025, 7, 1), 2_150_000_000)
    second_fosters(s, extras, communities)


def foster_parents(s: Seeder) -> list[Biz]:
    """The hotels, supermarkets and malls; the first mall declares its commercial floor area."""
    larges: list[Biz] = []
    for i, name in enumerate(HOTELS + MARKETS + MALLS, 1):
        kbli, trade = (("55110", "hotel") if name in HOTELS else
                       ("47111", "swalayan") if name in MARKETS else ("68111", "pusat belanja"))
        region = s.rng.choice(["64.71.04", "64.71.05", "64.71.06", "64.71.02"])
        larges.append(s.large(KAB, i, name, region, kbli, date(2022 + i % 2, 1 + i % 12, 1),
                              trade))
    mall = larges[len(HOTELS) + len(MARKETS)]
    s.declare_fact(mall, date(2023, 1, 1), "commercial_area", "18500", "m2")
    s.declare_fact(mall, date(2025, 7, 1), "commercial_area", "21250.5", "m2")
    return larges


def propose(s: Seeder, large: Biz, member: Biz, community: str, start: date) -> Kemitraan:
    pola = "lainnya" if large.trade == "hotel" else "perdagangan_umum"
    return s.propose(
        large, member, pola=pola, program="bapak_angkat", start=start,
        title=f"Bapak angkat {community}: pendampingan usaha {member.trade}",
        end=None if s.rng.random() < 0.6 else date(2028, 12, 31),
        value=s.rng.randrange(12, 46) * 1_000_000,
        description=f"{large.name} menjadi bapak angkat {community}: pendampingan berkala, "
                    "kurasi produk dan akses pasar"
                    + (" (booth UMKM di area mal)." if large.trade == "pusat belanja" else "."))


def second_fosters(s: Seeder, extras: list[Biz], communities: list[Community]) -> None:
    """Second foster parents for a few members, with the lifecycle's other turns."""
    picks = [(extras[i % len(extras)], communities[c][1][m]) for i, (c, m) in
             enumerate([(3, 0), (4, 1), (5, 2), (6, 0), (7, 3), (8, 1), (9, 2), (10, 0)])]
    for n, (large, member) in enumerate(picks):
        community = next(name for name, ms in communities if member in ms)
        k = propose(s, large, member, community, month_start(2024, 1 + n))
        if n == 0:
            s.withdraw(k, k.start + timedelta(days=20),
                       "Anggaran TJSL tahun berjalan dialihkan; diajukan ulang tahun depan.")
            continue
        s.activate(k)
        until = {1: date(2024, 11, 30), 2: date(2025, 7, 31)}.get(n, DATA_UNTIL)
        for period in periods(k.start, until, 6):
            mentoring_semester(s, k, period)
        if n == 1:
            s.terminate(k, until, "Usaha mitra binaan tutup; pemilik pindah domisili.")
        elif n == 2:
            s.suspend(k, date(2025, 8, 1),
                      f"Renovasi {large.trade}; pendampingan dihentikan sementara.")
        elif n == 3:
            s.amend(k, date(2025, 1, 1), value_idr=(k.value or 0) + 15_000_000,
                    title=f"{k.title} dan sertifikasi halal",
                    description=f"{k.description} Sejak 2025 termasuk pendampingan "
                                "sertifikasi halal.")

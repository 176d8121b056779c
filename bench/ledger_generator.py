"""A national-scale synthetic ledger, written straight through the recorder.

    .venv/bin/python bench/ledger_generator.py --url /tmp/ledger.db --partnerships 20000
    .venv/bin/python bench/ledger_generator.py \
        --url postgresql+psycopg://postgres@127.0.0.1:5432/kemitraan_bench \
        --partnerships 1000000 --workers 2

Every event is a real domain event, built by the aggregates' own commands (`Business.register`,
`declare_affiliation`, `change_scale`, `declare_fact`; `Partnership.propose`, `confirm`,
`decline`, `withdraw`, `amend`, `submit_evidence`, `review_evidence`, `report_realization`,
`suspend`, `resume`, `terminate`), taken with `collect_events()`, mapped with
`ledger.mapper.to_stored_event` and written with `ledger.recorder.insert_events` in one
transaction per chunk (a few thousand events). The use cases are bypassed (no loads, no
permission checks, no snapshots): the aggregates' rules still hold, because every command runs.

The data (synthetic, but shaped like the real thing):

* regions: all 38 provinces with their real Kemendagri province codes, weighted roughly by
  population; kabupaten / kota / kecamatan / desa codes below them are SYNTHETIC but
  well-formed `PP.KK.CC.DDDD` (kabupaten 01.., kota 71.., kelurahan 1001.., desa 2001..);
* businesses: 2 UMKM per 3 partnerships, 1 besar per 50 UMKM; UMKM 70 % mikro, 22 % kecil,
  8 % menengah; besar headquarters concentrated in Jakarta, Jawa and Banten; about 30 % of besar
  declare 1-3 affiliations (owns / controls) with an UMKM; naik kelas (ScaleChanged) for about
  7 % of UMKM, some facts (omzet) declared;
* partnerships: pola weighted toward perdagangan_umum, rantai_pasok and distribusi_keagenan,
  program mostly penempatan_ritel / rantai_pasok_industri / bapak_angkat by pola; besar partners
  Zipf-like (a few companies have many partnerships); about 2 % between affiliated pairs;
  lifecycles: 10 % left proposed, 6 % declined, 4 % withdrawn, 80 % confirmed, then an
  agreement file and quarterly rounds of evidence -> review (10 % rejected) -> realization,
  amendments, suspensions (mostly resumed), and about a fifth terminated; about 10 events per
  partnership in all; about 4 % of evidence files are reused (same sha256) across partnerships
  of the same besar company.

Log order: UMKM registrations, besar registrations with their affiliations, then the
partnerships, then naik kelas and facts (which fall late in business time). Business dates run
from 2021-01-01 to 2026-11-30.

Deterministic from `--seed`: chunk k of each phase draws from its own `random.Random`, so the
content does not depend on `--workers` (only the interleaving of chunks in the log does).
Rerunnable: a chunk whose first aggregate is already stored is skipped, and a chunk is one
transaction, so an interrupted run resumes where it stopped when started again with the same
arguments.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing as mp
import os
import random
import sys
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from api.settings import Settings  # noqa: E402
from api.wiring import eventsourcing_env  # noqa: E402
from domain.application import Ledger  # noqa: E402
from domain.business import Business, business_id  # noqa: E402
from domain.partnership import Partnership  # noqa: E402
from domain.values import Actor, Scale  # noqa: E402

FIRST_DAY = date(2021, 1, 1)
LAST_DAY = date(2026, 11, 30)           # "today" of the synthetic ledger
LAST_START = date(2026, 10, 31)
UMKM_PER_PARTNERSHIP = 2 / 3
UMKM_PER_LARGE = 50
P_CHUNK = 500                           # partnerships per chunk / transaction (~5,000 events)
B_CHUNK = 5000                          # businesses per chunk
NS = uuid5(NAMESPACE_URL, "https://kemitraan-ledger.example/bench-generator")
WIB = timezone(timedelta(hours=7))

# (Kemendagri province code, name, weight ~ population in millions, number of kabupaten, kota)
PROVINCES: list[tuple[str, str, float, int, int]] = [
    ("11", "Aceh", 5.4, 18, 5), ("12", "Sumatera Utara", 15.1, 25, 8),
    ("13", "Sumatera Barat", 5.6, 12, 7), ("14", "Riau", 6.6, 10, 2),
    ("15", "Jambi", 3.6, 9, 2), ("16", "Sumatera Selatan", 8.6, 13, 4),
    ("17", "Bengkulu", 2.0, 9, 1), ("18", "Lampung", 9.1, 13, 2),
    ("19", "Kepulauan Bangka Belitung", 1.5, 6, 1), ("21", "Kepulauan Riau", 2.1, 5, 2),
    ("31", "DKI Jakarta", 10.7, 1, 5), ("32", "Jawa Barat", 49.4, 18, 9),
    ("33", "Jawa Tengah", 37.5, 29, 6), ("34", "DI Yogyakarta", 3.7, 4, 1),
    ("35", "Jawa Timur", 41.4, 29, 9), ("36", "Banten", 12.3, 4, 4),
    ("51", "Bali", 4.4, 8, 1), ("52", "Nusa Tenggara Barat", 5.5, 8, 2),
    ("53", "Nusa Tenggara Timur", 5.5, 21, 1), ("61", "Kalimantan Barat", 5.5, 12, 2),
    ("62", "Kalimantan Tengah", 2.7, 13, 1), ("63", "Kalimantan Selatan", 4.1, 11, 2),
    ("64", "Kalimantan Timur", 3.8, 7, 3), ("65", "Kalimantan Utara", 0.7, 4, 1),
    ("71", "Sulawesi Utara", 2.6, 11, 4), ("72", "Sulawesi Tengah", 3.0, 12, 1),
    ("73", "Sulawesi Selatan", 9.1, 21, 3), ("74", "Sulawesi Tenggara", 2.7, 15, 2),
    ("75", "Gorontalo", 1.2, 5, 1), ("76", "Sulawesi Barat", 1.4, 6, 0),
    ("81", "Maluku", 1.8, 9, 2), ("82", "Maluku Utara", 1.3, 8, 2),
    ("91", "Papua", 1.0, 8, 1), ("92", "Papua Barat", 0.6, 7, 0),
    ("93", "Papua Selatan", 0.5, 4, 0), ("94", "Papua Tengah", 1.4, 8, 0),
    ("95", "Papua Pegunungan", 1.4, 8, 0), ("96", "Papua Barat Daya", 0.6, 5, 1),
]
# Besar headquarters: mostly Jakarta and Java.
LARGE_HQ_WEIGHT = {"31": 45.0, "32": 10.0, "35": 9.0, "36": 6.0, "33": 5.0, "12": 3.0,
                   "73": 2.0, "64": 2.0, "51": 1.5}

POLA = [("perdagangan_umum", 30), ("rantai_pasok", 24), ("distribusi_keagenan", 11),
        ("subkontrak", 8), ("inti_plasma", 8), ("waralaba", 5), ("bagi_hasil", 4),
        ("penyumberluaran", 3), ("kerja_sama_operasional", 3), ("usaha_patungan", 2),
        ("lainnya", 2)]
PROGRAM_BY_POLA = {  # (program, weight); None = no programme
    "perdagangan_umum": [("penempatan_ritel", 55), (None, 45)],
    "distribusi_keagenan": [("penempatan_ritel", 40), (None, 60)],
    "rantai_pasok": [("rantai_pasok_industri", 60), (None, 40)],
    "subkontrak": [("rantai_pasok_industri", 35), (None, 65)],
    "inti_plasma": [("bapak_angkat", 45), ("rantai_pasok_industri", 15), (None, 40)],
}
KBLI_UMKM = ["10792", "10794", "10750", "13921", "14111", "16299", "47111", "47241",
             "56101", "01131", "01262", "03217", "31001", "32902", "10710", "10763"]
KBLI_LARGE = ["46100", "47111", "10799", "10210", "20231", "46339", "52101", "10110"]
TITLES = {
    "perdagangan_umum": "Penjualan produk UMKM di gerai",
    "rantai_pasok": "Pasokan bahan baku",
    "distribusi_keagenan": "Keagenan dan distribusi produk",
    "subkontrak": "Subkontrak produksi komponen",
    "inti_plasma": "Kemitraan inti plasma",
    "waralaba": "Waralaba gerai",
    "bagi_hasil": "Usaha bagi hasil",
    "penyumberluaran": "Penyumberluaran layanan",
    "kerja_sama_operasional": "Kerja sama operasional",
    "usaha_patungan": "Usaha patungan",
    "lainnya": "Kemitraan usaha",
}
ROUND_EVIDENCE = {"perdagangan_umum": "shelf_photo", "distribusi_keagenan": "delivery_note",
                  "rantai_pasok": "delivery_note", "subkontrak": "purchase_order",
                  "inti_plasma": "mentoring_log"}
MEDIA = {"perjanjian": "application/pdf", "invoice": "application/pdf",
         "purchase_order": "application/pdf", "delivery_note": "application/pdf",
         "payment_proof": "image/jpeg", "shelf_photo": "image/jpeg",
         "mentoring_log": "application/pdf", "other": "application/pdf"}

SYSTEM_ACTOR = Actor("system", "admin")


def weighted(rng: random.Random, pairs: list[tuple[Any, float]]) -> Any:
    return rng.choices([p for p, _ in pairs], [w for _, w in pairs])[0]


def sha(*parts: Any) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


def instant(day: date, rng: random.Random) -> datetime:
    """A working-hours instant on a Jakarta business day, in UTC."""
    return datetime(day.year, day.month, day.day, 8, 0, tzinfo=WIB).astimezone(
        timezone.utc) + timedelta(seconds=rng.randrange(9 * 3600))


# ---- the population (a pure function of the seed and the size) ---------------------------------

class Population:
    """Who exists: NIBs, regions, scales and affiliations of every business, computed up front
    (each worker has the same copy), so a partnership chunk never reads the store."""

    def __init__(self, seed: int, partnerships: int) -> None:
        self.seed = seed
        self.partnerships = partnerships
        self.n_umkm = max(20, int(partnerships * UMKM_PER_PARTNERSHIP))
        self.n_large = max(4, self.n_umkm // UMKM_PER_LARGE)
        rng = random.Random(f"{seed}:population")
        self.kab: dict[str, list[str]] = {}
        for code, _, _, n_kab, n_kota in PROVINCES:
            self.kab[code] = ([f"{k:02d}" for k in range(1, n_kab + 1)]
                              + [f"{71 + k:02d}" for k in range(n_kota)])
        prov_w = [(p[0], p[2]) for p in PROVINCES]
        large_w = [(p[0], LARGE_HQ_WEIGHT.get(p[0], 0.3)) for p in PROVINCES]
        self.umkm_nib = [f"9{seed % 100:02d}{i:010d}" for i in range(self.n_umkm)]
        self.large_nib = [f"8{seed % 100:02d}{i:010d}" for i in range(self.n_large)]
        self.umkm_region = [self._region(rng, weighted(rng, prov_w)) for _ in range(self.n_umkm)]
        self.large_region = [self._region(rng, weighted(rng, large_w))
                             for _ in range(self.n_large)]
        self.umkm_scale = rng.choices(["mikro", "kecil", "menengah"], [70, 22, 8],
                                      k=self.n_umkm)
        # Affiliations: ~30 % of besar own or control 1-3 UMKM.
        self.affiliated: dict[int, list[int]] = {}
        for L in range(self.n_large):
            if rng.random() < 0.30:
                self.affiliated[L] = rng.sample(range(self.n_umkm), rng.randint(1, 3))
        self.affiliated_large = sorted(self.affiliated)

    def _region(self, rng: random.Random, prov: str) -> str:
        kab = rng.choice(self.kab[prov])
        kec = rng.randint(1, 25 if kab < "71" else 8)
        desa = (1000 if kab >= "71" or rng.random() < 0.2 else 2000) + rng.randint(1, 20)
        return f"{prov}.{kab}.{kec:02d}.{desa:04d}"

    def chunks(self) -> list[tuple[str, int]]:
        return ([("umkm", k) for k in range(-(-self.n_umkm // B_CHUNK))]
                + [("large", k) for k in range(-(-self.n_large // B_CHUNK))]
                + [("partnership", k) for k in range(-(-self.partnerships // P_CHUNK))]
                + [("naik_kelas", k) for k in range(-(-self.n_umkm // B_CHUNK))])

    def partnership_id(self, i: int) -> UUID:
        return uuid5(NS, f"{self.seed}:partnership:{i}")


# ---- chunks -------------------------------------------------------------------------------------

def register_umkm(pop: Population, k: int) -> list[Any]:
    rng = random.Random(f"{pop.seed}:umkm:{k}")
    out: list[Any] = []
    for i in range(k * B_CHUNK, min((k + 1) * B_CHUNK, pop.n_umkm)):
        on = FIRST_DAY - timedelta(days=rng.randrange(1500))
        b = Business.register(actor=SYSTEM_ACTOR, now=instant(on, rng), on=on,
                              nib=pop.umkm_nib[i], name=f"UMKM Sintetis {i}",
                              scale=Scale(pop.umkm_scale[i]), region_code=pop.umkm_region[i],
                              kbli=rng.sample(KBLI_UMKM, rng.choice((1, 1, 1, 2))),
                              address=None)
        out.extend(b.collect_events())
    return out


def register_large(pop: Population, k: int) -> list[Any]:
    rng = random.Random(f"{pop.seed}:large:{k}")
    out: list[Any] = []
    for L in range(k * B_CHUNK, min((k + 1) * B_CHUNK, pop.n_large)):
        on = FIRST_DAY - timedelta(days=rng.randrange(3000))
        b = Business.register(actor=SYSTEM_ACTOR, now=instant(on, rng), on=on,
                              nib=pop.large_nib[L], name=f"PT Besar Sintetis {L} Tbk",
                              scale=Scale.BESAR, region_code=pop.large_region[L],
                              kbli=rng.sample(KBLI_LARGE, 2), address=None)
        for u in pop.affiliated.get(L, ()):
            day = on + timedelta(days=rng.randrange(200))
            b.declare_affiliation(Actor(f"tok-{pop.large_nib[L]}", "company"), instant(day, rng),
                                  day, umkm_nib=pop.umkm_nib[u],
                                  kind="owns" if rng.random() < 0.6 else "controls", ended=None)
        out.extend(b.collect_events())
    return out


def naik_kelas(pop: Population, k: int) -> list[Any]:
    """Scale changes (7 % of UMKM up one class, 0.3 % of menengah to besar at the very end)
    and declared facts; appended after the partnerships, as they fall late in business time."""
    rng = random.Random(f"{pop.seed}:naik:{k}")
    out: list[Any] = []
    for i in range(k * B_CHUNK, min((k + 1) * B_CHUNK, pop.n_umkm)):
        r = rng.random()
        scale = pop.umkm_scale[i]
        if r >= 0.12:
            continue
        b = Business.register(actor=SYSTEM_ACTOR, now=instant(FIRST_DAY, rng), on=FIRST_DAY,
                              nib=pop.umkm_nib[i], name="x", scale=Scale(scale),
                              region_code=pop.umkm_region[i], kbli=["10792"], address=None)
        b.collect_events()  # the registration is already stored: only the new events count
        dinas = Actor(f"dinas-{pop.umkm_region[i][:5]}", "dinas")
        day = date(2023, 1, 1) + timedelta(days=rng.randrange(1300))
        if r < 0.07 and scale != "menengah":
            to = Scale.KECIL if scale == "mikro" else Scale.MENENGAH
            omzet = 2_500_000_000 if to is Scale.KECIL else 20_000_000_000
            b.change_scale(dinas, instant(day, rng), day, to,
                           {"omzet_tahunan_idr": omzet + rng.randrange(10**9)})
        elif r < 0.073 and scale == "menengah":
            day = LAST_DAY - timedelta(days=rng.randrange(10))
            b.change_scale(dinas, instant(day, rng), day, Scale.BESAR,
                           {"omzet_tahunan_idr": 60_000_000_000 + rng.randrange(10**10)})
        else:
            b.declare_fact(Actor(f"tok-{pop.umkm_nib[i]}", "umkm"), instant(day, rng), day,
                           name="omzet_tahunan", value=Decimal(rng.randrange(10**6, 10**10)),
                           unit="IDR", evidence_id=None)
        out.extend(b.collect_events())
    return out


def partnerships(pop: Population, k: int) -> list[Any]:
    rng = random.Random(f"{pop.seed}:partnership:{k}")
    out: list[Any] = []
    for i in range(k * P_CHUNK, min((k + 1) * P_CHUNK, pop.partnerships)):
        out.extend(one_partnership(pop, rng, i))
    return out


def one_partnership(pop: Population, rng: random.Random, i: int) -> list[Any]:
    if pop.affiliated_large and rng.random() < 0.02:  # between affiliated parties
        L = rng.choice(pop.affiliated_large)
        u = rng.choice(pop.affiliated[L])
    else:
        L = int(pop.n_large * rng.random() ** 2.5)  # Zipf-like: low indices get many
        u = (i * 7919 + rng.randrange(3)) % pop.n_umkm
    large, umkm = pop.large_nib[L], pop.umkm_nib[u]
    company = Actor(f"tok-{large}", "company")
    small = Actor(f"tok-{umkm}", "umkm")
    reviewer = Actor(f"dinas-{pop.umkm_region[u][:5]}", "dinas")
    pola = weighted(rng, POLA)
    program = weighted(rng, PROGRAM_BY_POLA.get(pola, [(None, 1)]))
    # Starts grow over time (more partnerships in later years).
    span = (LAST_START - FIRST_DAY).days
    start = FIRST_DAY + timedelta(days=int(span * rng.random() ** 0.7))
    end = (start + timedelta(days=365 * rng.choice((1, 2, 2, 3, 5)))
           if rng.random() < 0.9 else None)
    ur = pop.umkm_region[u]
    loc = rng.choices((ur, ur[:8], ur[:5]), (70, 20, 10))[0]
    value = rng.choice((None, rng.randrange(10, 5000) * 1_000_000)) if rng.random() < 0.3 \
        else rng.randrange(10, 5000) * 1_000_000
    day = start - timedelta(days=rng.randrange(1, 30))
    p = Partnership.propose(
        id=pop.partnership_id(i), actor=company, now=instant(day, rng), large_nib=large,
        umkm_nib=umkm, pola=pola, program=program, title=f"{TITLES[pola]} nomor {i}",
        start_date=start, end_date=end, value_idr=value, location_region_code=loc,
        description=None if rng.random() < 0.7 else f"Kemitraan sintetis {i} untuk benchmark",
        large_region_code=pop.large_region[L], umkm_region_code=ur)

    def later(lo: int, hi: int) -> date | None:
        nonlocal day
        nxt = day + timedelta(days=rng.randint(lo, hi))
        if nxt > LAST_DAY:
            return None
        day = nxt
        return day

    fate = rng.random()
    if fate < 0.20:  # not confirmed (yet)
        if rng.random() < 0.25 and later(1, 20):
            p.amend(company, instant(day, rng), day, {"value_idr": (value or 0) + 5_000_000})
        if fate < 0.06 and later(1, 30):
            p.decline(small, instant(day, rng), day, "Kapasitas produksi belum mencukupi")
        elif fate < 0.10 and later(1, 30):
            p.withdraw(company, instant(day, rng), day, "Kebutuhan pasokan berubah")
        return p.collect_events()
    if not later(1, 30):
        return p.collect_events()
    p.confirm(small, instant(day, rng), max(day, start), None)
    day = max(day, start)
    n_ev = 0

    def evidence(kind: str, reuse: bool) -> tuple[str, bool] | None:
        nonlocal n_ev
        when = later(3, 40)
        if when is None:
            return None
        n_ev += 1
        eid = str(uuid5(NS, f"{pop.seed}:evidence:{i}:{n_ev}"))
        digest = sha(pop.seed, "doc", L, rng.randrange(5)) if reuse else sha(pop.seed, i, n_ev)
        p.submit_evidence(small, instant(when, rng), when, evidence_id=eid, kind=kind,
                          sha256=digest, size=rng.randrange(20_000, 4_000_000),
                          media_type=MEDIA[kind], period_start=None, period_end=None,
                          description=None)
        if rng.random() < 0.08 or not later(1, 14):
            return eid, False  # not reviewed (yet)
        ok = rng.random() < 0.9
        p.review_evidence(reviewer if rng.random() < 0.5 else company, instant(day, rng), day,
                          evidence_id=eid, decision="verified" if ok else "rejected",
                          reason=None if ok else "Dokumen tidak terbaca")
        return eid, ok

    evidence("perjanjian", rng.random() < 0.15)
    rounds = min(int(rng.expovariate(1 / 3.5)), 14)
    round_kind = ROUND_EVIDENCE.get(pola, "invoice")
    suspended = False
    for r in range(rounds):
        got = evidence(round_kind if rng.random() < 0.6 else "invoice", rng.random() < 0.03)
        if got is None:
            break
        eid, ok = got
        if ok and not suspended and later(1, 20):
            period_end = day - timedelta(days=1)
            p.report_realization(
                small, instant(day, rng), day, realization_id=str(uuid5(NS, f"{pop.seed}:realization:{i}:{r}")),
                period_start=period_end - timedelta(days=89), period_end=period_end,
                value_idr=rng.randrange(1, 500) * 1_000_000,
                quantity=float(rng.randrange(10, 5000)) if rng.random() < 0.4 else None,
                unit="kg" if pola in ("rantai_pasok", "inti_plasma") else "unit",
                evidence_ids=[eid])
        x = rng.random()
        if x < 0.06 and not suspended and later(5, 60):
            p.amend(company, instant(day, rng), day,
                    {"value_idr": (p.value_idr or 0) + rng.randrange(1, 500) * 1_000_000})
        elif x < 0.10 and not suspended and later(5, 60):
            p.suspend(company, instant(day, rng), day, "Audit lapangan")
            suspended = True
        elif suspended and x < 0.8 and later(10, 90):
            p.resume(company, instant(day, rng), day)
            suspended = False
    if rng.random() < 0.22 and later(5, 120):
        p.terminate(company, instant(day, rng), day,
                    "Masa kontrak selesai" if rng.random() < 0.6 else "Wanprestasi")
    return p.collect_events()


PHASES = {"umkm": register_umkm, "large": register_large, "partnership": partnerships,
          "naik_kelas": naik_kelas}


# ---- writing ------------------------------------------------------------------------------------

def env_for(url: str) -> dict[str, str]:
    if "://" not in url:
        url = f"sqlite:///{Path(url).resolve()}"
    _, env, _ = eventsourcing_env(Settings(database_url=url, data_dir=Path("/tmp")))
    return env


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database named in the URL when it does not exist yet."""
    if "://" not in url or url.startswith("sqlite"):
        return
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    u = make_url(url)
    with psycopg.connect(host=u.host or "127.0.0.1", port=u.port or 5432,
                         user=u.username or "postgres", password=u.password or "",
                         dbname="postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (u.database,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(u.database)))


def first_id(pop: Population, phase: str, k: int) -> UUID | None:
    if phase == "umkm":
        return business_id(pop.umkm_nib[k * B_CHUNK])
    if phase == "large":
        return business_id(pop.large_nib[k * B_CHUNK])
    if phase == "partnership":
        return pop.partnership_id(k * P_CHUNK)
    return None  # naik_kelas: appends to existing streams; see `done_naik_kelas`


_worker: dict[str, Any] = {}


def _init_worker(url: str, seed: int, n: int, create_table: bool = True) -> None:
    # pool workers find the tables made by main(): creating them again in parallel made
    # PostgreSQL fail one worker with "tuple concurrently updated"
    env = env_for(url) if create_table else {**env_for(url), "CREATE_TABLE": "n"}
    _worker["ledger"] = Ledger(env=env)
    if "pop" not in _worker:  # forked workers inherit the parent's
        _worker["pop"] = Population(seed, n)


def run_chunk(task: tuple[str, int]) -> tuple[str, int, int, float]:
    """(phase, chunk, events written (0 = already there), seconds)."""
    phase, k = task
    try:
        return _run_chunk(phase, k)
    except Exception as e:  # domain errors do not unpickle across the pool: pass the text
        raise RuntimeError(f"{phase} chunk {k}: {type(e).__name__}: {e}") from None


def _run_chunk(phase: str, k: int) -> tuple[str, int, int, float]:
    ledger, pop = _worker["ledger"], _worker["pop"]
    t = time.perf_counter()
    agg_id = first_id(pop, phase, k)
    if agg_id is not None and ledger.recorder.select_events(agg_id, limit=1):
        return phase, k, 0, time.perf_counter() - t
    events = PHASES[phase](pop, k)
    if phase == "naik_kelas" and events:
        stored = ledger.recorder.select_events(events[0].originator_id,
                                               gt=events[0].originator_version - 1, limit=1)
        if stored:
            return phase, k, 0, time.perf_counter() - t
    to_stored = ledger.mapper.to_stored_event
    ledger.recorder.insert_events([to_stored(e) for e in events])
    return phase, k, len(events), time.perf_counter() - t


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True,
                    help="a SQLite file path (or sqlite:///...) or postgresql+psycopg://...")
    ap.add_argument("--partnerships", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workers", type=int, default=1,
                    help="processes (PostgreSQL only; SQLite has one writer)")
    args = ap.parse_args(argv)
    sqlite = "://" not in args.url or args.url.startswith("sqlite")
    workers = 1 if sqlite else max(1, args.workers)
    ensure_database(args.url)
    t0 = time.perf_counter()
    pop = Population(args.seed, args.partnerships)
    print(f"population: {pop.n_umkm:,} UMKM, {pop.n_large:,} besar, "
          f"{len(pop.affiliated):,} besar with affiliations "
          f"({time.perf_counter() - t0:.1f} s)", flush=True)
    Ledger(env=env_for(args.url)).close()  # create the tables once, before the workers race
    _worker["pop"] = pop
    total = written_before = 0
    t_start = time.perf_counter()
    last_print = t_start
    by_phase: dict[str, list[str | int]] = {}
    for phase in PHASES:  # phases in order: every business exists before its partnerships
        tasks = [c for c in pop.chunks() if c[0] == phase]
        if workers == 1:
            if "ledger" not in _worker:
                _init_worker(args.url, args.seed, args.partnerships)
            results = map(run_chunk, tasks)
            pool = None
        else:
            pool = mp.get_context("fork").Pool(workers, _init_worker,
                                               (args.url, args.seed, args.partnerships, False))
            results = pool.imap_unordered(run_chunk, tasks)
        n_phase = skipped = 0
        for _, k, n, _s in results:
            n_phase += n
            skipped += n == 0
            now = time.perf_counter()
            if now - last_print > 15:
                done = total + n_phase - written_before
                print(f"  {phase} chunk {k}: {total + n_phase:,} events written, "
                      f"{done / (now - t_start):,.0f} events/s", flush=True)
                last_print = now
        if pool is not None:
            pool.close()
            pool.join()
        total += n_phase
        by_phase[phase] = [n_phase, skipped]
        print(f"{phase}: {n_phase:,} events in {len(tasks)} chunks ({skipped} skipped)",
              flush=True)
    wall = time.perf_counter() - t_start
    print(f"written {total:,} events for {args.partnerships:,} partnerships in {wall:.1f} s: "
          f"{total / wall:,.0f} events/s ({workers} worker(s)); "
          f"pid {os.getpid()}", flush=True)


if __name__ == "__main__":
    main()

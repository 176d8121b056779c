"""Compliance: the cost of the pure evaluation and of GET /v1/compliance at national scale.

    .venv/bin/python bench/compliance.py pure                 # 10k / 100k / 1M facts, in memory
    .venv/bin/python bench/compliance.py seed  --url postgresql+psycopg://postgres@127.0.0.1/kemitraan_bench_compliance
    .venv/bin/python bench/compliance.py query --url postgresql+psycopg://postgres@127.0.0.1/kemitraan_bench_compliance

1. pure   `domain.compliance.evaluate_business` over N synthetic `PartnershipRecord`s spread
          over N/200 businesses (200 partnerships each, one year, a real_partnerships and a
          share obligation), N = 10k, 100k, 1M; time and time per partnership, and the ratios
          against N = 10k measured in the same run (linear: ratio of time = ratio of N).
2. seed   a SYNTHETIC read side written straight into the view tables (no events): 5,000 besar
          businesses in province 31 (DKI Jakarta) each declaring a commercial_area, 400,000
          UMKM, 1,000,000 partnerships (70 % documented with an eligible window, two
          realizations in 2024 each, 85 % of them counted, 5 % with a suspension), and the
          rules/*.json packs enacted through the ledger (real events; the regulations view
          catches up on them).
3. query  the list's full path (`evaluate_region`: every candidate partnership through the
          domain) and its fast path (`measure_region`: sums in SQL, ADR 0015) in the same run,
          with the ratio and whether they give the same items; then
          GET /v1/compliance?region=31&period=2024 through the app (in-process ASGI, a real admin
          token) twice, and GET /v1/compliance/{nib} for the largest business.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from domain.compliance import (  # noqa: E402
    BusinessFacts, DeclaredFact, PartnershipRecord, RegulationVersion, evaluate_business,
    parse_period,
)
from domain.reality import (  # noqa: E402
    PartnershipFacts, PartyFacts, RealizationFacts, eligible_windows,
)
from projections.real_partnerships import real_spans, span  # noqa: E402

SPAN_COLUMNS = [c.name for c in span.c]

PER_BUSINESS = 200
D0 = date(2024, 1, 1)


def _versions() -> list[list[RegulationVersion]]:
    out = []
    for name in ("peraturan-bkpm-3-2025-pasal-22", "perda-dki-2-2018"):
        pack = json.loads((ROOT / "rules" / f"{name}.json").read_text())
        pack = {**pack, "effective_from": "2021-01-01"} if name.startswith("peraturan") else pack
        out.append([RegulationVersion(pack["id"], 1, pack, date.fromisoformat(
            pack["effective_from"]), None)])
    return out


def _records(n: int, rng: random.Random) -> dict[str, list[PartnershipRecord]]:
    by_nib: dict[str, list[PartnershipRecord]] = {}
    for i in range(n):
        nib = f"31{i // PER_BUSINESS:011d}"
        start = D0 + timedelta(days=rng.randrange(-400, 300))
        reviews = ("verified",) if rng.random() < 0.85 else (None,)
        f = PartnershipFacts(
            id=f"p{i}", large_nib=nib, umkm_nib=f"3171{rng.randrange(400_000):09d}",
            pola="rantai_pasok", program=None, location_region_code="31.71",
            large_region_code="31.71", umkm_region_code="31.71.01", start_date=start,
            end_date=start + timedelta(days=rng.randrange(90, 900)),
            confirmed=rng.random() < 0.8, perjanjian_verified=rng.random() < 0.85,
            suspensions=((start + timedelta(days=30), start + timedelta(days=60)),)
            if rng.random() < 0.05 else (),
            realizations=(RealizationFacts(f"r{i}a", date(2024, 3, 1), date(2024, 3, 31),
                                           1_000_000, 20.0, "m2", reviews),
                          RealizationFacts(f"r{i}b", date(2024, 9, 1), date(2024, 9, 30),
                                           2_000_000, 10.0, "m2", ("verified",))))
        scales = ((date(2020, 1, 1), rng.choice(["mikro", "mikro", "kecil", "menengah"])),)
        if rng.random() < 0.07:
            scales += ((date(2024, 6, 1), "besar"),)
        by_nib.setdefault(nib, []).append(PartnershipRecord(f, PartyFacts(scales, ())))
    return by_nib


def pure(sizes: list[int]) -> list[dict[str, Any]]:
    rng = random.Random(7)
    versions = _versions()
    period = parse_period("2024")
    rows = []
    for n in sizes:
        by_nib = _records(n, rng)
        businesses = [BusinessFacts(nib, f"PT {nib}", "31.71", ("47111",),
                                    ((date(2015, 1, 1), "besar"),),
                                    (DeclaredFact("commercial_area", Decimal(20_000), "m2",
                                                  date(2020, 1, 1)),))
                      for nib in by_nib]
        gc.collect()
        gc.freeze()  # the facts live for the whole run: keep the collector off them
        best = float("inf")
        for _ in range(2 if n >= 1_000_000 else 3):
            t = time.perf_counter()
            results = [r for b in businesses
                       for r in evaluate_business(versions, b, by_nib[b.nib], period)]
            best = min(best, time.perf_counter() - t)
        # the same first business (200 partnerships) alone, inside this heap: the algorithm's
        # cost per partnership without the whole run's cache misses
        first = businesses[0]
        alone = float("inf")
        for _ in range(50):
            t = time.perf_counter()
            evaluate_business(versions, first, by_nib[first.nib], period)
            alone = min(alone, time.perf_counter() - t)
        rows.append({"partnerships": n, "businesses": len(businesses), "results": len(results),
                     "seconds": best, "us_per_partnership_obligation": best / n / 2 * 1e6,
                     "one_business_us_per_partnership_obligation":
                         alone / len(by_nib[first.nib]) / 2 * 1e6})
        del by_nib, businesses
        gc.unfreeze()
        gc.collect()
    base = rows[0]
    for r in rows:
        r["ratio_n"] = r["partnerships"] / base["partnerships"]
        r["ratio_time"] = r["seconds"] / base["seconds"]
    return rows


# --- the synthetic read side ------------------------------------------------------------------

def _copy(conn: Any, table: str, columns: list[str], rows: Any) -> int:
    n = 0
    with conn.cursor() as cur:
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                n += 1
    return n


def seed(url: str, n: int, businesses: int) -> None:
    import psycopg

    from api.settings import Settings
    from api.wiring import build
    from domain.access import SYSTEM

    data_dir = Path("/tmp/kemitraan-bench-compliance")
    container = build(Settings(data_dir=data_dir, database_url=url))
    now = datetime(2024, 12, 1, tzinfo=timezone.utc)
    for pack_file in sorted((ROOT / "rules").glob("*.json")):
        pack = json.loads(pack_file.read_text())
        try:
            container.ledger.enact_regulation(SYSTEM, now, pack)
        except Exception as e:  # already enacted on a second run
            print(f"  {pack['id']}: {type(e).__name__}")
    container.views.catch_up()
    container.close()
    rng = random.Random(11)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    t = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        with conn.cursor() as cur:
            for table in ("view_compliance_business", "view_compliance_fact", "view_real_scale",
                          "view_real_partnership", "view_real_window", "view_real_realization",
                          "view_real_suspension", "view_evidence_index", "view_real_span"):
                cur.execute(f"TRUNCATE {table}")
        larges = [f"31{i:011d}" for i in range(businesses)]
        umkms = [f"3171{i:09d}" for i in range(400_000)]
        _copy(conn, "view_compliance_business", ["business_id", "nib", "name", "region_code",
                                                  "kbli"],
              ((f"00000000-0000-0000-0000-{i:012d}", nib, f"PT Sintetis {i}",
                f"31.{71 + i % 5:02d}", "47111") for i, nib in enumerate(larges)))
        _copy(conn, "view_compliance_fact", ["seq", "business_id", "name", "value", "unit",
                                              "effective_date", "recorded_at"],
              ((10**9 + i, f"00000000-0000-0000-0000-{i:012d}", "commercial_area",
                str(rng.randrange(5_000, 60_000)), "m2", date(2020, 1, 1), now)
               for i in range(businesses)))
        seq = [2 * 10**9]
        scales: dict[str, tuple[tuple[date, str], ...]] = {}

        def scale_rows() -> Any:
            for nib in larges:
                seq[0] += 1
                yield (nib, seq[0], date(2015, 1, 1), "besar")
            for nib in umkms:
                seq[0] += 1
                first = (date(2020, 1, 1),
                         rng.choice(["mikro", "mikro", "mikro", "kecil", "menengah"]))
                scales[nib] = (first,)
                yield (nib, seq[0], *first)
                if rng.random() < 0.07:
                    seq[0] += 1
                    scales[nib] += ((date(2024, 6, 1), "besar"),)
                    yield (nib, seq[0], date(2024, 6, 1), "besar")
        _copy(conn, "view_real_scale", ["nib", "seq", "from_date", "scale"], scale_rows())
        # Zipf-like: a few businesses have many partnerships
        weights = [1 / (i + 10) for i in range(businesses)]
        owners = rng.choices(larges, weights, k=n)
        plan = []
        for i in range(n):
            start = D0 + timedelta(days=rng.randrange(-400, 300))
            end = start + timedelta(days=rng.randrange(90, 900))
            documented = rng.random() < 0.7
            suspended = rng.random() < 0.05
            plan.append((f"{i:08d}-0000-4000-8000-000000000000", owners[i],
                         rng.choice(umkms), start, end, documented, suspended))
        _copy(conn, "view_real_partnership", [
            "id", "large_nib", "umkm_nib", "pola", "program", "value_idr",
            "location_region_code", "large_region_code", "umkm_region_code", "start_date",
            "end_date", "terminated_on", "confirmed", "declined", "withdrawn",
            "perjanjian_verified", "documented", "term_start", "term_end"],
              ((pid, large, umkm, "rantai_pasok", "rantai_pasok_industri", 100_000_000,
                "31.71", "31.71", "31.71.01", s, e, None, True, False, False, doc, doc, s, e)
               for pid, large, umkm, s, e, doc, _ in plan))

        stored_windows: dict[str, list[tuple[date, date | None]]] = {}

        def windows() -> Any:  # what the view stores: `domain.reality.eligible_windows`
            for pid, large, umkm, s, e, doc, sus in plan:
                if not doc:
                    continue
                f = PartnershipFacts(
                    id=pid, large_nib=large, umkm_nib=umkm, pola="rantai_pasok", program=None,
                    location_region_code="31.71", large_region_code="31.71",
                    umkm_region_code="31.71.01", start_date=s, end_date=e, confirmed=True,
                    perjanjian_verified=True,
                    suspensions=((s + timedelta(days=30), s + timedelta(days=60)),) if sus
                    else ())
                for a, z in eligible_windows(f, PartyFacts(scales[umkm], ())):
                    stored_windows.setdefault(pid, []).append((a, z))
                    yield (pid, a, z)
        _copy(conn, "view_real_window", ["partnership_id", "from_date", "to_date"], windows())
        _copy(conn, "view_real_suspension", ["partnership_id", "n", "from_date", "to_date"],
              ((pid, 0, s + timedelta(days=30), s + timedelta(days=60))
               for pid, _, _, s, _, _, sus in plan if sus))

        counted: dict[str, list[dict[str, Any]]] = {}

        def realizations() -> Any:
            for pid, _, _, s, e, doc, _ in plan:
                for k, (a, z) in enumerate(((date(2024, 3, 1), date(2024, 3, 31)),
                                            (date(2024, 9, 1), date(2024, 9, 30)))):
                    row = (f"{pid[:-1]}{k}", pid, a, z, 1_000_000 * (k + 1), 10.0 * (k + 1),
                           "m2", f"{pid[:-1]}{k}", rng.random() < 0.85)
                    if row[-1]:
                        counted.setdefault(pid, []).append(
                            {"period_start": a, "period_end": z, "value_idr": row[4],
                             "quantity": row[5], "unit": row[6]})
                    yield row
        _copy(conn, "view_real_realization", [
            "realization_id", "partnership_id", "period_start", "period_end", "value_idr",
            "quantity", "unit", "evidence_ids", "counted"], realizations())

        def spans() -> Any:  # what the view stores: `projections.real_partnerships.real_spans`
            for pid, large, umkm, _, _, doc, _ in plan:
                row = {"id": pid, "documented": doc, "large_nib": large, "umkm_nib": umkm,
                       "umkm_region_code": "31.71.01"}
                for x in real_spans(row, stored_windows.get(pid, []), counted.get(pid, []),
                                    scales[umkm]):
                    yield tuple(x[c] for c in SPAN_COLUMNS)
        _copy(conn, "view_real_span", SPAN_COLUMNS, spans())
        conn.commit()
        with conn.cursor() as cur:
            cur.execute("ANALYZE")
    print(f"seeded {n:,} partnerships for {businesses:,} besar in {time.perf_counter() - t:.0f} s")


def query(url: str, repeat: int = 2) -> dict[str, Any]:
    import sqlalchemy as sa
    from fastapi.testclient import TestClient

    from api import compliance_report as cr
    from api.app import create_app
    from api.auth import new_secret, secret_hash
    from api.settings import Settings
    from api.wiring import build
    from domain.access import SYSTEM

    container = build(Settings(data_dir=Path("/tmp/kemitraan-bench-compliance"),
                               database_url=url))
    secret = new_secret()
    container.ledger.issue_token(SYSTEM, datetime.now(timezone.utc),
                                 secret_sha256_hex=secret_hash(secret), role="admin",
                                 region=None, nibs=[], name="bench")
    out: dict[str, Any] = {}
    with container.engine.connect() as conn:
        out["partnerships"] = conn.execute(sa.text(
            "select count(*) from view_real_partnership")).scalar()
        out["besar_in_31"] = conn.execute(sa.text(
            "select count(*) from view_compliance_business where region_code like '31.%'"
        )).scalar()
        top = conn.execute(sa.text("select large_nib, count(*) n from view_real_partnership "
                                   "group by large_nib order by n desc limit 1")).one()
    # the baseline: the full path (every candidate partnership read and given to
    # domain.compliance.evaluate), then the fast path the route takes (sums in SQL), same run
    period = parse_period("2024")
    with container.engine.connect() as conn:
        t = time.perf_counter()
        _, full = cr.evaluate_region(container.ledger, conn, region="31", period=period)
        full_s = time.perf_counter() - t
        t = time.perf_counter()
        _, fast = cr.measure_region(container.ledger, conn, region="31", period=period)
        fast_s = time.perf_counter() - t
    same = [(cr.item(r), r.reasons) for r in full] == [(cr.item(r), r.reasons) for r in fast]
    out["full_path_s"], out["fast_path_s"] = full_s, fast_s
    out["ratio_full_over_fast"], out["same_items"] = full_s / fast_s, same
    print(json.dumps(out, default=str), flush=True)
    del full
    app = create_app(container, run_projections=False)
    headers = {"Authorization": f"Bearer {secret}"}
    timings = []
    with TestClient(app) as client:
        for _ in range(repeat):
            t = time.perf_counter()
            r = client.get("/v1/compliance", params={"region": "31", "period": "2024"},
                           headers=headers)
            timings.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text[:300]
            print(f"GET /v1/compliance?region=31&period=2024: {timings[-1]:.1f} s", flush=True)
        items = r.json()["items"]
        t = time.perf_counter()
        r = client.get(f"/v1/compliance/{top.large_nib}", params={"period": "2024"},
                       headers=headers)
        explain = time.perf_counter() - t
        assert r.status_code == 200, r.text[:300]
    container.close()
    out.update(list_seconds=timings, items=len(items),
               non_compliant=sum(1 for i in items if i["status"] == "non_compliant"),
               explain_seconds=explain, explain_nib=top.large_nib, explain_partnerships=top.n)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["pure", "seed", "query"])
    ap.add_argument("--url")
    ap.add_argument("--partnerships", type=int, default=1_000_000)
    ap.add_argument("--businesses", type=int, default=5_000)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    a = ap.parse_args()
    if a.what == "pure":
        for row in pure([int(x) for x in a.sizes.split(",")]):
            print(json.dumps(row))
    elif a.what == "seed":
        seed(a.url, a.partnerships, a.businesses)
    else:
        print(json.dumps(query(a.url), default=str, indent=1))


if __name__ == "__main__":
    main()

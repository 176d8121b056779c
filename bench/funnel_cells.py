"""Statistics from the funnel cells (ADR 0019) against the live scan, in the same run.

On a ledger whose `real_partnerships` view is caught up (by `bench/readside.py`, or by
`kemitraan project`), for a few calendar spans:

1. refresh  `funnel_cube.refresh(span)` in one transaction: wall time, and as a ratio to one
            national live scan of the same span (the baseline, measured just before);
2. latency  `funnel_cube.funnel_stats` (what the route calls) and `GET /v1/stats/partnerships`
            through the app over httpx's ASGI transport, p50/p95 per region level and group_by,
            with the live `funnel()` on the same cells as the baseline (fewer samples: it is slow);
3. check    every sampled cell answer equals the live scan's.

Only the `real_partnerships` view is used: the container's runtime is replaced by one that runs
that view alone, so a read never starts catching up the others.

    .venv/bin/python bench/funnel_cells.py --url postgresql+psycopg://.../kemitraan_bench
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from time import perf_counter
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.app import settle_heap  # noqa: E402
from bench.readside import environment, open_container, pct  # noqa: E402
from domain.compliance import Period, parse_period, quarter  # noqa: E402
from projections import funnel_cube  # noqa: E402
from projections.evidence_index import EvidenceIndexView  # noqa: E402
from projections.real_partnerships import GROUPINGS, RealPartnershipsView, facts, funnel  # noqa: E402
from projections.runtime import Runtime  # noqa: E402

LEVELS = ("national", "province", "kabupaten")


def regions(c: Any, n: int, seed: int) -> dict[str, list[str | None]]:
    """Provinces and kabupaten/kota drawn as the partnerships' locations are."""
    with c.engine.connect() as conn:
        rows = conn.execute(sa.select(facts.c.location_region_code)
                            .where(facts.c.id >= f"{random.Random(seed).getrandbits(32):08x}")
                            .order_by(facts.c.id).limit(20_000)).scalars().all()
    rng = random.Random(seed)
    picks = [rng.choice(rows) for _ in range(n)]
    return {"national": [None] * n, "province": [p[:2] for p in picks],
            "kabupaten": [p[:5] for p in picks]}


def timed(fn: Any, *args: Any, **kw: Any) -> tuple[float, Any]:
    t = perf_counter()
    out = fn(*args, **kw)
    return perf_counter() - t, out


def measure_refresh(c: Any, spans: list[Period]) -> list[dict[str, Any]]:
    out = []
    for p in spans:
        with c.engine.connect() as conn:
            scan, _ = timed(funnel, conn, region=None, date_from=p.start, date_to=p.end,
                            group_by="pola")
        with c.engine.begin() as conn:
            took, _ = timed(funnel_cube.refresh, conn, p.label)
            rows = conn.execute(sa.select(sa.func.count()).select_from(funnel_cube.cell)
                                .where(funnel_cube.cell.c.span == p.label)).scalar()
        out.append({"span": p.label, "scan_s": scan, "refresh_s": took, "cells": rows,
                    "ratio": took / scan})
        print(f"  refresh {p.label:8s} {took:7.1f} s = {took / scan:5.1f} national scans "
              f"({scan:.2f} s); {rows:,} cells", flush=True)
    return out


def measure_latency(c: Any, spans: list[Period], picks: dict[str, list[str | None]],
                    live_samples: int, budget: float) -> tuple[list[dict[str, Any]], int]:
    out, checked = [], 0
    for p in spans:
        for level in LEVELS:
            for g in GROUPINGS:
                q = dict(date_from=p.start, date_to=p.end, group_by=g)
                lat, live_lat = [], []
                t_end = perf_counter() + budget
                with c.engine.connect() as conn:
                    funnel_cube.funnel_stats(conn, region=picks[level][0], **q)  # warm-up
                    answers = []
                    for code in picks[level]:
                        took, answer = timed(funnel_cube.funnel_stats, conn, region=code, **q)
                        lat.append(took)
                        answers.append(answer)
                        if perf_counter() > t_end:
                            break
                    for code, answer in list(zip(picks[level], answers))[:live_samples]:
                        took, live = timed(funnel, conn, region=code, **q)
                        live_lat.append(took)
                        if answer[:2] != live:
                            raise AssertionError(f"cells differ from the scan: {p.label} "
                                                 f"{code} {g}")
                        checked += 1
                row = {"span": p.label, "level": level, "group_by": g, "n": len(lat),
                       "p50": pct(lat, 50) * 1000, "p95": pct(lat, 95) * 1000,
                       "live_n": len(live_lat), "live_p50": pct(live_lat, 50) * 1000}
                row["speedup"] = row["live_p50"] / row["p50"]
                out.append(row)
                print(f"  {p.label:8s} {level:9s} {g:9s} n={row['n']:3d} p50 {row['p50']:6.1f} "
                      f"p95 {row['p95']:6.1f} ms | scan p50 {row['live_p50']:8.1f} ms "
                      f"(n={row['live_n']}) x{row['speedup']:,.0f}", flush=True)
    return out, checked


async def measure_http(c: Any, p: Period, picks: dict[str, list[str | None]], budget: float
                       ) -> list[dict[str, Any]]:
    import httpx

    from api.app import create_app
    from api.auth import principal
    from domain.access import SYSTEM

    app = create_app(c)
    app.dependency_overrides[principal] = lambda: SYSTEM
    out = []
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        c.views.stop()  # the lifespan starts the app's runner: this bench reads only
        for level in LEVELS:
            for g in GROUPINGS:
                async def get(code: str | None) -> None:
                    params = {"group_by": g, "from": p.start.isoformat(),
                              "to": p.end.isoformat(), **({"region": code} if code else {})}
                    r = await client.get("/v1/stats/partnerships", params=params)
                    if r.status_code != 200:
                        raise RuntimeError(f"{params}: {r.status_code} {r.text[:300]}")
                await get(picks[level][0])
                lat: list[float] = []
                t_end = perf_counter() + budget
                for code in picks[level]:
                    t = perf_counter()
                    await get(code)
                    lat.append(perf_counter() - t)
                    if perf_counter() > t_end:
                        break
                out.append({"span": p.label, "level": level, "group_by": g, "n": len(lat),
                            "p50": pct(lat, 50) * 1000, "p95": pct(lat, 95) * 1000})
                print(f"  http {p.label:8s} {level:9s} {g:9s} n={len(lat):3d} p50 "
                      f"{out[-1]['p50']:6.1f} p95 {out[-1]['p95']:6.1f} ms", flush=True)
    return out


def report(env: dict[str, Any], n: int, refresh: list[dict[str, Any]],
           lat: list[dict[str, Any]], http: list[dict[str, Any]], checked: int) -> str:
    lines = [f"- **Run:** {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
             f"`bench/funnel_cells.py {' '.join(sys.argv[1:])}`",
             f"- **Machine:** {env.get('machine', '')}; {env.get('db', '')}",
             f"- **Dataset:** {n:,} partnerships in `view_real_partnership`.",
             f"- **Checked:** {checked:,} sampled cell answers equal the live scan's.", "",
             "| Span | refresh (one transaction) | one national scan (baseline) | ratio | cells |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['span']} | {r['refresh_s']:.1f} s | {r['scan_s']:.2f} s | "
              f"{r['ratio']:.1f} | {r['cells']:,} |" for r in refresh]
    lines += ["", "`funnel_stats` from the cells, ms p50 / p95 (n), and the live scan's p50 "
              "on the same queries (baseline, fewer samples):", "",
              "| Span | Level | " + " | ".join(GROUPINGS) + " |",
              "|---|---|" + "---|" * len(GROUPINGS)]
    for span in dict.fromkeys(r["span"] for r in lat):
        for level in LEVELS:
            cells = [r for r in lat if r["span"] == span and r["level"] == level]
            lines.append(f"| {span} | {level} | " + " | ".join(
                f"{r['p50']:.1f} / {r['p95']:.1f} (n={r['n']}); scan {r['live_p50']:,.0f}"
                for r in cells) + " |")
    if http:
        lines += ["", "`GET /v1/stats/partnerships` over the ASGI transport, ms p50 / p95 (n):",
                  "", "| Span | Level | " + " | ".join(GROUPINGS) + " |",
                  "|---|---|" + "---|" * len(GROUPINGS)]
        for level in LEVELS:
            cells = [r for r in http if r["level"] == level]
            lines.append(f"| {cells[0]['span']} | {level} | " + " | ".join(
                f"{r['p50']:.1f} / {r['p95']:.1f} (n={r['n']})" for r in cells) + " |")
    worst = max([r["p95"] for r in lat] + [r["p95"] for r in http])
    lines += ["", f"Worst p95 from the cells: {worst:.1f} ms (target ≤ 50 ms: "
              f"**{'met' if worst <= 50 else 'missed'}**)."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--today", default=None, help="ISO date taken as today (default: now)")
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--live-samples", type=int, default=3)
    ap.add_argument("--budget", type=float, default=10.0, help="seconds per cell at most")
    ap.add_argument("--no-refresh", action="store_true", help="use the cells already there")
    ap.add_argument("--no-http", action="store_true")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--spans", default=None,
                    help="comma-separated labels (default: this quarter and year, and Q2 and "
                         "the whole of last year)")
    a = ap.parse_args()
    c = open_container(a.url)
    c.views.stop()
    c.views = Runtime(c.ledger, c.engine, [EvidenceIndexView, RealPartnershipsView],
                      store_kind=c.store_kind)
    today = date.fromisoformat(a.today) if a.today else funnel_cube.jakarta_today()
    current = quarter(today.year, (today.month - 1) // 3 + 1)
    spans = [parse_period(x) for x in a.spans.split(",")] if a.spans else [
        current, parse_period(str(today.year)), quarter(today.year - 1, 2),
        parse_period(str(today.year - 1))]
    env = environment(c)
    env["machine"] = f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start"
    with c.engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(facts)).scalar() or 0
    print(f"{n:,} partnerships; spans {[p.label for p in spans]}", flush=True)
    refresh = [] if a.no_refresh else measure_refresh(c, spans)
    picks = regions(c, a.samples, a.seed)
    settle_heap()  # as `kemitraan serve` does before serving
    lat, checked = measure_latency(c, spans, picks, a.live_samples, a.budget)
    http = [] if a.no_http else asyncio.run(measure_http(c, current, picks, a.budget))
    env["machine"] += f", {os.getloadavg()[0]:.1f} at end"
    print()
    print(report(env, n, refresh, lat, http, checked))


if __name__ == "__main__":
    main()

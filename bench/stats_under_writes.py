"""Statistics for "this quarter" while writes keep arriving (ADR 0019, amended 2026-12-05).

On a ledger whose views are caught up (`kemitraan projections rebuild`, or `bench/readside.py`),
in one process as `kemitraan serve` runs it: the container's projection runner (catch-up and
the funnel cells' refresher) in its background threads; a writer thread proposing
partnerships that start today, at a steady rate, through the ledger's use cases (each one
touches the current quarter and year, so their cells are stale again after every page); and
the main thread asking the national funnel of the current quarter by pola, as the statistics
route does, every `--interval` seconds. Two arms alternate in blocks of `--block` seconds under
the same write load:

* exact     only up-to-date cells answer, else the live scan (`KEMITRAAN_STATS_MAX_AGE=0`,
            what the route did before 2026-12-05): the baseline of the same run;
* tolerant  cells computed up to `--max-age` seconds before answer too, with their own
            `as_of` and position (the default, 180 s).

Reported per arm: latency p50/p95/max, the share of answers from up-to-date cells, from cells
behind the view and from the scan, and how old the answers were (request instant − as_of).
Every answer from cells behind the view is checked against nothing here (the property test
does that); this measures what a dinas waits for.

    .venv/bin/python bench/stats_under_writes.py --url postgresql+psycopg://.../kemitraan_bench
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from time import perf_counter
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.app import settle_heap  # noqa: E402
from bench.commands import company, propose_fields, seed  # noqa: E402
from bench.readside import environment, open_container, pct  # noqa: E402
from domain.clock import jakarta_date  # noqa: E402
from domain.compliance import quarter  # noqa: E402
from domain.errors import DomainError  # noqa: E402
from projections import funnel_cube  # noqa: E402
from projections.real_partnerships import funnel  # noqa: E402


def writer(c: Any, rate: float, stop: threading.Event, written: list[int | None]) -> None:
    """Proposals at `rate` per second (a steady clock, not back-to-back), until `stop`."""
    step, due, i = 1.0 / rate, perf_counter(), 0
    while not stop.is_set():
        now = datetime.now(timezone.utc)
        w = c.ledger.propose_partnership(company(), now, uuid.uuid4(),
                                         **propose_fields(1_000_000 + i, jakarta_date(now)))
        written.append(w.position)
        i += 1
        due += step
        stop.wait(max(0.0, due - perf_counter()))


def ask(c: Any, span: Any, tolerance: funnel_cube.Tolerance | None) -> tuple[float, str, float]:
    """One national question the way `funnel_stats` answers it: (seconds, source, age)."""
    q = dict(region=None, date_from=span.start, date_to=span.end, group_by="pola")
    t = perf_counter()
    asked = datetime.now(timezone.utc)
    with c.engine.connect() as conn:
        hit = funnel_cube.cached(conn, **q, tolerance=tolerance)
        if hit is None:
            funnel(conn, **q)
    took = perf_counter() - t
    if hit is None:
        return took, "scan", 0.0
    if hit[2] is None:
        return took, "cells", 0.0
    return took, "behind", (asked - hit[2].as_of).total_seconds()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--rate", type=float, default=5.0, help="proposals per second")
    ap.add_argument("--block", type=float, default=60.0, help="seconds per arm and block")
    ap.add_argument("--rounds", type=int, default=3, help="blocks per arm")
    ap.add_argument("--interval", type=float, default=0.25, help="seconds between questions")
    ap.add_argument("--max-age", type=float, default=180.0)
    ap.add_argument("--warm-up", type=float, default=30.0, help="seconds of writes first")
    a = ap.parse_args()
    c = open_container(a.url)
    c.views.stop()
    try:
        seed(c)
    except DomainError:
        pass  # the bench businesses are there from an earlier run
    today = funnel_cube.jakarta_today()
    span = quarter(today.year, (today.month - 1) // 3 + 1)
    env = environment(c)
    env["machine"] = f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start"
    c.views.catch_up()
    for label in (span.label, str(today.year)):  # what the refresher does first, timed here
        t = perf_counter()
        with c.engine.begin() as conn:
            funnel_cube.refresh(conn, label)
        print(f"refresh {label}: {perf_counter() - t:.1f} s", flush=True)
    with c.engine.connect() as conn:
        t = perf_counter()
        funnel(conn, region=None, date_from=span.start, date_to=span.end, group_by="pola")
        scan_idle = perf_counter() - t
    print(f"national scan of {span.label}, idle: {scan_idle:.2f} s", flush=True)
    settle_heap()
    stop, written = threading.Event(), list[int | None]()
    refreshed: list[tuple[str, float, float]] = []  # (span, seconds into the run, duration)
    recent: list[str] = []
    began = perf_counter()

    def refresh(engine: Any) -> bool:  # what `registry.refresh_funnel_cells` does, timed
        t = perf_counter()
        label = funnel_cube.refresh_next(engine, today, recent)
        if label is not None:
            refreshed.append((label, t - began, perf_counter() - t))
        return label is not None

    c.views.maintenance = [refresh]
    c.views.start(poll_seconds=0.5)
    w = threading.Thread(target=writer, args=(c, a.rate, stop, written), daemon=True)
    w.start()
    samples: dict[str, list[tuple[float, str, float]]] = {"exact": [], "tolerant": []}
    try:
        time.sleep(a.warm_up)
        for r in range(a.rounds):
            for name in (("exact", "tolerant") if r % 2 == 0 else ("tolerant", "exact")):
                end = perf_counter() + a.block
                while perf_counter() < end:
                    tolerance = None if name == "exact" else funnel_cube.Tolerance(
                        datetime.now(timezone.utc), timedelta(seconds=a.max_age))
                    samples[name].append(ask(c, span, tolerance))
                    time.sleep(a.interval)
                print(f"round {r + 1} {name}: {len(samples[name])} answers so far, "
                      f"{len(written)} proposals written", flush=True)
    finally:
        stop.set()
        w.join(timeout=10)
        c.views.stop()
    env["machine"] += f", {os.getloadavg()[0]:.1f} at end"
    elapsed = a.warm_up + 2 * a.rounds * a.block
    print()
    print(report(env, a, span.label, scan_idle, samples, len(written) / elapsed))
    print()
    print("Refreshes by the runner during the run (span: start s, took s): " + "; ".join(
        f"{label}: {at:.0f}, {took:.1f}" for label, at, took in refreshed))


def report(env: dict[str, Any], a: argparse.Namespace, label: str, scan_idle: float,
           samples: dict[str, list[tuple[float, str, float]]], rate: float) -> str:
    lines = [f"Environment: {env}", "",
             f"National `{label}` by pola, asked every {a.interval} s while proposals arrive at "
             f"{rate:.1f}/s (target {a.rate}/s); arms alternate in {a.block:.0f}-s blocks, "
             f"{a.rounds} each; the live scan alone, idle, took {scan_idle:.2f} s.", "",
             "| arm | answers | p50 ms | p95 ms | max ms | up-to-date cells | cells behind "
             "| scan | age of answers from cells behind, p50 / max s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    base = None
    for name, rows in samples.items():
        ms = [r[0] * 1000 for r in rows]
        n = len(rows) or 1
        share = {s: sum(1 for r in rows if r[1] == s) / n for s in ("cells", "behind", "scan")}
        ages = [r[2] for r in rows if r[1] == "behind"]
        age = f"{pct(ages, 50):.0f} / {max(ages):.0f}" if ages else "–"
        p95 = pct(ms, 95)
        base = base or p95
        lines.append(f"| {name} (max age {'0' if name == 'exact' else f'{a.max_age:.0f}'} s) "
                     f"| {len(rows)} | {pct(ms, 50):.1f} | {p95:.1f} | {max(ms):.1f} "
                     f"| {share['cells']:.0%} | {share['behind']:.0%} | {share['scan']:.0%} "
                     f"| {age} |")
    tolerant = pct([r[0] * 1000 for r in samples["tolerant"]], 95)
    lines += ["", f"p95 tolerant ÷ p95 exact (same run): {tolerant / base:.3f}; target p95 ≤ "
              f"50 ms: **{'met' if tolerant <= 50 else 'missed'}** with the tolerance."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

"""Read side: catch-up and rebuild of every view against the raw log rate, statistics latency
and the runner's memory, on a ledger made by `bench/ledger_generator.py`.

    .venv/bin/python bench/ledger_generator.py --url /tmp/ledger.db --partnerships 20000
    .venv/bin/python bench/readside.py --url /tmp/ledger.db
    .venv/bin/python bench/readside.py --url postgresql+psycopg://postgres@127.0.0.1/kemitraan_bench \
        --docs                                      # + replace the "Read side" results block

Everything is measured in one process, one run, in this order:

1. raw      `recorder.select_notifications` in pages of the runtime's size (every topic) and
            `mapper.to_domain_event` on each notification, over the whole log: events/s;
2. profile  (fresh view tables) `--profile-events` positions (after `--profile-from`, folded
            first, unmeasured) through the runtime, with per-view timers on `process_event` /
            `flush` and on reading and decoding, then the same again under cProfile: the hot
            spots;
3. catch-up (fresh view tables: every view's tables dropped and created) `Runtime.run_page`
            until the head, as `Runtime.catch_up()` loops: events/s = log events ÷ wall time,
            and its ratio to (1);
4. rebuild  `Runtime.rebuild()` of every view (one transaction): wall time;
5. stats    `real_partnerships.funnel(...)` on a pooled connection, and GET /v1/stats/partnerships
            through `create_app(container)` over httpx's in-process ASGI transport (the token
            check replaced by a dependency override with the system admin: nothing is written),
            by region level (national / province / kabupaten) × group_by, for the current
            quarter (the route's default);

Memory: RSS of this process (VmRSS) at 25/50/75/100 % of each pass over the log, and the peak
(`ru_maxrss`). The views are whatever `projections.registry.VIEWS` holds when this runs.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import platform
import pstats
import random
import resource
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date, datetime, timezone
from pathlib import Path
from time import perf_counter
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from api import lanes  # noqa: E402
from api.app import settle_heap  # noqa: E402
from api.settings import Settings  # noqa: E402
from api.wiring import Container, build  # noqa: E402
from projections.registry import VIEWS  # noqa: E402
from projections.runtime import Runtime  # noqa: E402
from projections.tables import metadata  # noqa: E402

TARGETS = {"ratio": 0.25, "p95_ms": 50.0, "rebuild_s": 15 * 60}
GROUPS = ("pola", "program", "region", "large_nib")
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- readside:results:begin -->", "<!-- readside:results:end -->"
SECTION = "## Read side: catch-up, rebuild, statistics"


# ---- memory ---------------------------------------------------------------------------------

def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Quartiles:
    """RSS when a pass over the log first reaches 25, 50, 75 and 100 % of the head."""

    def __init__(self, head: int) -> None:
        self.head = max(head, 1)
        self.marks: dict[int, float] = {}

    def at(self, position: int) -> None:
        for q in (25, 50, 75, 100):
            if q not in self.marks and position * 100 >= q * self.head:
                self.marks[q] = rss_mb()

    def text(self) -> str:
        return " / ".join(f"{self.marks.get(q, float('nan')):.0f}" for q in (25, 50, 75, 100))


# ---- setup ----------------------------------------------------------------------------------

def open_container(url: str) -> Container:
    if "://" not in url:
        url = f"sqlite:///{Path(url).resolve()}"
    data_dir = Path(tempfile.mkdtemp(prefix="kemitraan_readside_"))
    return build(Settings(database_url=url, data_dir=data_dir, log_format="json"))


def fresh_runtime(c: Container, page: int) -> Runtime:
    """Every view's tables dropped and created again, tracking at 0."""
    c.views.stop()
    metadata.drop_all(c.engine)
    rt = Runtime(c.ledger, c.engine, VIEWS, store_kind=c.store_kind, page=page)
    rt.setup()
    return rt


def environment(c: Container) -> dict[str, Any]:
    from importlib.metadata import version

    with c.engine.connect() as conn:
        if c.store_kind == "postgresql":
            server = conn.execute(sa.text("SHOW server_version")).scalar()
            size = conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar()
            db = f"PostgreSQL {server}, database {size / 2**30:.1f} GiB"
        else:
            path = c.engine.url.database
            db = f"SQLite {sqlite3.sqlite_version}, file {os.path.getsize(path) / 2**30:.2f} GiB"
    mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal:"))
    return {"cpus": os.cpu_count(), "ram_gib": round(mem / 2**20), "python":
            platform.python_version(), "eventsourcing": version("eventsourcing"),
            "sqlalchemy": version("SQLAlchemy"), "psycopg": version("psycopg"), "db": db,
            "load": os.getloadavg()[0]}


def log_topics(c: Container) -> dict[str, int]:
    table = c.ledger.recorder.events_table_name
    if c.store_kind == "postgresql":
        table = f'"{c.ledger.recorder.datastore.schema}"."{table}"'
    with c.engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT topic, COUNT(*) FROM {table} GROUP BY topic")).all()
    return {t: int(n) for t, n in rows}


# ---- 1. raw ------------------------------------------------------------------------------------

def measure_raw(c: Container, head: int, page: int, topics: list[str] | None = None
                ) -> dict[str, Any]:
    recorder, mapper = c.ledger.recorder, c.ledger.mapper
    q = Quartiles(head)
    n, start = 0, 0
    cpu, t = time.process_time(), perf_counter()
    while start < head:
        notes = recorder.select_notifications(start=start, limit=page, stop=head,
                                              topics=topics or (), inclusive_of_start=False)
        if not notes:
            break
        for note in notes:
            mapper.to_domain_event(note)
        n += len(notes)
        start = notes[-1].id
        q.at(start)
    wall = perf_counter() - t
    q.at(head)
    return {"events": n, "wall": wall, "rate": n / wall, "log_rate": head / wall,
            "cpu": time.process_time() - cpu, "rss": q.text()}


# ---- 2. profile --------------------------------------------------------------------------------

def run_until(rt: Runtime, stop_at: int, q: Quartiles | None = None) -> tuple[int, int]:
    """`Runtime.catch_up()`'s loop (run_page, then compare with the head), until `stop_at`."""
    folded = reached = 0
    while True:
        n, reached = rt.run_page()
        folded += n
        if q is not None:
            q.at(reached)
        if reached >= min(stop_at, rt.head()):
            return folded, reached


def profile_sample(c: Container, page: int, events: int, out: Path,
                   start: int = 0) -> dict[str, Any]:
    """Per-view timers, then cProfile, each on fresh tables over `events` positions after
    `start` (the views first caught up to `start`, unmeasured: a generated log holds every
    business before the first partnership, so a sample from 0 sees only registrations)."""
    rt = fresh_runtime(c, page)
    run_until(rt, start)
    timers: dict[str, float] = defaultdict(float)

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*a: Any, **k: Any) -> Any:
            t = perf_counter()
            try:
                return fn(*a, **k)
            finally:
                timers[name] += perf_counter() - t
        return wrapper

    recorder, mapper = c.ledger.recorder, c.ledger.mapper
    recorder.select_notifications = timed("read: select_notifications",
                                          recorder.select_notifications)
    mapper.to_domain_event = timed("decode: mapper.to_domain_event", mapper.to_domain_event)
    for v in rt.views:
        v.process_event = timed(f"{v.name}: process_event", v.process_event)
        v.flush = timed(f"{v.name}: flush", v.flush)
    t = perf_counter()
    try:
        folded, reached = run_until(rt, start + events)
    finally:
        del recorder.select_notifications, mapper.to_domain_event
    wall = perf_counter() - t
    timed_total = sum(timers.values())
    timers["runtime, tracking, commit (rest)"] = wall - timed_total
    split = {k: v for k, v in sorted(timers.items(), key=lambda kv: -kv[1])}

    rt = fresh_runtime(c, page)
    run_until(rt, start)
    prof = cProfile.Profile()
    prof.enable()
    p_t = perf_counter()
    run_until(rt, start + events)
    p_wall = perf_counter() - p_t
    prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(45)
    out.write_text(buf.getvalue())
    top = []
    for (file, line, fn), (cc, nc, tt, ct, _) in sorted(
            stats.stats.items(), key=lambda kv: -kv[1][2])[:15]:  # type: ignore[attr-defined]
        short = file.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
        top.append({"function": f"{short}:{line}({fn})", "calls": nc,
                    "tottime_share": tt / p_wall, "cumtime_share": ct / p_wall})
    return {"start": start, "positions": reached - start, "folded": folded, "wall": wall,
            "rate": (reached - start) / wall,
            "split": split, "top": top, "profile_file": str(out), "profiled_wall": p_wall}


# ---- 3./4. catch-up and rebuild ------------------------------------------------------------------

def measure_catch_up(c: Container, head: int, page: int, processes: int = 1) -> dict[str, Any]:
    """All views from empty tables up to `head`: in this process, or with `processes` > 1 in
    lane processes (`api.lanes`; then cpu and RSS are this process's, not the lanes')."""
    rt = fresh_runtime(c, page)
    q = Quartiles(head)
    cpu, t = time.process_time(), perf_counter()
    plan = lanes.plan([v.name for v in rt.views], processes)
    took: dict[str, float] = {}  # seconds each lane needed (lane processes only)
    if len(plan) == 1:
        folded, reached = run_until(rt, head, q)
    else:
        folded = lanes.catch_up(c.settings, plan, head, progress=q.at, took=took)
        reached = rt.position()
    wall = perf_counter() - t
    return {"folded": folded, "reached": reached, "wall": wall, "rate": head / wall,
            "cpu": time.process_time() - cpu, "rss": q.text(), "runtime": rt, "lanes": took}


def measure_rebuild(c: Container, rt: Runtime, head: int, processes: int = 1) -> dict[str, Any]:
    q = Quartiles(head)
    cpu, t = time.process_time(), perf_counter()
    plan = lanes.plan([v.name for v in rt.views], processes)
    if len(plan) == 1:
        folded = rt.rebuild(progress=lambda position, _head: q.at(position))
    else:
        folded = lanes.rebuild(c.settings, plan, progress=q.at)
    wall = perf_counter() - t
    return {"folded": folded, "wall": wall, "rate": head / wall,
            "cpu": time.process_time() - cpu, "rss": q.text()}


# ---- 5. statistics -----------------------------------------------------------------------------

def quarter(today: date) -> tuple[date, date]:
    from api.routes.stats import current_quarter
    return current_quarter(today)


def region_samples(c: Container, n: int, seed: int) -> dict[str, list[str | None]]:
    """Provinces and kabupaten/kota weighted as the partnerships are (by location)."""
    from projections.tables import partnership_list as t
    with c.engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.location_region_code)
                            .order_by(t.c.created_seq).limit(20_000)).scalars().all()
    rng = random.Random(seed)
    picks = [rng.choice(rows) for _ in range(n)] if rows else []
    return {"national": [None] * n, "province": [code[:2] for code in picks],
            "kabupaten": [code[:5] for code in picks]}


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def measure_stats(c: Container, samples: int, budget: float, seed: int, http: bool
                  ) -> list[dict[str, Any]]:
    try:
        from projections import real_partnerships
        funnel = real_partnerships.funnel
    except (ImportError, AttributeError):
        print("no projections.real_partnerships.funnel: statistics skipped", flush=True)
        return []
    today = datetime.now(timezone.utc).date()
    d_from, d_to = quarter(today)
    regions = region_samples(c, samples, seed)
    results = []
    settle_heap()  # as `kemitraan serve` does before serving

    def direct(region: str | None, group_by: str) -> None:
        with c.engine.connect() as conn:
            funnel(conn, region=region, date_from=d_from, date_to=d_to, group_by=group_by)

    for level, codes in regions.items():
        for g in GROUPS:
            direct(codes[0], g)  # warm-up: pool, plans
            lat: list[float] = []
            t_end = perf_counter() + budget
            for code in codes:
                t = perf_counter()
                direct(code, g)
                lat.append(perf_counter() - t)
                if perf_counter() > t_end:
                    break
            results.append({"path": "funnel()", "level": level, "group_by": g, "n": len(lat),
                            "p50": pct(lat, 50) * 1000, "p95": pct(lat, 95) * 1000})
            print(f"  funnel() {level:9s} {g:9s} n={len(lat):3d} p50 {results[-1]['p50']:8.1f}"
                  f" ms  p95 {results[-1]['p95']:8.1f} ms", flush=True)
    if http:
        results += asyncio.run(measure_http(c, regions, samples, budget))
    return results


async def measure_http(c: Container, regions: dict[str, list[str | None]], samples: int,
                       budget: float) -> list[dict[str, Any]]:
    import httpx

    from api.app import create_app
    from api.auth import principal
    from domain.access import SYSTEM

    app = create_app(c)
    app.dependency_overrides[principal] = lambda: SYSTEM
    results = []
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        for level, codes in regions.items():
            for g in GROUPS:
                async def get(code: str | None) -> None:
                    params = {"group_by": g, **({"region": code} if code else {})}
                    r = await client.get("/v1/stats/partnerships", params=params)
                    if r.status_code != 200:
                        raise RuntimeError(f"GET /v1/stats/partnerships {params}: "
                                           f"{r.status_code} {r.text[:300]}")
                await get(codes[0])
                lat: list[float] = []
                t_end = perf_counter() + budget
                for code in codes:
                    t = perf_counter()
                    await get(code)
                    lat.append(perf_counter() - t)
                    if perf_counter() > t_end:
                        break
                results.append({"path": "GET /v1/stats/partnerships", "level": level,
                                "group_by": g, "n": len(lat), "p50": pct(lat, 50) * 1000,
                                "p95": pct(lat, 95) * 1000})
                print(f"  http     {level:9s} {g:9s} n={len(lat):3d} p50 "
                      f"{results[-1]['p50']:8.1f} ms  p95 {results[-1]['p95']:8.1f} ms",
                      flush=True)
    return results


# ---- report ------------------------------------------------------------------------------------

def verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def report(r: dict[str, Any]) -> str:
    env, raw, cu, rb = r["env"], r["raw"], r["catch_up"], r.get("rebuild")
    head = r["head"]
    lines = [
        f"- **Run:** {r['when']}, `{r['command']}`",
        f"- **Machine:** {env['cpus']} cores, {env['ram_gib']} GiB RAM, shared VM (load average "
        f"{env['load']:.1f} at start, {r['load_end']:.1f} at end); {env['db']}; Python "
        f"{env['python']}, eventsourcing {env['eventsourcing']}, SQLAlchemy {env['sqlalchemy']}, "
        f"psycopg {env['psycopg']}.",
        (f"- **Dataset:** raw and catch-up over the first {head:,} positions of a "
         f"{r['log_head']:,}-event log " if r.get("log_head", head) != head else
         f"- **Dataset:** {head:,} events ") +
        f"({r['partnerships']:,} partnerships, "
        f"{r['businesses']:,} businesses; {head / max(r['partnerships'], 1):.1f} events per "
        f"partnership overall).",
        f"- **Views:** {', '.join(r['views'])} (runtime page {r['page']:,}).",
        "",
        "| Measurement | Result | Target |",
        "|---|---|---|",
        f"| raw read + decode, every topic | {raw['rate']:,.0f} events/s ({raw['wall']:.0f} s) "
        f"| |",
    ]
    if r.get("raw_topics"):
        rt = r["raw_topics"]
        lines.append(f"| raw read + decode, the views' topics only | {rt['rate']:,.0f} events/s "
                     f"({rt['events']:,} events, {rt['wall']:.0f} s) | |")
    ratio = cu["rate"] / raw["rate"]
    lines += [
        f"| catch-up of all views from zero"
        f"{f' ({p} lane processes)' if (p := r.get('processes', 1)) > 1 else ''} | "
        f"{cu['rate']:,.0f} log events/s "
        f"({cu['wall']:.0f} s, {cu['folded']:,} events folded) | |",
        f"| **catch-up ÷ raw** | **{ratio:.3f}** | ≥ 0.25: {verdict(ratio >= TARGETS['ratio'])} |",
    ]
    lines += [f"| lane {lane} done after | {seconds:.0f} s | |"
              for lane, seconds in sorted(cu.get("lanes", {}).items(), key=lambda x: x[1])]
    if rb:
        lines.append(f"| full rebuild, all views | **{rb['wall'] / 60:.1f} min** "
                     f"({rb['rate']:,.0f} events/s) | ≤ 15 min"
                     f"{' for 10 M events' if head < 10_000_000 else ''}: "
                     f"{verdict(rb['wall'] * max(1.0, 10_000_000 / head) <= TARGETS['rebuild_s'])}"
                     f"{' (linear extrapolation to 10 M)' if head < 10_000_000 else ''} |")
    lines += [
        f"| runner RSS at 25/50/75/100 % of the log: raw | {raw['rss']} MB | flat |",
        f"| same, catch-up | {cu['rss']} MB | flat |",
    ]
    if rb:
        lines.append(f"| same, rebuild | {rb['rss']} MB | flat |")
    lines.append(f"| runner peak RSS (ru_maxrss, whole run) | {r['peak_mb']:.0f} MB | |")
    if r.get("lanes_peak_mb"):
        lines.append(f"| largest lane process's peak RSS ({r['processes']} processes) | "
                     f"{r['lanes_peak_mb']:.0f} MB | |")
    if r["stats"]:
        worst = max(s["p95"] for s in r["stats"])
        lines += ["", f"Statistics latency, ms (p50 / p95; n samples per cell; current quarter "
                  f"{r['quarter']}). Target p95 ≤ 50 ms: {verdict(worst <= TARGETS['p95_ms'])}"
                  f" (worst cell {worst:,.1f} ms).", "",
                  "| Path | Region level | " + " | ".join(GROUPS) + " |",
                  "|---|---|" + "---|" * len(GROUPS)]
        by: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
        for s in r["stats"]:
            by[(s["path"], s["level"])][s["group_by"]] = s
        for (path, level), cells in by.items():
            lines.append(f"| {path} | {level} | " + " | ".join(
                f"{cells[g]['p50']:,.1f} / {cells[g]['p95']:,.1f} (n={cells[g]['n']})"
                if g in cells else "" for g in GROUPS) + " |")
    p = r.get("profile")
    if p:
        where = (f"the {p['positions']:,} positions after {p['start']:,}" if p.get("start")
                 else f"the first {p['positions']:,} positions")
        lines += ["", f"Where catch-up time goes: {where} "
                  f"({p['folded']:,} events folded) on fresh tables at {p['rate']:,.0f} "
                  f"events/s, with timers around each step:", "",
                  "| Step | share of wall time |", "|---|---|"]
        for k, v in p["split"].items():
            lines.append(f"| {k} | {v / p['wall'] * 100:.1f} % |")
        lines += ["", "cProfile of the same sample (top functions by own time; full listing "
                  f"in `{p['profile_file']}`):", "",
                  "| Function | calls | own time | cumulative |", "|---|---|---|---|"]
        for f in p["top"][:12]:
            lines.append(f"| `{f['function']}` | {f['calls']:,} | "
                         f"{f['tottime_share'] * 100:.1f} % | {f['cumtime_share'] * 100:.1f} % |")
    return "\n".join(lines)


def write_docs(block: str, kind: str) -> None:
    """Replace this store kind's results block in the Read side section (created at the end of
    the file, then one block per store kind), leaving the hand-written analysis alone."""
    begin, end = BEGIN.replace("results", f"results:{kind}"), END.replace("results",
                                                                            f"results:{kind}")
    text = DOC.read_text()
    body = f"{begin}\n{block}\n{end}"
    if begin in text and end in text:
        pre, rest = text.split(begin, 1)
        text = pre + body + rest.split(end, 1)[1]
    else:
        if SECTION not in text:
            text = text.rstrip("\n") + f"\n\n{SECTION}\n"
        text = text.rstrip("\n") + f"\n\n### {'PostgreSQL' if kind == 'postgresql' else 'SQLite'}" \
            f"\n\n{body}\n"
    DOC.write_text(text)


# ---- main --------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="the generated ledger: SQLite path or URL")
    ap.add_argument("--page", type=int, default=None,
                    help="runtime page size (default: the runtime's for the store)")
    ap.add_argument("--profile-events", type=int, default=200_000,
                    help="positions in the profiled sample (0: no profile)")
    ap.add_argument("--profile-from", type=int, default=0,
                    help="start the profiled sample at this position (the views are caught up "
                         "to it first, unmeasured)")
    ap.add_argument("--samples", type=int, default=50, help="per statistics cell")
    ap.add_argument("--cell-budget", type=float, default=30.0,
                    help="seconds per statistics cell before it stops sampling")
    ap.add_argument("--no-rebuild", action="store_true")
    ap.add_argument("--processes", type=int, default=1,
                    help="fold catch-up and rebuild in this many lane processes (api.lanes)")
    ap.add_argument("--no-http", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--limit", type=int, help="measure raw and catch-up over the first LIMIT "
                    "positions only (a prefix of the log, when the whole one takes too long)")
    ap.add_argument("--no-topic-raw", action="store_true",
                    help="skip the raw pass filtered by the views' topics")
    ap.add_argument("--no-stats", action="store_true")
    ap.add_argument("--views", help="comma-separated view names (default: every view in "
                    "projections.registry.VIEWS)")
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    ap.add_argument("--docs", action="store_true",
                    help="replace the results block of the Read side section of "
                         "docs/benchmarks.md")
    args = ap.parse_args(argv)
    if args.views:
        names = args.views.split(",")
        VIEWS[:] = [v for v in list(VIEWS) if v.name in names]

    c = open_container(args.url)
    args.page = args.page or c.views.page  # the container's runtime: the store's default
    r: dict[str, Any] = {"when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                         "command": "bench/readside.py " + " ".join(
                             a if "://" not in a else a.split("@")[-1] for a in
                             (argv if argv is not None else sys.argv[1:])),
                         "page": args.page, "views": [v.name for v in VIEWS],
                         "processes": args.processes}
    try:
        r["env"] = environment(c)
        r["store"] = c.store_kind
        head = c.ledger.recorder.max_notification_id() or 0
        r["log_head"] = head
        if args.limit:
            head = min(head, args.limit)
        r["head"] = head
        topics = log_topics(c)
        r["partnerships"] = topics.get("kemitraan.Partnership.Proposed", 0)
        r["businesses"] = topics.get("kemitraan.Business.Registered", 0)
        print(f"log: {head:,} events, {r['partnerships']:,} partnerships, "
              f"{r['businesses']:,} businesses; views: {', '.join(r['views'])}", flush=True)

        raw = measure_raw(c, head, args.page)
        r["raw"] = raw
        print(f"raw: {raw['rate']:,.0f} events/s in {raw['wall']:.1f} s; RSS {raw['rss']} MB",
              flush=True)
        probe = Runtime(c.ledger, c.engine, VIEWS, store_kind=c.store_kind)
        wanted = sorted({t for v in probe.views for t in v.topics})
        if set(topics) - set(wanted) and not args.no_topic_raw:
            rt = measure_raw(c, head, args.page, wanted)
            r["raw_topics"] = rt
            print(f"raw, the views' topics: {rt['rate']:,.0f} events/s ({rt['events']:,})",
                  flush=True)

        if args.profile_events:
            start = min(args.profile_from, head)
            prof = profile_sample(c, args.page, min(args.profile_events, head - start),
                                  Path(tempfile.gettempdir()) / "readside_catchup.prof.txt",
                                  start)
            r["profile"] = prof
            print(f"profile sample: {prof['rate']:,.0f} events/s over {prof['positions']:,}",
                  flush=True)
            for k, v in prof["split"].items():
                print(f"  {k:45s} {v / prof['wall'] * 100:5.1f} %", flush=True)

        cu = measure_catch_up(c, head, args.page, args.processes)
        rt_obj = cu.pop("runtime")
        r["catch_up"] = cu
        print(f"catch-up: {cu['rate']:,.0f} events/s in {cu['wall']:.1f} s, ratio "
              f"{cu['rate'] / raw['rate']:.3f}; RSS {cu['rss']} MB", flush=True)
        for lane, seconds in sorted(cu["lanes"].items(), key=lambda x: x[1]):
            print(f"  lane finished after {seconds:6.1f} s: {lane}", flush=True)
        if not args.no_rebuild:
            rb = measure_rebuild(c, rt_obj, head, args.processes)
            r["rebuild"] = rb
            print(f"rebuild: {rb['wall']:.1f} s ({rb['rate']:,.0f} events/s); RSS {rb['rss']} MB",
                  flush=True)
        d_from, d_to = quarter(datetime.now(timezone.utc).date())
        r["quarter"] = f"{d_from}..{d_to}"
        r["stats"] = [] if args.no_stats else measure_stats(
            c, args.samples, args.cell_budget, args.seed, http=not args.no_http)
        r["peak_mb"] = peak_mb()
        if args.processes > 1:
            r["lanes_peak_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        r["load_end"] = os.getloadavg()[0]
    finally:
        c.close()
    block = report(r)
    print("\n" + block)
    if args.json:
        args.json.write_text(json.dumps(r, indent=1, default=str))
    if args.docs:
        write_docs(block, r["store"])
        print(f"\nwrote the results block of {DOC}")


if __name__ == "__main__":
    main()

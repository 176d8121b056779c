"""What one lane's views cost, client and server: fresh tables, positions [0, --to), one process.

    .venv/bin/python bench/lane_cost.py --url postgresql+psycopg://postgres@127.0.0.1/DB \
        --to 1500000 --arms raw first audit first audit

Each arm drops and creates every view's tables, then folds the chosen lane's views (`first`:
every view not in `registry.LANES`; `audit`: the first group of `LANES`; or a comma-separated
list of view names, with the views they read) with `Runtime.run_page` until the position, and
prints the wall time, this process's CPU (`process_time`) and, on PostgreSQL, the CPU of every
server process (from /proc: the backends of this run and the background writers). `raw` reads
and decodes the same positions in the runtime's pages (what `bench/readside.py` calls raw). Arms
run in the order given, so that alternating arms pair up on a noisy host.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from time import perf_counter

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.readside import open_container  # noqa: E402
from projections.registry import LANES, VIEWS  # noqa: E402
from projections.runtime import Runtime  # noqa: E402
from projections.tables import metadata  # noqa: E402


def server_cpu() -> float:
    """Seconds of CPU used so far by every process whose name starts with "postgres"."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        if name.startswith("postgres"):
            fields = stat[stat.rindex(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])
    return total / tick


def lane(arm: str) -> list[type]:
    others = {n for group in LANES for n in group}
    if arm == "first":
        return [v for v in VIEWS if v.name not in others]
    if arm == "audit":
        return [v for v in VIEWS if v.name in LANES[0]]
    names = set(arm.split(","))
    names |= {r for v in VIEWS if v.name in names for r in v.reads}  # what they read folding
    return [v for v in VIEWS if v.name in names]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--to", type=int, default=1_500_000)
    ap.add_argument("--page", type=int, default=None)
    ap.add_argument("--arms", nargs="+", default=["raw", "first", "audit"])
    a = ap.parse_args()
    c = open_container(a.url)
    c.views.stop()
    head = min(a.to, c.views.head())
    for arm in a.arms:
        s_cpu, cpu, t = server_cpu(), time.process_time(), perf_counter()
        if arm == "raw":
            rt = Runtime(c.ledger, c.engine, [], store_kind=c.store_kind, page=a.page)
            start = 0
            while start < head:
                notes = c.ledger.recorder.select_notifications(
                    start=start, limit=rt.page, stop=head, inclusive_of_start=False)
                for n in notes:
                    c.ledger.mapper.to_domain_event(n)
                start = notes[-1].id
        else:
            metadata.drop_all(c.engine)
            rt = Runtime(c.ledger, c.engine, lane(arm), store_kind=c.store_kind, page=a.page)
            rt.setup()
            s_cpu, cpu, t = server_cpu(), time.process_time(), perf_counter()
            reached = 0
            while reached < head:
                _, reached = rt.run_page()
        wall = perf_counter() - t
        print(f"{arm:>8}: wall {wall:6.1f} s  {head / wall:8,.0f} positions/s  client CPU "
              f"{time.process_time() - cpu:6.1f} s  server CPU {server_cpu() - s_cpu:6.1f} s",
              flush=True)


if __name__ == "__main__":
    main()

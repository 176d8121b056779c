"""Persistence benchmark: the library's own recorders vs eventsourcing-sqlalchemy.

Run by hand (not part of the test suite):

    .venv/bin/python bench/persistence.py            # full run, ~2 minutes on 2 cores
    .venv/bin/python bench/persistence.py --n 50     # quick smoke run

Needs a PostgreSQL server reachable with --pg-dsn. A throw-away database is
created at start and dropped at the end, so nothing is left on the server.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import uuid
from pathlib import Path
from time import perf_counter

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from psycopg import sql
from sqlalchemy import URL

BATCH_SIZE = 100
PAGE_SIZE = 500
WARMUP = 10


class Partnership(Aggregate):
    """Shaped like our real aggregate so that event sizes and decode costs match."""

    class Registered(Aggregate.Created):
        nib_umkm: str
        nib_large: str
        title: str
        pola: str
        region_code: str
        start_date: str
        end_date: str
        value_idr: int
        actor_id: str
        actor_role: str

    @event(Registered)
    def __init__(self, nib_umkm: str, nib_large: str, title: str, pola: str,
                 region_code: str, start_date: str, end_date: str, value_idr: int,
                 actor_id: str, actor_role: str) -> None:
        self.nib_umkm = nib_umkm
        self.value_idr = value_idr
        self.reports: list[str] = []

    class ReportFiled(Aggregate.Event):
        period: str
        realised_idr: int
        actor_id: str
        actor_role: str

    @event(ReportFiled)
    def file_report(self, period: str, realised_idr: int, actor_id: str,
                    actor_role: str) -> None:
        self.reports.append(period)


def new_partnership(i: int) -> Partnership:
    return Partnership(
        nib_umkm=f"{9120000000000 + i:013d}", nib_large=f"{8120000000000 + i:013d}",
        title=f"Kemitraan inti-plasma kelapa sawit nomor {i}", pola="inti_plasma",
        region_code="32.73.01.1001", start_date="2026-01-01", end_date="2028-12-31",
        value_idr=1_250_000_000 + i, actor_id=f"user-{i % 97}", actor_role="pendamping",
    )


# name -> (baseline it is compared with, kind of database it needs)
BACKENDS = {
    "eventsourcing.sqlite": ("eventsourcing.sqlite", "sqlite"),
    "eventsourcing.postgres": ("eventsourcing.postgres", "postgres"),
    "eventsourcing_sqlalchemy (SQLite)": ("eventsourcing.sqlite", "sqlite"),
    "eventsourcing_sqlalchemy (PostgreSQL)": ("eventsourcing.postgres", "postgres"),
}


def backend_env(backend: str, pg: dict, pg_db: str, sqlite_file: Path) -> dict[str, str]:
    if backend == "eventsourcing.sqlite":
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(sqlite_file)}
    if backend == "eventsourcing.postgres":
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": pg_db,
            "POSTGRES_HOST": pg["host"], "POSTGRES_PORT": pg["port"],
            "POSTGRES_USER": pg["user"], "POSTGRES_PASSWORD": pg["password"],
            "POSTGRES_LOCK_TIMEOUT": "5",
        }
    if backend.endswith("(SQLite)"):
        url = f"sqlite:///{sqlite_file}"
    else:
        url = URL.create("postgresql+psycopg", username=pg["user"], password=pg["password"] or None,
                         host=pg["host"], port=int(pg["port"]), database=pg_db,
                         ).render_as_string(hide_password=False)
    return {"PERSISTENCE_MODULE": "eventsourcing_sqlalchemy", "SQLALCHEMY_URL": url}


def open_app(run_tag: str, env: dict[str, str]) -> Application:
    # A distinct application name gives every (backend, repeat) its own tables
    # inside the shared PostgreSQL database, so each repeat starts from empty
    # tables and the two PostgreSQL backends never see each other's schema.
    cls = type("BenchApp", (Application,), {"name": f"bench_{run_tag}"})
    return cls(env=env)


def close_app(app: Application) -> None:
    app.close()
    # SQLAlchemyFactory has no close(); dispose its pool so DROP DATABASE works.
    engine = getattr(getattr(app.factory, "datastore", None), "engine", None)
    if engine is not None and hasattr(engine, "dispose"):
        engine.dispose()


def pct(samples: list[float], p: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[p - 1] * 1000


def run_once(app: Application, n: int, batches: int) -> dict[str, float]:
    # The first statements pay for connecting and (SQLite) switching to WAL;
    # that is start-up cost, not steady-state throughput.
    for i in range(WARMUP):
        app.save(new_partnership(i))

    # 1. One aggregate per transaction. Creating the aggregate is timed too,
    #    because that is what a "register partnership" request does.
    ids, lat_save = [], []
    for i in range(n):
        t = perf_counter()
        p = new_partnership(i)
        app.save(p)
        lat_save.append(perf_counter() - t)
        ids.append(p.id)

    # 2. Our typical command: load (no aggregate cache), act, save.
    lat_cmd = []
    for i, pid in enumerate(ids):
        t = perf_counter()
        p = app.repository.get(pid)
        p.file_report(period="2026-Q1", realised_idr=400_000_000 + i,
                      actor_id="user-7", actor_role="pendamping")
        app.save(p)
        lat_cmd.append(perf_counter() - t)

    # 3. Bulk insert. Only the save is timed: building 100 aggregates costs the
    #    same on every backend and would just dilute the difference.
    batch_time = 0.0
    for b in range(batches):
        aggs = [new_partnership(n + b * BATCH_SIZE + j) for j in range(BATCH_SIZE)]
        t = perf_counter()
        app.save(*aggs)
        batch_time += perf_counter() - t

    # 4. What a projection catching up does: page through the log and decode.
    count, start = 0, None
    t = perf_counter()
    while page := app.recorder.select_notifications(start, limit=PAGE_SIZE):
        for notification in page:
            app.mapper.to_domain_event(notification)
        count += len(page)
        start = page[-1].id + 1
    read_time = perf_counter() - t
    assert count == WARMUP + 2 * n + batches * BATCH_SIZE, count

    return {
        "save_s": n / sum(lat_save), "cmd_s": n / sum(lat_cmd),
        "batch_ev_s": batches * BATCH_SIZE / batch_time, "read_ev_s": count / read_time,
        "save_p50": pct(lat_save, 50), "save_p95": pct(lat_save, 95),
        "cmd_p50": pct(lat_cmd, 50), "cmd_p95": pct(lat_cmd, 95),
    }


THROUGHPUT = [("save_s", "1. saves/s"), ("cmd_s", "2. load→act→save /s"),
              ("batch_ev_s", "3. batched events/s"), ("read_ev_s", "4. read+decode events/s")]
LATENCY = [("save", "1. p50 / p95 ms"), ("cmd", "2. p50 / p95 ms")]


def render_table(medians: dict[str, dict[str, float]]) -> str:
    head = ["Backend"] + [t for _, t in THROUGHPUT] + [t for _, t in LATENCY]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for backend, m in medians.items():
        base = medians.get(BACKENDS[backend][0])
        cells = [f"`{backend}`"]
        for key, _ in THROUGHPUT:
            ratio = f" (×{m[key] / base[key]:.2f})" if base else ""
            cells.append(f"{m[key]:,.0f}{ratio}")
        for key, _ in LATENCY:
            cells.append(f"{m[key + '_p50']:.2f} / {m[key + '_p95']:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=3000, help="aggregates for metrics 1 and 2")
    ap.add_argument("--batches", type=int, default=150, help=f"batches of {BATCH_SIZE} for metric 3")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pg-dsn", default="host=127.0.0.1 port=5432 user=postgres dbname=postgres",
                    help="maintenance connection used to create/drop the bench database")
    ap.add_argument("--backends", nargs="*", default=list(BACKENDS), choices=list(BACKENDS))
    args = ap.parse_args()

    info = psycopg.conninfo.conninfo_to_dict(args.pg_dsn)
    pg = {"host": str(info.get("host", "127.0.0.1")), "port": str(info.get("port", "5432")),
          "user": str(info.get("user", "postgres")), "password": str(info.get("password", ""))}
    pg_db = f"bench_{uuid.uuid4().hex[:12]}"
    needs_pg = any(BACKENDS[b][1] == "postgres" for b in args.backends)
    if needs_pg:
        with psycopg.connect(args.pg_dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(pg_db)))

    runs: dict[str, list[dict[str, float]]] = {b: [] for b in args.backends}
    try:
        with tempfile.TemporaryDirectory(prefix="bench_persistence_") as tmp:
            for r in range(args.repeats):
                # Rotate the order so no backend always runs first (cold caches)
                # or last (after the disk has been busy); the box is noisy.
                order = args.backends[r % len(args.backends):] + args.backends[:r % len(args.backends)]
                for backend in order:
                    tag = f"{args.backends.index(backend)}_{r}"
                    env = backend_env(backend, pg, pg_db, Path(tmp) / f"{tag}.sqlite")
                    app = open_app(tag, env)
                    try:
                        result = run_once(app, args.n, args.batches)
                    finally:
                        close_app(app)
                    runs[backend].append(result)
                    print(f"repeat {r + 1}/{args.repeats} {backend}: "
                          + ", ".join(f"{k}={v:,.2f}" for k, v in result.items()), flush=True)
    finally:
        if needs_pg:
            with psycopg.connect(args.pg_dsn, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                              .format(sql.Identifier(pg_db)))

    medians = {b: {k: statistics.median(run[k] for run in rs) for k in rs[0]}
               for b, rs in runs.items()}
    print(f"\nN={args.n} one-event saves and commands, {args.batches}×{BATCH_SIZE} batched "
          f"events, median of {args.repeats} repeats; ratio vs the library recorder "
          f"for the same database engine.\n")
    print(render_table(medians))


if __name__ == "__main__":
    main()

"""The projection runner's linger: a sustained stream of commands with the runner in the server.

    .venv/bin/python bench/linger.py                                  # both stores, ~2 minutes
    .venv/bin/python bench/linger.py --backends sqlite --lingers 0.05 0.2 0.5 --rounds 3

Each measurement starts a fresh store and a server as `bench/commands.py --projections` does
(uvicorn serving `create_app`, the runner folding the views in the server), with
`KEMITRAAN_PROJECTION_LINGER` set for it; two lean clients send the command mix of
`bench/commands.py` (propose, confirm, amend, suspend, resume) as fast as they are answered,
and the clock stops when `/v1/health` reports no lag: the runner's work is counted in full,
however long it lingers. Reported: commands/s while sending and until the views caught up,
the server's CPU per command, and how far behind the views were when the stream stopped.
Settings alternate within a round (the box is shared and noisy: compare within a run).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import commands as bench  # noqa: E402  (bench/commands.py: seeding, the server, the client)
from api.wiring import build  # noqa: E402


def measure(stores: bench.Stores, kind: str, linger: float, n: int, clients: int
            ) -> tuple[float, float, float, float]:
    settings = stores.new(kind)
    c = build(settings)
    bench.seed(c)
    secrets = bench.issue_tokens(c)
    c.close()
    os.environ["KEMITRAAN_PROJECTION_LINGER"] = str(linger)
    try:
        with bench.http_server(settings, stores.tmp / f"server-{kind}-{linger}.log") as (base,
                                                                                        pid):
            with bench.LeanClient(base) as warm:  # the routers' set-up, the principal cache
                bench.http_waves(warm, secrets, list(range(10**6, 10**6 + bench.WAVE)),
                                 lambda *_: None)
            per = n // clients // len(bench.MIX)

            def work(j: int) -> None:
                with bench.LeanClient(base) as client:
                    bench.http_waves(client, secrets, list(range(j * per, (j + 1) * per)),
                                     lambda *_: None)

            cpu0, t0 = bench.cpu_seconds((pid,)), time.perf_counter()
            threads = [threading.Thread(target=work, args=(j,)) for j in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            sent = time.perf_counter() - t0
            with bench.LeanClient(base) as client:
                while client.get("/v1/health").json()["projections_lag"]:
                    time.sleep(0.005)
            caught_up = time.perf_counter() - t0
            cpu = bench.cpu_seconds((pid,)) - cpu0
    finally:
        os.environ.pop("KEMITRAAN_PROJECTION_LINGER", None)
        stores.drop(settings)
    commands = per * len(bench.MIX) * clients
    return commands / sent, commands / caught_up, cpu / commands * 1e3, caught_up - sent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backends", nargs="*", default=["sqlite", "postgresql"],
                    choices=["sqlite", "postgresql"])
    ap.add_argument("--lingers", nargs="*", type=float, default=[0.05, 0.2])
    ap.add_argument("--n", type=int, default=3000, help="commands per measurement")
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--pg-dsn", default="host=127.0.0.1 port=5432 user=postgres dbname=postgres")
    args = ap.parse_args()
    bench.SERVER["projections"] = True
    with tempfile.TemporaryDirectory() as tmp:
        stores = bench.Stores(Path(tmp), args.pg_dsn)
        try:
            for kind in args.backends:
                for _ in range(args.rounds):
                    for linger in args.lingers:
                        sent, done, cpu, behind = measure(stores, kind, linger, args.n,
                                                          args.clients)
                        print(f"{kind:10s} linger {linger:5.2f} s: {sent:6.0f} commands/s "
                              f"sending, {done:6.0f}/s until caught up, server CPU {cpu:.2f} "
                              f"ms a command, views {behind * 1e3:4.0f} ms behind at the end",
                              flush=True)
        finally:
            stores.drop_all()


if __name__ == "__main__":
    main()

"""Where a command's CPU goes inside the app: a paired, in-process A/B (run by hand).

The ASGI app is called directly (no sockets, no uvicorn, no client on the same cores), on a
fresh SQLite ledger seeded as `bench/commands.py` seeds it. Variants are interleaved in blocks
of 200 commands (ten waves of propose → confirm → amend → suspend → resume), so that a noisy
machine slows them alike; each block's process CPU (every thread: the loop and the writer
thread) is divided by its commands, and the median per variant is reported.

Variants (combine with `+`):
  routes   every command through the FastAPI routes (the command lane removed)
  lane     the command lane (ADR 0021), as served
  inline   the command runs on the loop, plainly (no held write lock): what the hop costs
  thread   the command always goes to the writer thread (as before ADR 0023)
  nolog    no `command.done` log line

    .venv/bin/python bench/command_ab.py routes,lane,lane+inline --blocks 12
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import logging
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import commands as bench  # noqa: E402  (bench/commands.py: seeding, the command mix)
from api import logs  # noqa: E402
from api.app import create_app, settle_heap  # noqa: E402
from api.routes import partnerships  # noqa: E402
from api.settings import Settings  # noqa: E402
from api.wiring import build  # noqa: E402
from domain.clock import jakarta_date  # noqa: E402

QUIET = structlog.wrap_logger(None, wrapper_class=structlog.make_filtering_bound_logger(
    logging.CRITICAL))


class Harness:
    def __init__(self, data_dir: Path) -> None:
        logs.configure("json")
        self.container = build(Settings(data_dir=data_dir, log_format="json"))
        bench.seed(self.container)
        self.secrets = bench.issue_tokens(self.container)
        self.app = create_app(self.container)
        self.lane = self.app.router.routes[0]
        self.next = 0
        self._run_command, self._log = partnerships.run_command, logs.log
        settle_heap()

    def variant(self, name: str) -> None:
        parts = set(name.split("+"))
        routes = self.app.router.routes
        if routes[0] is self.lane:
            routes.pop(0)
        if "routes" not in parts:
            routes.insert(0, self.lane)
        partnerships.run_command = (_on_the_loop if "inline" in parts else
                                    _in_the_thread if "thread" in parts else self._run_command)
        logs.log = QUIET if "nolog" in parts else self._log

    async def call(self, path: str, body: Any, secret: str) -> bytes:
        raw = json.dumps(body).encode()
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
                 "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
                 "server": ("127.0.0.1", 80), "state": {},
                 "headers": [(b"host", b"bench"), (b"content-type", b"application/json"),
                             (b"content-length", str(len(raw)).encode()),
                             (b"authorization", f"Bearer {secret}".encode())]}
        given = False
        status, chunks = 0, []

        async def receive() -> dict[str, Any]:
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": raw, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            else:
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        if status not in (200, 201):
            raise RuntimeError(f"{path} answered {status}: {b''.join(chunks)[:300]!r}")
        return b"".join(chunks)

    async def wave(self) -> None:
        first, self.next = self.next, self.next + bench.WAVE
        co = self.secrets["company"]
        pids: dict[int, str] = {}
        for step in bench.MIX:
            for i in range(first, first + bench.WAVE):
                today = jakarta_date(datetime.now(timezone.utc))
                if step == "propose":
                    body = {k: (v.isoformat() if isinstance(v, date) else v)
                            for k, v in bench.propose_fields(i, today).items()}
                    pids[i] = json.loads(await self.call("/v1/partnerships", body, co))["id"]
                    continue
                path = f"/v1/partnerships/{pids[i]}/{step}"
                if step == "confirm":
                    await self.call(path, {}, self.secrets[bench.pair(i)[1]])
                elif step == "amend":
                    await self.call(path, {"value_idr": 300_000_000 + i}, co)
                elif step == "suspend":
                    await self.call(path, {"reason": "audit lapangan",
                                           "effective_date": today.isoformat()}, co)
                else:
                    await self.call(path, {"effective_date": today.isoformat()}, co)


async def _on_the_loop(request: Any, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
    return fn(*args, **kwargs)


async def _in_the_thread(request: Any, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
    context = contextvars.copy_context()
    return await request.app.state.writer.run(partial(context.run, fn, *args, **kwargs))


async def measure(h: Harness, variants: list[str], blocks: int) -> dict[str, list[float]]:
    await h.wave()  # warm-up: the routers' lazy set-up, the principal cache
    await h.wave()
    per: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(blocks):
        for v in variants:
            h.variant(v)
            c0 = time.process_time()
            for _ in range(2):
                await h.wave()
            per[v].append((time.process_time() - c0) / (2 * bench.WAVE * len(bench.MIX)) * 1e3)
    return per


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("variants", help="comma-separated, e.g. routes,lane,lane+inline")
    ap.add_argument("--blocks", type=int, default=12)
    args = ap.parse_args()
    variants = args.variants.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        sys.stderr = open("/dev/null", "w")  # the command.done lines
        h = Harness(Path(tmp))
        try:
            import uvloop
            per = uvloop.run(measure(h, variants, args.blocks))
        finally:
            h.container.close()
            sys.stderr = sys.__stderr__
    print(f"{args.blocks} blocks of {2 * bench.WAVE * len(bench.MIX)} commands per variant, "
          "process CPU per command (all threads):")
    base = statistics.median(per[variants[0]])
    for v in variants:
        m = statistics.median(per[v])
        print(f"  {v:22s} median {m:.3f} ms  (min {min(per[v]):.3f}, max {max(per[v]):.3f})"
              f"  ×{m / base:.2f} of {variants[0]}")


if __name__ == "__main__":
    main()

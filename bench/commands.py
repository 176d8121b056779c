"""Command throughput: the `Ledger` use cases and the HTTP API, against the raw recorder rate.

Run by hand (not part of the test suite):

    .venv/bin/python bench/commands.py                         # full run, ~3 minutes on 2 cores
    .venv/bin/python bench/commands.py --n 200 --repeats 1     # quick smoke run
    .venv/bin/python bench/commands.py --profile always        # always add the cProfile section
    .venv/bin/python bench/commands.py --profile-http          # + py-spy of the server (needs
                                                               #   .venv/bin/pip install py-spy)

Every ledger starts on a fresh store: a new SQLite file under a temporary directory, or a new
`kemitraan_bench_<hex>_<n>` PostgreSQL database created through --pg-dsn and dropped right after
(and again in a `finally`), so nothing is left on the server.

The box is shared and noisy, so ratios are never taken between separate runs: a measurement
runs several "arms" (raw and one or more paths) block by block, 100 commands per block, in an
order that rotates every round, and a path's ratio is its rate ÷ the raw arm's rate of the same
measurement. Three measurements per store kind and repeat: raw + domain (+ its what-if);
raw + http ×1 + GET /v1/health (+ its what-if); raw + http ×2.

Arms:

* raw     a plain eventsourcing `Application` (no snapshotting, no cache) saving one new
          `Aggregate` with one small created event per `app.save()` call, with the environment
          `api.wiring.eventsourcing_env` gives the ledger (same persistence module and settings);
* domain  the `container.ledger` use cases, one thread, on pre-registered businesses, with the
          store's default configuration (command cache on);
* http    uvicorn serving `create_app(build(settings))` in a subprocess on 127.0.0.1 (as
          `kemitraan serve` does, so httptools and uvloop when installed; it stops by itself
          when its stdin closes), driven by one, or 2 concurrent, keep-alive `httpx.Client`s
          (`--client lean`: a minimal socket client, ~0.05 ms of CPU a request instead of
          ~0.4, since the clients share the two cores with the server) from this process with
          company/UMKM tokens issued through the ledger; with one client, GET /v1/health
          blocks as a further arm: the floor of the HTTP stack (no token, no write). The
          server runs no projection runner unless `--projections` (as `kemitraan serve` does).

The command mix records exactly one event per command, so commands/s compares with the raw
events/s: in waves of 20 partnerships, propose (company) -> confirm (the UMKM) -> amend value
(company) -> suspend (company) -> resume (company), each 20 % of the commands.

The "what-if" rows are the command cache turned off (`Settings.command_cache_size` = 0; on by
default, ADR 0010), run as extra arms of the same measurement, each on its own fresh store: for
the domain path on both stores, and for http ×1 on PostgreSQL (a second server, on its own
database; what a deployment of several servers on one database gets, ADR 0010).
"""

from __future__ import annotations

import argparse
import cProfile
import inspect
import json
import os
import pstats
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, datetime, timezone
from pathlib import Path
from time import perf_counter
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402
from eventsourcing.application import Application  # noqa: E402
from eventsourcing.domain import Aggregate, event  # noqa: E402
from psycopg import sql  # noqa: E402

from api.auth import new_secret, secret_hash  # noqa: E402
from api.settings import Settings  # noqa: E402
from api.wiring import Container, build, eventsourcing_env  # noqa: E402
from domain.access import SYSTEM, Principal, Role  # noqa: E402
from domain.clock import jakarta_date  # noqa: E402

WAVE = 20          # partnerships per wave; each wave runs the 5 commands over all of them
MIX = ("propose", "confirm", "amend", "suspend", "resume")
BLOCK = WAVE * len(MIX)  # commands per block; raw blocks are as long
WARMUP_WAVES = 1   # untimed: connections, WAL switch, first imports and query plans
LARGE = [f"81200000000{k:02d}" for k in range(4)]     # besar
UMKM = [f"91200000000{k:02d}" for k in range(16)]     # mikro / kecil / menengah
UMKM_SCALES = ("mikro", "kecil", "menengah")
REGISTERED_ON = date(2020, 1, 2)
SERVER_MAX_SECONDS = 900  # the uvicorn subprocess exits by itself after this, whatever happens

TARGETS = {"domain": 0.80, "http": 0.40}  # issue 2: every HTTP configuration, same target


def target_of(path: str) -> float | None:
    if path == "domain":
        return TARGETS["domain"]
    return TARGETS["http"] if path.startswith("http ×") and path != HEALTH else None
# The command cache off (`Settings` fields; the default is 10,000 aggregates on both stores):
# label -> Settings overrides.
WHAT_IF = {
    "sqlite": {"what-if: domain, command cache off": {"command_cache_size": 0}},
    "postgresql": {"what-if: domain, command cache off": {"command_cache_size": 0}},
}
HTTP_WHAT_IF = {  # extra servers in the http ×1 measurement
    "sqlite": {},
    "postgresql": {"what-if: http ×1, command cache off": {"command_cache_size": 0}},
}
HEALTH = "http ×1, GET /v1/health (floor: no write)"


# ---- the raw baseline and the paired measurement -----------------------------------------------

class Note(Aggregate):
    """The smallest useful aggregate: one created event with one short field."""

    class Created(Aggregate.Created):
        text: str

    @event(Created)
    def __init__(self, text: str) -> None:
        self.text = text


class RawSaver:
    """The baseline: one new `Note` per `app.save()`, in its own fresh tables, opened with the
    environment the ledger gets from `eventsourcing_env` (same persistence module, settings and
    database kind). SQLite: its own file next to the ledger's; PostgreSQL: the same fresh
    database, its own tables (eventsourcing prefixes them with the application name)."""

    def __init__(self, settings: Settings) -> None:
        kind, env, _ = eventsourcing_env(settings)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if kind == "sqlite":
            env = {**env, "SQLITE_DBNAME": str(settings.data_dir / "raw.db")}
        self.app = type("RawApp", (Application,), {"name": "BenchRaw"})(env=env)
        self.count = 0
        self.block(-1, None)  # warm-up, not recorded: connecting, WAL switch, first plans

    def block(self, b: int, meter: Meter | None) -> None:
        for _ in range(BLOCK):
            self.count += 1
            t = perf_counter()
            self.app.save(Note(text=f"note {self.count}"))
            if meter is not None:
                meter.record(None, perf_counter() - t)

    def close(self) -> None:
        self.app.close()


class Meter:
    """Latencies, wall and CPU time of one side (the path, or raw) of a measurement."""

    def __init__(self, server_cpu: bool = False) -> None:
        self.lat: list[float] = []
        self.steps: dict[str, list[float]] = defaultdict(list)
        self.wall = self.cpu = 0.0
        self.server_cpu: float | None = 0.0 if server_cpu else None
        self._lock = threading.Lock()

    def record(self, step: str | None, seconds: float) -> None:
        with self._lock:
            self.lat.append(seconds)
            if step:
                self.steps[step].append(seconds)

    def summary(self) -> dict[str, Any]:
        """Rate = commands ÷ wall time of the timed blocks; CPU in ms per command."""
        n = len(self.lat)
        out: dict[str, Any] = {"n": n, "rate": n / self.wall, "p50": pct(self.lat, 50),
                               "p95": pct(self.lat, 95), "cpu": self.cpu / n * 1000}
        if self.server_cpu is not None:
            out["server_cpu"] = self.server_cpu / n * 1000
        if self.steps:
            out["steps"] = {s: pct(v, 50) for s, v in self.steps.items()}
        return out


Arm = Callable[[int, Meter], None]  # run block number b, recording into the meter


def interleave(arms: dict[str, Arm], blocks: int,
               server_pids: dict[str, tuple[int, ...]] | None = None
               ) -> dict[str, dict[str, Any]]:
    """Run `blocks` rounds; each round runs one block of every arm, starting one arm later each
    round. Every arm of a measurement (raw included) thus sees the same noise on a shared box,
    and a ratio between two arms of one measurement is as fair as this machine allows.
    `server_pids`: arm -> the server processes whose CPU time that arm also records."""
    pids = server_pids or {}
    meters = {name: Meter(server_cpu=name in pids) for name in arms}
    names = list(arms)
    for b in range(blocks):
        k = b % len(names)
        for name in names[k:] + names[:k]:
            meter, pid = meters[name], pids.get(name)
            server = cpu_seconds(pid) if pid else 0.0
            cpu, t = time.process_time(), perf_counter()
            arms[name](b, meter)
            meter.wall += perf_counter() - t
            meter.cpu += time.process_time() - cpu
            if pid and meter.server_cpu is not None:
                meter.server_cpu += cpu_seconds(pid) - server
    return {name: m.summary() for name, m in meters.items()}


def cpu_seconds(pids: tuple[int, ...]) -> float:
    """User + system CPU time of other processes (Linux /proc)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


# ---- the ledger: seeding and the command mix -----------------------------------------------

def company() -> Principal:
    return Principal(id="bench-company", role=Role.COMPANY, name="bench company",
                     nibs=tuple(LARGE))


def umkm(nib: str) -> Principal:
    return Principal(id=f"bench-umkm-{nib}", role=Role.UMKM, name="bench umkm", nibs=(nib,))


def seed(c: Container) -> None:
    now = datetime.now(timezone.utc)
    for k, nib in enumerate(LARGE):
        c.ledger.register_business(SYSTEM, now, nib=nib, name=f"PT Besar Bench {k}",
                                   scale="besar", region_code="31.71", kbli=["46100"],
                                   effective_date=REGISTERED_ON)
    for k, nib in enumerate(UMKM):
        c.ledger.register_business(SYSTEM, now, nib=nib, name=f"UMKM Bench {k}",
                                   scale=UMKM_SCALES[k % 3], region_code="32.16",
                                   kbli=["10792"], effective_date=REGISTERED_ON)


def issue_tokens(c: Container) -> dict[str, str]:
    """Secrets by who holds them: 'company', and one per UMKM NIB (an umkm token has one NIB)."""
    now = datetime.now(timezone.utc)
    secrets = {"company": new_secret()}
    secrets.update({nib: new_secret() for nib in UMKM})
    for holder, secret in secrets.items():
        role, nibs = ("company", LARGE) if holder == "company" else ("umkm", [holder])
        c.ledger.issue_token(SYSTEM, now, secret_sha256_hex=secret_hash(secret), role=role,
                             region=None, nibs=list(nibs), name=f"bench {holder}")
    return secrets


def pair(i: int) -> tuple[str, str]:
    return LARGE[i % len(LARGE)], UMKM[i % len(UMKM)]


def propose_fields(i: int, today: date) -> dict[str, Any]:
    large, small = pair(i)
    return dict(large_nib=large, umkm_nib=small, pola="rantai_pasok",
                title=f"Pasokan bahan baku kerupuk, kemitraan nomor {i}",
                start_date=today, end_date=date(today.year + 2, 12, 31),
                value_idr=250_000_000 + i, location_region_code="32.16.01",
                program="rantai_pasok_industri")


def domain_waves(c: Container, first: int, count: int,
                 record: Callable[[str, float], None]) -> None:
    """`count` partnerships from index `first`, wave by wave, through the use cases."""
    ledger, co = c.ledger, company()
    for w0 in range(first, first + count, WAVE):
        idx = range(w0, min(w0 + WAVE, first + count))
        pids: dict[int, uuid.UUID] = {}
        for step in MIX:
            for i in idx:
                t = perf_counter()
                now = datetime.now(timezone.utc)
                today = jakarta_date(now)
                if step == "propose":
                    pids[i] = uuid.uuid4()
                    ledger.propose_partnership(co, now, pids[i], **propose_fields(i, today))
                elif step == "confirm":
                    ledger.confirm(umkm(pair(i)[1]), now, pids[i])
                elif step == "amend":
                    ledger.amend(co, now, pids[i], changes={"value_idr": 300_000_000 + i})
                elif step == "suspend":
                    ledger.suspend(co, now, pids[i], reason="audit lapangan",
                                   effective_date=today)
                else:
                    ledger.resume(co, now, pids[i], effective_date=today)
                record(step, perf_counter() - t)


def open_ledger(settings: Settings) -> Container:
    c = build(settings)
    seed(c)
    return c


def run_domain(stores: Stores, kind: str, n: int, variants: dict[str, dict[str, Any]]
               ) -> dict[str, dict[str, Any]]:
    """raw + the domain mix on one ledger per variant (label -> `Settings` overrides), each on
    its own fresh store, interleaved block by block."""
    settings: dict[str, Settings] = {}
    ledgers: dict[str, Container] = {}
    raw: RawSaver | None = None
    try:
        for label, overrides in variants.items():
            settings[label] = stores.new(kind, **overrides)
            ledgers[label] = open_ledger(settings[label])
            domain_waves(ledgers[label], 0, WAVE * WARMUP_WAVES, lambda step, s: None)
        raw = RawSaver(settings["domain"])
        arms: dict[str, Arm] = {"raw": raw.block}
        for label, c in ledgers.items():
            arms[label] = (lambda c: lambda b, meter: domain_waves(
                c, WAVE * (WARMUP_WAVES + b), WAVE, meter.record))(c)
        return interleave(arms, max(1, n // BLOCK))
    finally:
        if raw is not None:
            raw.close()
        for c in ledgers.values():
            c.close()
        for st in settings.values():
            stores.drop(st)


# ---- the HTTP path --------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(args: argparse.Namespace) -> None:
    """The server subprocess: what `kemitraan serve` runs (the projection runner only with
    `--projections`), stopping when stdin reaches EOF."""
    import uvicorn

    from api.app import create_app, settle_heap
    from api.logs import configure

    cache = None if args.command_cache_size in (None, "") else int(args.command_cache_size)
    settings = Settings(data_dir=Path(args.data_dir), database_url=args.database_url or None,
                        command_cache_size=cache, log_format="json")
    configure(settings.log_format)
    container = build(settings)
    app = create_app(container, run_projections=args.run_projections)
    settle_heap()  # as `kemitraan serve` does (api.cli.run_server)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1",
                                          port=args.port, log_level="warning",
                                          access_log=False))

    def stop() -> None:
        server.should_exit = True

    def stdin_closed() -> None:
        sys.stdin.read()  # returns at EOF: the benchmark finished, or died
        stop()

    threading.Thread(target=stdin_closed, daemon=True).start()
    timer = threading.Timer(SERVER_MAX_SECONDS, stop)
    timer.daemon = True
    timer.start()
    try:
        server.run()
    finally:
        container.close()


@contextmanager
def http_server(settings: Settings, log_path: Path, wrap: list[str] | None = None
                ) -> Iterator[tuple[str, int]]:
    """Serve on a free port; `wrap` prefixes the command (a profiler that runs the server)."""
    port = free_port()
    cmd = (wrap or []) + [
        sys.executable, str(Path(__file__).resolve()), "--serve", "--port", str(port),
        "--data-dir", str(settings.data_dir), "--database-url", settings.database_url or "",
        "--command-cache-size", "" if settings.command_cache_size is None
        else str(settings.command_cache_size)] + (["--run-projections"] if SERVER["projections"]
                                                  else [])
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=log, stderr=log, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode}; see {log_path}:\n"
                                   + log_path.read_text()[-2000:])
            try:
                if httpx.get(f"{base}/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer within 60 s; see {log_path}")
            time.sleep(0.1)
        yield base, proc.pid
    finally:
        assert proc.stdin is not None
        proc.stdin.close()  # the server's watchdog sees EOF and shuts uvicorn down
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class LeanResponse:
    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code, self.content = status_code, content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP {self.status_code}: {self.text[:500]}")


class LeanClient:
    """A minimal HTTP/1.1 keep-alive client over one socket: what a load generator such as
    `wrk` does, so that the client's own CPU (httpx costs ~0.4 ms a request) competes less
    with the server on this two-core box. The same `get`/`post` surface as `httpx.Client`
    for what the waves use; answers with Content-Length or chunked bodies."""

    def __init__(self, base_url: str, timeout: float = 30) -> None:
        host, port = base_url.removeprefix("http://").rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.host, self.buf = f"{host}:{port}", b""

    def __enter__(self) -> LeanClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.sock.close()

    def close(self) -> None:
        self.sock.close()

    def get(self, path: str, headers: dict[str, str] | None = None) -> LeanResponse:
        return self.request("GET", path, None, headers)

    def post(self, path: str, json: Any = None, headers: dict[str, str] | None = None
             ) -> LeanResponse:
        return self.request("POST", path, json, headers)

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buf += chunk

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _line(self) -> bytes:
        while (i := self.buf.find(b"\r\n")) < 0:
            self._fill()
        out, self.buf = self.buf[:i], self.buf[i + 2:]
        return out

    def request(self, method: str, path: str, body: Any, headers: dict[str, str] | None
                ) -> LeanResponse:
        data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        for k, v in (headers or {}).items():
            head += f"{k}: {v}\r\n"
        self.sock.sendall(head.encode() + b"\r\n" + data)
        while (i := self.buf.find(b"\r\n\r\n")) < 0:
            self._fill()
        lines = self.buf[:i].split(b"\r\n")
        self.buf = self.buf[i + 4:]
        status = int(lines[0].split()[1])
        fields = {k.strip().lower(): v.strip()
                  for k, _, v in (line.partition(b":") for line in lines[1:])}
        if b"content-length" in fields:
            return LeanResponse(status, self._take(int(fields[b"content-length"])))
        if fields.get(b"transfer-encoding", b"").lower() == b"chunked":
            parts = []
            while size := int(self._line().split(b";")[0], 16):
                parts.append(self._take(size))
                self._take(2)
            while self._line():  # trailers, then the blank line
                pass
            return LeanResponse(status, b"".join(parts))
        return LeanResponse(status, b"")


CLIENT = {"kind": "httpx"}  # --client
SERVER = {"projections": False}  # --projections


def open_client(base: str) -> httpx.Client | LeanClient:
    if CLIENT["kind"] == "lean":
        return LeanClient(base)
    return httpx.Client(base_url=base, timeout=30)


def http_waves(client: httpx.Client | LeanClient, secrets: dict[str, str], indices: list[int],
               record: Callable[[str, float], None]) -> None:
    co = {"Authorization": f"Bearer {secrets['company']}"}
    for w0 in range(0, len(indices), WAVE):
        idx = indices[w0:w0 + WAVE]
        pids: dict[int, str] = {}
        for step in MIX:
            for i in idx:
                t = perf_counter()
                today = jakarta_date(datetime.now(timezone.utc)).isoformat()
                if step == "propose":
                    body = propose_fields(i, date.fromisoformat(today))
                    body = {k: (v.isoformat() if isinstance(v, date) else v)
                            for k, v in body.items()}
                    r = client.post("/v1/partnerships", json=body, headers=co)
                elif step == "confirm":
                    r = client.post(f"/v1/partnerships/{pids[i]}/confirm", json={},
                                    headers={"Authorization": f"Bearer {secrets[pair(i)[1]]}"})
                elif step == "amend":
                    r = client.post(f"/v1/partnerships/{pids[i]}/amend",
                                    json={"value_idr": 300_000_000 + i}, headers=co)
                elif step == "suspend":
                    r = client.post(f"/v1/partnerships/{pids[i]}/suspend", headers=co,
                                    json={"reason": "audit lapangan", "effective_date": today})
                else:
                    r = client.post(f"/v1/partnerships/{pids[i]}/resume", headers=co,
                                    json={"effective_date": today})
                elapsed = perf_counter() - t
                if r.status_code not in (200, 201):
                    raise RuntimeError(f"{step} answered {r.status_code}: {r.text[:500]}")
                if step == "propose":
                    pids[i] = r.json()["id"]
                record(step, elapsed)


class Clients:
    """`k` threads, each with its own keep-alive `httpx.Client` (client j on server
    `bases[j % len(bases)]`, as a load balancer with sticky connections would send it);
    `run(b, meter)` makes every client drive one wave of its own partnerships (block `b`) and
    waits for all of them."""

    def __init__(self, bases: list[str], secrets: dict[str, str], k: int) -> None:
        self.bases, self.secrets, self.k = bases, secrets, k
        self.start = threading.Barrier(k + 1, timeout=300)
        self.end = threading.Barrier(k + 1, timeout=300)
        self.block, self.meter, self.stopping = 0, Meter(), False
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._work, args=(j,), daemon=True)
                        for j in range(k)]
        for t in self.threads:
            t.start()

    def _work(self, j: int) -> None:
        with open_client(self.bases[j % len(self.bases)]) as client:
            client.get("/v1/health")  # open the keep-alive connection before any timing
            while True:
                self.start.wait()
                if self.stopping:
                    return
                try:
                    first = WAVE * (WARMUP_WAVES + self.block * self.k + j)
                    http_waves(client, self.secrets, list(range(first, first + WAVE)),
                               self.meter.record)
                except BaseException as e:  # noqa: BLE001 - raised again by run()
                    self.errors.append(e)
                self.end.wait()

    def run(self, b: int, meter: Meter) -> None:
        self.block, self.meter = b, meter
        self.start.wait()
        self.end.wait()
        if self.errors:
            raise self.errors[0]

    def close(self) -> None:
        self.stopping = True
        try:
            self.start.wait()
        except threading.BrokenBarrierError:
            pass
        for t in self.threads:
            t.join(timeout=30)


def health_block(client: httpx.Client | LeanClient, meter: Meter) -> None:
    """The cheapest endpoint (one `SELECT max(id)`, no token): the HTTP stack's own cost."""
    for _ in range(BLOCK):
        t = perf_counter()
        r = client.get("/v1/health")
        meter.record(None, perf_counter() - t)
        r.raise_for_status()


def http_label(clients: int, servers: int = 1) -> str:
    return f"http ×{clients}" + (f", {servers} servers" if servers > 1 else "")


def run_http(stores: Stores, kind: str, n: int, clients: int, log_dir: Path, *,
             raw: bool = True, health: bool = False,
             variants: dict[str, dict[str, Any]] | None = None,
             wrap: list[str] | None = None, servers: int = 1) -> dict[str, dict[str, Any]]:
    """raw + the command mix over HTTP with `clients` concurrent clients (+ GET /v1/health
    blocks with `health`; + one more server per variant, label -> `Settings` overrides, driven
    the same way), interleaved block by block. Every configuration has its own fresh store,
    served by `servers` server processes (the clients spread over them)."""
    label = http_label(clients, servers)
    configs: dict[str, dict[str, Any]] = {label: {}} | (variants or {})
    arms: dict[str, Arm] = {}
    pids: dict[str, tuple[int, ...]] = {}
    with ExitStack() as stack:  # closes, in reverse: clients, servers, raw, stores
        first: Settings | None = None
        for name, overrides in configs.items():
            settings = stores.new(kind, **overrides)
            stack.callback(stores.drop, settings)
            first = first or settings
            c = open_ledger(settings)
            try:
                secrets = issue_tokens(c)
            finally:
                c.close()  # the server subprocess is the only process with the ledger open
            served = [stack.enter_context(http_server(
                settings, log_dir / f"server_{stores.count}_{k}.log", wrap))
                for k in range(servers if name == label else 1)]
            bases = [base for base, _ in served]
            client = stack.enter_context(open_client(bases[0]))
            for k, base in enumerate(bases):  # warm-up, every server
                with open_client(base) as warm:
                    http_waves(warm, secrets, list(range(WAVE * WARMUP_WAVES * k,
                                                         WAVE * WARMUP_WAVES * (k + 1))),
                               lambda s, x: None)
                    health_block(warm, Meter())
            pool = Clients(bases, secrets, clients)
            stack.callback(pool.close)
            arms[name], pids[name] = pool.run, tuple(pid for _, pid in served)
            if name == label and health:
                arms[HEALTH] = (lambda client: lambda b, meter: health_block(client, meter))(
                    client)
                pids[HEALTH] = pids[name][:1]
        assert first is not None
        if raw:
            saver = RawSaver(first)
            stack.callback(saver.close)
            arms["raw"] = saver.block
        return interleave(arms, max(1, n // (BLOCK * clients)),
                          server_pids=None if wrap else pids)


class Stores:
    """Fresh stores for each measurement: SQLite files in a temp dir, PostgreSQL databases."""

    def __init__(self, tmp: Path, pg_dsn: str) -> None:
        self.tmp, self.pg_dsn = tmp, pg_dsn
        info = psycopg.conninfo.conninfo_to_dict(pg_dsn)
        self.pg = {"host": str(info.get("host", "127.0.0.1")),
                   "port": str(info.get("port", "5432")),
                   "user": str(info.get("user", "postgres")),
                   "password": str(info.get("password", ""))}
        self.run_id = uuid.uuid4().hex[:8]
        self.count = 0
        self.databases: list[str] = []

    def new(self, kind: str, **overrides: Any) -> Settings:
        """A fresh store. The command cache is set explicitly (None = the store's default), so
        a KEMITRAAN_COMMAND_CACHE_SIZE in the environment or .env cannot change the rows."""
        self.count += 1
        data_dir = self.tmp / f"store_{self.count}"
        url = None
        if kind == "postgresql":
            db = f"kemitraan_bench_{self.run_id}_{self.count}"
            with psycopg.connect(self.pg_dsn, autocommit=True) as admin:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
            self.databases.append(db)
            pw = f":{self.pg['password']}" if self.pg["password"] else ""
            url = (f"postgresql+psycopg://{self.pg['user']}{pw}@{self.pg['host']}:"
                   f"{self.pg['port']}/{db}")
        fields: dict[str, Any] = {"command_cache_size": None} | overrides
        return Settings(data_dir=data_dir, database_url=url, max_upload_bytes=1024 * 1024,
                        log_format="json", **fields)

    def drop(self, settings: Settings) -> None:
        if settings.database_url:
            self._drop(settings.database_url.rsplit("/", 1)[1])

    def drop_all(self) -> None:
        for db in list(self.databases):
            self._drop(db)

    def _drop(self, db: str) -> None:
        if db not in self.databases:
            return
        with psycopg.connect(self.pg_dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                          .format(sql.Identifier(db)))
        self.databases.remove(db)


def pct(samples: list[float], p: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[p - 1] * 1000


BACKEND_NAMES = {"sqlite": "SQLite (`eventsourcing.sqlite`)",
                 "postgresql": "PostgreSQL (`eventsourcing.postgres`)"}


def render_table(results: dict[tuple[str, str], list[dict[str, Any]]], backends: list[str],
                 paths: list[str]) -> str:
    """Medians over repeats. A path's ratio is its rate ÷ the raw rate measured interleaved with
    it (per measurement); the raw row pools the raw blocks of every measurement."""
    lines = ["| Backend | Path | commands/s | ratio vs raw, median (min–max) | target | p50 ms "
             "| p95 ms | CPU ms/command |", "|---|---|---|---|---|---|---|---|"]
    for b in backends:
        for p in ["raw"] + paths:
            runs = results.get((b, p))
            if not runs:
                continue
            ratios = [r["rate"] / r["raw_rate"] for r in runs] if p != "raw" else [1.0]
            ratio = statistics.median(ratios)
            target = target_of(p)
            verdict = "" if target is None else (
                f"≥ {target:.2f}: {'met' if ratio >= target else 'missed'}")
            label = p if p != "raw" else f"raw `app.save()`, 1 small event ({len(runs)} runs)"
            cpu = statistics.median(r["cpu"] for r in runs)
            cpu_cell = f"{cpu:.2f}"
            if "server_cpu" in runs[0]:
                server = statistics.median(r["server_cpu"] for r in runs)
                cpu_cell = f"{server:.2f} server + {cpu:.2f} client"
            rate = statistics.median(r["rate"] for r in runs)
            lines.append(
                f"| {BACKEND_NAMES[b]} | {label} | {rate:,.0f}"
                f" | {ratio:.2f} ({min(ratios):.2f}–{max(ratios):.2f}) | {verdict} "
                f"| {statistics.median(r['p50'] for r in runs):.2f} "
                f"| {statistics.median(r['p95'] for r in runs):.2f} | {cpu_cell} |")
    return "\n".join(lines)


def render_what_if(results: dict[tuple[str, str], list[dict[str, Any]]],
                   backends: list[str]) -> str:
    lines = ["| Backend | What-if (configuration only) | rate ÷ default arm's rate, median "
             "(min–max) | ratio vs raw |", "|---|---|---|---|"]
    for b in backends:
        for label in list(WHAT_IF[b]) + list(HTTP_WHAT_IF[b]):
            runs = results.get((b, label))
            if runs:
                x = [r["rate"] / r["base_rate"] for r in runs]
                raw = statistics.median(r["rate"] / r["raw_rate"] for r in runs)
                lines.append(f"| {BACKEND_NAMES[b]} | {label.split(': ', 1)[1]} | "
                             f"×{statistics.median(x):.2f} (×{min(x):.2f}–×{max(x):.2f}) | "
                             f"{raw:.2f} |")
    return "\n".join(lines)


def render_steps(results: dict[tuple[str, str], list[dict[str, Any]]], backends: list[str],
                 paths: list[str]) -> str:
    lines = ["| Backend | Path | " + " | ".join(MIX) + " |", "|---|---|" + "---|" * len(MIX)]
    for b in backends:
        for p in paths:
            runs = results.get((b, p))
            if not runs or "steps" not in runs[0]:
                continue
            cells = [f"{statistics.median(r['steps'][s] for r in runs):.2f}" for s in MIX]
            lines.append(f"| {BACKEND_NAMES[b]} | {p} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---- profile of the domain path ---------------------------------------------------------------

def _key(func: Any) -> tuple[str, int, str]:
    code = inspect.unwrap(func).__code__  # the recorders' methods are wrapped by @retry
    return code.co_filename, code.co_firstlineno, code.co_name


def profile_domain(settings: Settings, n: int, top: int) -> str:
    """cProfile the domain mix (the store's default configuration); break the command time
    down by what the ledger and the library do for it."""
    from eventsourcing.persistence import Mapper

    from domain import values
    from domain.application import Ledger
    from domain.base import project
    from domain.ledger_base import LedgerBase
    from domain.partnership import Partnership

    c = open_ledger(settings)
    try:
        ledger = c.ledger
        cache_size = ledger.command_cache.maxsize
        # A benchmark-side wrapper with its own name; list() only makes the (already eager)
        # recorder result's decoding happen inside it.
        events_get = ledger.events.get

        def stream_read_and_decode(*a: Any, **kw: Any) -> list[Any]:
            return list(events_get(*a, **kw))

        ledger.events.get = stream_read_and_decode  # type: ignore[method-assign]
        domain_waves(c, 0, WAVE * WARMUP_WAVES, lambda step, s: None)
        count = [0]
        prof = cProfile.Profile()
        prof.enable()
        domain_waves(c, WAVE * WARMUP_WAVES, n // len(MIX),
                     lambda step, s: count.__setitem__(0, count[0] + 1))
        prof.disable()
        recorder_select = type(ledger.recorder).select_events
        recorder_insert = type(ledger.recorder).insert_events
    finally:
        c.close()

    stats = pstats.Stats(prof)
    raw_stats: dict[tuple[str, int, str], tuple[Any, ...]] = (
        stats.stats)  # type: ignore[attr-defined]
    commands = count[0]

    def ct(*funcs: Any) -> tuple[float, int]:
        total, calls = 0.0, 0
        for f in funcs:
            entry = raw_stats.get(_key(f))
            if entry:
                total += entry[3]
                calls += entry[1]
        return total, calls

    use_cases = [getattr(Ledger, m) for m in
                 ("propose_partnership", "confirm", "amend", "suspend", "resume")]
    total, _ = ct(*use_cases)
    rows: list[tuple[str, float, int]] = []

    def row(label: str, *funcs: Any) -> float:
        t, calls = ct(*funcs)
        rows.append((label, t, calls))
        return t

    load = row("load: `LedgerBase._load` (propose: 2 businesses; cache misses)", LedgerBase._load)
    row("  ├ stream read + decode (`events.get`, one query)", stream_read_and_decode)
    row("  │   └ of which decode (`Mapper.to_domain_event`)", Mapper.to_domain_event)
    row("  └ replay (`domain.base.project`)", project)
    row("command cache `take` (hits and misses)", type(ledger.command_cache).take)
    save = row("save: `Application.save`", Application.save)
    row("  ├ encode (`Mapper.to_stored_event`)", Mapper.to_stored_event)
    row("  └ insert (`recorder.insert_events`)", recorder_insert)
    row("SQL selects (`recorder.select_events`)", recorder_select)
    val_own = sum(e[2] for k, e in raw_stats.items() if k[0] == values.__file__)
    rows.append(("validation (`domain/values.py`, own time)", val_own, 0))
    agg = row("aggregate methods (`Partnership.propose/confirm/...`, incl. event creation)",
              Partnership.propose, Partnership.confirm, Partnership.amend, Partnership.suspend,
              Partnership.resume)
    other = total - load - save - agg - val_own
    rows.append(("rest of the use case (access checks, cache, `Written`, `datetime`...)",
                 other, 0))

    out = [f"cProfile of {commands} domain commands, command cache size {cache_size} "
           f"({total / commands * 1000:.2f} ms/command under the profiler; cProfile inflates "
           f"Python time more than time waiting on the database, so read the shares as "
           f"indicative).", "",
           "| Where the time goes | ms/command | share | calls/command |", "|---|---|---|---|"]
    for label, t, calls in rows:
        per = f"{calls / commands:.1f}" if calls else ""
        out.append(f"| {label} | {t / commands * 1000:.3f} | {t / total:.0%} | {per} |")
    out += ["", f"Top {top} functions by own time:", "", "```"]
    tops = sorted(raw_stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    for (file, line, name), e in tops:
        short = file.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
        out.append(f"{e[2] / commands * 1000:7.3f} ms/cmd  {e[1] / commands:5.1f} calls/cmd  "
                   f"{short}:{line}({name})")
    out.append("```")
    return "\n".join(out)


# ---- profile of the HTTP server (optional: needs py-spy) --------------------------------------

# Each GIL-holding sample goes to the first category matched walking from the innermost frame
# outwards; generic stdlib frames (contextlib, typing, ...) match nothing and are walked past.
HTTP_CATEGORIES = [
    ("ledger: use case (load, act, save) and token check, incl. driver and JSON",
     ("eventsourcing/", "domain/", "psycopg", "sqlite3", "api/routes/", "api/auth.py",
      "api/deps.py", "uuid.py", "copy.py", "json/")),
    ("structlog `command.done` line + request-id middleware (`api/logs.py`)",
     ("structlog/", "api/logs.py")),
    ("pydantic: request body, response model", ("pydantic", "fastapi/_compat", "fastapi/encoders")),
    ("uvicorn + httptools: HTTP parsing and writing", ("httptools", "h11/", "uvicorn/")),
    ("thread-pool hand-off (sync endpoint)",
     ("anyio/", "starlette/concurrency.py", "queue.py", "threading.py", "fastapi/concurrency.py")),
    ("event loop (uvloop / asyncio)", ("uvloop", "asyncio/", "selectors.py")),
    ("FastAPI/Starlette routing, dependencies, middlewares",
     ("fastapi/", "starlette/", "api/limits.py", "api/problems.py")),
]


HTTP_SETUP = "FastAPI's lazy route set-up (first request into each router, once per process)"


def profile_http(stores: Stores, kind: str, n: int, log_dir: Path, spy: str,
                 rate: int = 500) -> str:
    out = log_dir / f"http_{kind}.pyspy"
    # --nonblocking: pausing the server for every sample (py-spy's default) distorted the
    # shares and the sample counts from one run to the next under uvloop.
    wrap = [spy, "record", "--gil", "--nonblocking", "--format", "raw", "-r", str(rate),
            "-o", str(out), "--"]
    run_http(stores, kind, n, 1, log_dir, raw=False, wrap=wrap)
    commands = (max(1, n // BLOCK) + WARMUP_WAVES) * BLOCK  # the warm-up wave is sampled too
    counts: dict[str, int] = defaultdict(int)
    total = 0
    for line in out.read_text().splitlines():
        stack, _, num = line.rpartition(" ")
        if "Runner.run" not in stack and "WorkerThread.run" not in stack:
            continue  # start-up (imports, build) and the watchdog threads
        total += int(num)
        category = "other"
        if "_build_effective_context" in stack:
            category = HTTP_SETUP  # once per process, on the first request into each router
        for frame in ([] if category == HTTP_SETUP else reversed(stack.split(";"))):
            file = frame.rsplit(" (", 1)[-1]
            hit = next((name for name, pats in HTTP_CATEGORIES if any(p in file for p in pats)),
                       None)
            if hit:
                category = hit
                break
        counts[category] += int(num)

    def ms(k: int) -> str:
        return f"{k / rate * 1000 / commands:.2f}"

    lines = [f"py-spy (`record --gil --nonblocking`, {rate} Hz) on the uvicorn process, "
             f"{commands} commands (warm-up wave included), one client: {total} samples of the "
             f"thread holding the GIL, {ms(total)} ms per command (the server CPU in the main "
             f"table also counts time with the GIL released: drivers, kernel, C code).", "",
             "| Server, GIL held | share |", "|---|---|"]
    for name, k in sorted(counts.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {name} | {k / total:.0%} |")
    return "\n".join(lines)


# ---- main -------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000,
                    help=f"commands per arm and measurement, in blocks of {BLOCK} (default 1000)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--backends", nargs="*", default=["sqlite", "postgresql"],
                    choices=["sqlite", "postgresql"])
    ap.add_argument("--clients", nargs="*", type=int, default=[1, 2],
                    help="concurrent HTTP clients, one measurement per value")
    ap.add_argument("--servers", nargs="*", type=int, default=[1, 2],
                    help="server processes on one store (a SQLite file too), one "
                         "measurement per value and per --clients value at least as large")
    ap.add_argument("--client", choices=["httpx", "lean"], default="httpx",
                    help="the HTTP clients: httpx.Client, or a minimal keep-alive socket client "
                         "(less client CPU on the same two cores)")
    ap.add_argument("--projections", action="store_true",
                    help="servers fold the views in a background thread, as `kemitraan serve` "
                         "does (by default they do not: the command path alone)")
    ap.add_argument("--no-what-if", action="store_true", help="skip the what-if rows")
    ap.add_argument("--profile", choices=["auto", "always", "never"], default="auto",
                    help="auto: profile the domain path where it misses its target")
    ap.add_argument("--top", type=int, default=20, help="functions listed by the profile")
    ap.add_argument("--profile-http", action="store_true",
                    help="also sample the uvicorn process with py-spy (pip install py-spy)")
    ap.add_argument("--pg-dsn", default="host=127.0.0.1 port=5432 user=postgres dbname=postgres",
                    help="maintenance connection used to create/drop the bench databases")
    # The server subprocess (internal).
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--data-dir", help=argparse.SUPPRESS)
    ap.add_argument("--database-url", help=argparse.SUPPRESS)
    ap.add_argument("--command-cache-size", help=argparse.SUPPRESS)
    ap.add_argument("--run-projections", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args)
        return
    CLIENT["kind"] = args.client
    SERVER["projections"] = args.projections

    # One measurement per (backend, unit); each yields a raw arm and one row per other arm.
    units = ["domain"] + [http_label(k, n) for n in args.servers for k in args.clients
                          if k >= n]
    rows = list(units)
    if 1 in args.clients:
        rows.insert(rows.index("http ×1") + 1, HEALTH)
    if not args.no_what_if:
        rows += list(dict.fromkeys(label for b in args.backends for label in WHAT_IF[b]))
        if 1 in args.clients:
            rows += list(dict.fromkeys(label for b in args.backends
                                       for label in HTTP_WHAT_IF[b]))
    results: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    profiles: dict[str, str] = {}
    http_profiles: dict[str, str] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench_commands_") as tmp:
        stores = Stores(Path(tmp), args.pg_dsn)
        try:
            for r in range(args.repeats):
                for backend in args.backends:
                    # Rotate the order so no unit always runs first (cold) or last.
                    order = units[r % len(units):] + units[:r % len(units)]
                    for unit in order:
                        servers = int(unit.split(", ")[1].split()[0]) if ", " in unit else 1
                        if unit == "domain":
                            variants = {"domain": {}} | (
                                {} if args.no_what_if else WHAT_IF[backend])
                            out = run_domain(stores, backend, args.n, variants)
                        else:
                            clients = int(unit.split("×")[1].split(",")[0])
                            extra = {} if args.no_what_if or unit != "http ×1" else (
                                HTTP_WHAT_IF[backend])
                            out = run_http(stores, backend, args.n, clients, Path(tmp),
                                           health=unit == "http ×1", variants=extra,
                                           servers=servers)
                        raw = out.pop("raw")
                        results[(backend, "raw")].append(raw)
                        for row, res in out.items():
                            res["raw_rate"] = raw["rate"]
                            if row.startswith("what-if"):
                                res["base_rate"] = out[unit]["rate"]
                            results[(backend, row)].append(res)
                            cpu = f"{res['cpu']:.2f}" + (f"+{res['server_cpu']:.2f}"
                                                         if "server_cpu" in res else "")
                            steps = " ".join(f"{s}={v:.2f}" for s, v in
                                             res.get("steps", {}).items())
                            print(f"repeat {r + 1}/{args.repeats} {backend:10} {row[:44]:44} "
                                  f"{res['rate']:6,.0f}/s vs raw {raw['rate']:6,.0f}/s = "
                                  f"{res['rate'] / raw['rate']:.2f}  p50={res['p50']:.2f} "
                                  f"p95={res['p95']:.2f} ms  cpu={cpu} ms  {steps}", flush=True)
            for backend in args.backends:
                ratio = statistics.median(d["rate"] / d["raw_rate"]
                                          for d in results[(backend, "domain")])
                if args.profile == "always" or (args.profile == "auto" and
                                                ratio < TARGETS["domain"]):
                    settings = stores.new(backend)
                    try:
                        profiles[backend] = profile_domain(settings, args.n, args.top)
                    finally:
                        stores.drop(settings)
                if args.profile_http:
                    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
                    if not Path(spy).exists():
                        sys.exit("--profile-http needs py-spy: .venv/bin/pip install py-spy")
                    http_profiles[backend] = profile_http(stores, backend, args.n, Path(tmp),
                                                          spy)
        finally:
            stores.drop_all()

    print(f"\n{args.n} commands per arm and measurement, in blocks of {BLOCK} (a wave of {WAVE} "
          f"partnerships: {' → '.join(MIX)}) interleaved with blocks of {BLOCK} raw saves; "
          f"median of {args.repeats} repeats. Whole run: {time.monotonic() - started:.0f} s.\n")
    print(render_table(results, args.backends, rows))
    if not args.no_what_if:
        print("\nWhat-ifs against the default arm (domain, http ×1) of the same measurement:\n")
        print(render_what_if(results, args.backends))
    print("\np50 ms by command:\n")
    print(render_steps(results, args.backends, [p for p in rows if p != HEALTH]))
    for backend, text in profiles.items():
        print(f"\n### Profile, domain path, {BACKEND_NAMES[backend]}\n")
        print(text)
    for backend, text in http_profiles.items():
        print(f"\n### Profile, HTTP server, {BACKEND_NAMES[backend]}\n")
        print(text)


if __name__ == "__main__":
    main()

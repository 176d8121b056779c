"""Spreadsheet import throughput: `kemitraan import` of a 100,000-row file, on SQLite.

Run by hand (not part of the test suite):

    .venv/bin/python bench/imports.py                 # 100,000 rows (target: <= 60 s)
    .venv/bin/python bench/imports.py --rows 5000     # quick smoke run

What is timed, each on a fresh SQLite store under a temporary directory, with 40 besar and
2,000 UMKM businesses registered first (not timed):

* baseline  one `propose_partnership` use case call per row (what a client calling
            `POST /v1/partnerships` row by row costs, without HTTP) on a sample of `--baseline`
            rows; its rows/s is the yardstick of this same run (the box is shared and noisy);
* csv       `api.imports.read_upload` + `run_import` of the whole CSV file: reading, checking
            every row with the proposal's rules, and saving in batches of 1,000;
* xlsx      the same rows as an .xlsx workbook (openpyxl, read-only mode), on another store;
* again     the CSV imported a second time into the first store: every row is `unchanged`;
* dry run   the CSV checked with `dry_run=True` on a store that already holds it.

The projections are not part of the import: they catch up afterwards (`catch-up` is timed too,
for the CSV store, as the time until the partnership list shows every row).
"""

from __future__ import annotations

import argparse
import csv
import io
import platform
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from api.imports import read_upload, run_import
from api.settings import Settings
from api.wiring import build
from domain.access import SYSTEM, Principal, Role

HEADER = ["external_ref", "large_nib", "umkm_nib", "pola", "program", "title", "start_date",
          "end_date", "value_idr", "location_region_code"]
POLAS = ["rantai_pasok", "subkontrak", "perdagangan_umum", "waralaba", "inti_plasma"]
N_LARGE, N_UMKM = 40, 2000


def large_nib(i: int) -> str:
    return f"3216{i:09d}"


def umkm_nib(i: int) -> str:
    return f"3216{500_000_000 + i:09d}"


def rows(n: int) -> list[list[str]]:
    out = []
    for i in range(n):
        out.append([f"BENCH-{i:06d}", large_nib(i % N_LARGE), umkm_nib(i % N_UMKM),
                    POLAS[i % len(POLAS)], "rantai_pasok_industri", f"Pasokan nomor {i}",
                    f"2024-{1 + i % 12:02d}-01", "2025-12-31", str(1_000_000 + i),
                    f"32.16.{1 + i % 20:02d}"])
    return out


def csv_bytes(data: list[list[str]]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(HEADER)
    w.writerows(data)
    return out.getvalue().encode()


def xlsx_bytes(data: list[list[str]]) -> bytes:
    """A workbook as Excel saves one: shared strings, NIBs as text, dates and values as numbers
    (openpyxl's write-only mode would write inline strings, which read several times slower)."""
    from datetime import date

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Kemitraan"
    ws.append(HEADER)
    for r in data:
        ws.append([*r[:6], date.fromisoformat(r[6]), date.fromisoformat(r[7]), int(r[8]), r[9]])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def fresh(root: Path, name: str):  # type: ignore[no-untyped-def]
    c = build(Settings(data_dir=root / name, max_upload_bytes=512 * 1024 * 1024))
    now = datetime.now(timezone.utc)
    for i in range(N_LARGE):
        c.ledger.register_business(SYSTEM, now, nib=large_nib(i), name=f"Besar {i}",
                                   scale="besar", region_code="32.16", kbli=["47111"])
    for i in range(N_UMKM):
        c.ledger.register_business(SYSTEM, now, nib=umkm_nib(i), name=f"UMKM {i}",
                                   scale="mikro", region_code=f"32.16.{1 + i % 20:02d}",
                                   kbli=["10792"])
    return c


def timed_import(c, content: bytes, name: str,  # type: ignore[no-untyped-def]
                 dry_run: bool = False):
    start = time.perf_counter()
    upload = read_upload(content, name, c.settings.max_upload_bytes)
    result = run_import(c, SYSTEM, datetime.now(timezone.utc), upload, dry_run=dry_run)
    return time.perf_counter() - start, result


def baseline(c, data: list[list[str]]) -> float:  # type: ignore[no-untyped-def]
    from datetime import date

    company = Principal(id="bench", role=Role.COMPANY, nibs=tuple(large_nib(i)
                                                                  for i in range(N_LARGE)))
    now = datetime.now(timezone.utc)
    start = time.perf_counter()
    for r in data:
        c.ledger.propose_partnership(
            company, now, uuid.uuid4(), large_nib=r[1], umkm_nib=r[2], pola=r[3], program=r[4],
            title=r[5], start_date=date.fromisoformat(r[6]), end_date=date.fromisoformat(r[7]),
            value_idr=int(r[8]), location_region_code=r[9], external_ref=r[0])
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--baseline", type=int, default=3_000)
    args = ap.parse_args()
    data = rows(args.rows)
    csv_content, xlsx_content = csv_bytes(data), xlsx_bytes(data)
    print(f"# Import benchmark: {args.rows:,} rows on SQLite ({platform.python_version()}, "
          f"{platform.machine()}); CSV {len(csv_content) / 1e6:.1f} MB, "
          f"XLSX {len(xlsx_content) / 1e6:.1f} MB")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base = fresh(root, "baseline")
        try:
            b = baseline(base, data[:args.baseline])
        finally:
            base.close()
        base_rate = args.baseline / b
        print(f"baseline: {args.baseline:,} single proposals in {b:.1f} s = "
              f"{base_rate:,.0f} rows/s")

        c = fresh(root, "csv")
        try:
            t, res = timed_import(c, csv_content, "bench.csv")
            assert res.accepted == args.rows, (res.accepted, res.rejected[:3])
            print(f"csv:      {args.rows:,} rows in {t:.1f} s = {args.rows / t:,.0f} rows/s "
                  f"(x{args.rows / t / base_rate:.1f} baseline)")
            start = time.perf_counter()
            c.views.read_position(c.views.head())
            print(f"catch-up: the views folded the import in {time.perf_counter() - start:.1f} s")
            t2, res2 = timed_import(c, csv_content, "bench.csv")
            assert res2.unchanged == args.rows and res2.accepted == 0
            print(f"again:    {args.rows:,} unchanged rows in {t2:.1f} s = "
                  f"{args.rows / t2:,.0f} rows/s")
            t3, res3 = timed_import(c, csv_content, "bench.csv", dry_run=True)
            assert res3.unchanged == args.rows
            print(f"dry run:  {args.rows:,} rows checked in {t3:.1f} s")
        finally:
            c.close()

        x = fresh(root, "xlsx")
        try:
            t4, res4 = timed_import(x, xlsx_content, "bench.xlsx")
            assert res4.accepted == args.rows
            print(f"xlsx:     {args.rows:,} rows in {t4:.1f} s = {args.rows / t4:,.0f} rows/s "
                  f"(x{args.rows / t4 / base_rate:.1f} baseline)")
        finally:
            x.close()


if __name__ == "__main__":
    main()

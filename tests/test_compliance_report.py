"""`kemitraan compliance report`: the PDF a dinas attaches to a letter (title, region, period,
as-of, rule versions, the table, one page per non-compliant business), and the same rows as CSV
and XLSX. Run as the installed command against a ledger written through the use cases."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from uuid import uuid4

from pypdf import PdfReader

KEMITRAAN = str(Path(sys.executable).with_name("kemitraan"))
PACK = Path(__file__).resolve().parents[1] / "rules" / "perbup-bekasi-73-2020.json"
COMPLIANT, LATE, NONE_, OUTSIDE = ("3216000000001", "3216000000002", "3216000000003",
                                   "3317000000004")
UMKM, KECIL = "3216010000101", "3216010000102"


def run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEMITRAAN_")}
    return subprocess.run([KEMITRAAN, *args], capture_output=True, text=True, timeout=120,
                          env={**env, "KEMITRAAN_DATA_DIR": str(data_dir)}, cwd=data_dir)


def _ledger(data_dir: Path) -> dict[str, str]:
    from api.settings import Settings
    from api.wiring import build
    from domain.access import SYSTEM

    now = datetime(2024, 4, 10, 3, 0, tzinfo=timezone.utc)
    container = build(Settings(data_dir=data_dir))
    lg = container.ledger
    try:
        lg.enact_regulation(SYSTEM, now, json.loads(PACK.read_text()))
        for nib, scale, region in ((COMPLIANT, "besar", "32.16"), (LATE, "besar", "32.16.01"),
                                   (NONE_, "besar", "32.16.02"), (OUTSIDE, "besar", "33.17"),
                                   (UMKM, "mikro", "32.16.01"), (KECIL, "kecil", "32.16.01")):
            lg.register_business(SYSTEM, now, nib=nib, name=f"Usaha {nib}", scale=scale,
                                 region_code=region, kbli=["47111"])

        def partnership(large: str, umkm: str, *, realized: bool) -> str:
            pid = lg.propose_partnership(
                SYSTEM, now, uuid4(), large_nib=large, umkm_nib=umkm, pola="rantai_pasok",
                title="Pasokan", start_date=date(2024, 1, 1), end_date=date(2024, 12, 31),
                location_region_code="32.16").id
            lg.confirm(SYSTEM, now, pid)
            ids = [str(uuid4()), str(uuid4())]
            for eid, kind in zip(ids, ("perjanjian", "invoice")):
                lg.submit_evidence(SYSTEM, now, pid, evidence_id=eid, kind=kind,
                                   sha256=uuid4().hex * 2, size=10,
                                   media_type="application/pdf")
                lg.review_evidence(SYSTEM, now, pid, evidence_id=eid, decision="verified",
                                   reason="cocok")
            if realized:
                lg.report_realization(SYSTEM, now, pid, realization_id=str(uuid4()),
                                      period_start=date(2024, 2, 1),
                                      period_end=date(2024, 2, 29), value_idr=5_000_000,
                                      evidence_ids=[ids[1]])
            return str(pid)

        pids = {"counted": partnership(COMPLIANT, UMKM, realized=True),
                "unrealized": partnership(LATE, UMKM, realized=False),
                "kecil": partnership(LATE, KECIL, realized=True)}
        partnership(OUTSIDE, UMKM, realized=True)
        return pids
    finally:
        container.close()


def test_the_pdf_has_everything_a_letter_needs(tmp_path: Path) -> None:
    pids = _ledger(tmp_path)
    out = tmp_path / "laporan.pdf"
    result = run(["compliance", "report", "--region", "32.16", "--period", "2024-Q1",
                  "--format", "pdf", "--out", str(out)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{out}: 3 obligations, 2 non_compliant"
    pages = [p.extract_text() for p in PdfReader(str(out)).pages]
    first = pages[0]
    assert "Laporan Kepatuhan Kemitraan" in first
    assert "Wilayah: 32.16" in first and "Periode: 2024-Q1 (2024-01-01 s.d. 2024-03-31)" in first
    assert "Data per: " in first and "WIB" in first
    assert "perbup-bekasi-73-2020 versi 1 (berlaku sejak 2021-01-01)" in first
    assert "KETENTUAN ILUSTRATIF" in first and "usaha-besar-bermitra-mikro" in first
    table = "\n".join(p for p in pages if "Penjelasan:" not in p)
    for nib in (COMPLIANT, LATE, NONE_):
        assert nib in table
    assert OUTSIDE not in "\n".join(pages)
    assert table.count("tidak patuh") == 2 and "1*" in table
    explained = [p for p in pages if p.lstrip().startswith("Penjelasan:")]
    assert [next(n for n in (COMPLIANT, LATE, NONE_) if f"(NIB {n})" in p)
            for p in explained] == [LATE, NONE_]
    late = next(p for p in explained if LATE in p)
    assert pids["unrealized"] in late and pids["kecil"] in late
    assert "tidak ada realisasi terverifikasi dalam periode" in late
    assert "mitra di luar kriteria kewajiban" in late
    assert "terukur 0" in late and "wajib 1" in late and "KETENTUAN ILUSTRATIF" in late
    assert "Ukuran: jumlah kemitraan riil" in late and "real_partnerships" not in late


def test_csv_and_xlsx_carry_the_same_rows(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    _ledger(tmp_path)
    result = run(["compliance", "report", "--region", "32.16", "--period", "2024",
                  "--format", "csv", "--out", "k.csv"], tmp_path)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO((tmp_path / "k.csv").read_text())))
    got = [(r["nib"], r["period"], r["status"]) for r in rows]
    assert got[:4] == [(COMPLIANT, f"2024-Q{q}", "compliant" if q == 1 else "non_compliant")
                       for q in range(1, 5)]
    assert len(got) == 12 and {r["illustrative"] for r in rows} == {"true"}
    result = run(["compliance", "report", "--region", "32.16", "--period", "2024",
                  "--format", "xlsx"], tmp_path)
    assert result.returncode == 0, result.stderr
    sheet = load_workbook(tmp_path / "kepatuhan-32.16-2024.xlsx").active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "NIB" and len(values) == 13
    assert [(v[0], v[5], v[10]) for v in values[1:]] == got
    # a regulation that does not exist is an error, not an empty report ("nothing due")
    nosuch = run(["compliance", "report", "--region", "32.16", "--period", "2024",
                  "--format", "csv", "--out", "n.csv", "--regulation", "tidak-ada"], tmp_path)
    assert nosuch.returncode == 2 and not (tmp_path / "n.csv").exists()
    assert "no such regulation" in nosuch.stderr


def test_bad_arguments_exit_non_zero_with_one_line(tmp_path: Path) -> None:
    for args in (["--region", "32.16", "--period", "2024-Q9"],
                 ["--region", "32.1x", "--period", "2024"],
                 ["--region", "32.00", "--period", "2024"],  # no region has a part of zeros
                 ["--region", "32.16", "--period", "2024", "--format", "doc"]):
        result = run(["compliance", "report", *args], tmp_path)
        assert result.returncode != 0, args
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr

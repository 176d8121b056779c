"""`kemitraan import FILE [--dry-run]` as an operator runs it: a real process on a real data dir."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from tests.test_cli import run

LARGE, UMKM = "3216000000001", "3216010000002"
HEADER = ("external_ref,large_nib,umkm_nib,pola,program,title,start_date,end_date,value_idr,"
          "location_region_code")


def _businesses(data_dir: Path) -> None:
    from api.settings import Settings
    from api.wiring import build
    from domain.access import SYSTEM

    c = build(Settings(data_dir=data_dir))
    try:
        now = datetime.now(timezone.utc)
        for nib, scale in ((LARGE, "besar"), (UMKM, "mikro")):
            c.ledger.register_business(SYSTEM, now, nib=nib, name=f"Usaha {nib}", scale=scale,
                                       region_code="32.16", kbli=["47111"])
    finally:
        c.close()


def _file(tmp_path: Path) -> Path:
    lines = [HEADER] + [f"CLI-{i},{LARGE},{UMKM},rantai_pasok,,Pasokan {i},2024-01-01,,1000,32.16"
                        for i in range(5)]
    lines.append(f"CLI-bad,{LARGE},{UMKM},rantai_pasok,,Pasokan,2024-13-01,,1000,32.16")
    path = tmp_path / "kemitraan.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_import_lists_the_bad_row_exits_1_and_a_second_run_creates_nothing(
        tmp_path: Path) -> None:
    data = tmp_path / "var"
    _businesses(data)
    path = _file(tmp_path)

    dry = run(["import", str(path), "--dry-run"], data)
    assert dry.returncode == 1, dry.stderr
    assert "row 7: start_date: must be a date" in dry.stdout
    assert "6 rows: 5 would be created, 0 unchanged, 1 rejected" in dry.stdout
    assert "importing" in dry.stderr  # the progress bar

    first = run(["import", str(path), "--json"], data)
    assert first.returncode == 1  # with --json too: a row did not go in (it was 0)
    body = json.loads(first.stdout)
    assert (body["accepted"], len(body["created"]), body["rejected"][0]["row"]) == (5, 5, 7)
    second = run(["import", str(path)], data)
    assert "6 rows: 0 created, 5 unchanged, 1 rejected" in second.stdout


def test_import_of_a_missing_or_foreign_file_is_one_line_and_non_zero(tmp_path: Path) -> None:
    missing = run(["import", str(tmp_path / "nope.csv")], tmp_path)
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    pdf = tmp_path / "x.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    foreign = run(["import", str(pdf)], tmp_path)
    assert foreign.returncode == 2
    assert foreign.stderr.strip().splitlines()[-1].startswith("kemitraan: ")
    assert "not a readable" in foreign.stderr


def test_import_rejects_a_row_located_in_a_region_code_with_a_part_of_zeros(
        tmp_path: Path) -> None:
    data = tmp_path / "var"
    _businesses(data)
    path = tmp_path / "kemitraan.csv"
    path.write_text("\n".join([HEADER, f"Z-1,{LARGE},{UMKM},rantai_pasok,,Nol,2024-01-01,,1000,"
                                       "32.16.00"]) + "\n", encoding="utf-8")
    result = run(["import", str(path)], data)
    assert result.returncode == 1, result.stderr
    assert ("row 2: location_region_code: must be a Kemendagri code such as 32.16 or "
            "32.16.01.2001 (no part is all zeros)") in result.stdout
    assert "1 rows: 0 created, 0 unchanged, 1 rejected" in result.stdout

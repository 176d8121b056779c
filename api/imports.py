"""Partnership import from a spreadsheet (contract: Spreadsheets; ADR 0016).

This module reads the file (CSV or XLSX) and turns each row's cells into typed values; the rules
are the use case's (`Ledger.import_partnerships`, the same checks as `POST /v1/partnerships`).
The HTTP route, the CLI (`kemitraan import`) and the web page all call `read_upload` and
`run_import` here, so they accept and reject exactly the same rows.

Rows are numbered as the spreadsheet shows them: the header is row 1, the first data row is 2.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from api.exports import Column, to_csv
from api.problems import Problem
from domain.access import Principal
from domain.errors import FieldError
from domain.use_cases.imports import ImportResult, ImportRow
from domain.values import DAY_OUT_OF_RANGE, FIRST_DAY, LAST_DAY

# The columns of a row, in the template's order; `description` may be left out of the file.
COLUMNS = ("external_ref", "large_nib", "umkm_nib", "pola", "program", "title", "start_date",
           "end_date", "value_idr", "location_region_code")
OPTIONAL_COLUMNS = ("description",)
DATE_COLUMNS = ("start_date", "end_date")
TEXT_COLUMNS = ("external_ref", "pola", "program", "title", "location_region_code",
                "description")
NIB_COLUMNS = ("large_nib", "umkm_nib")
MAX_ROWS = 200_000
# An XLSX is a zip: refuse one that inflates far beyond the upload limit (a zip bomb).
MAX_INFLATION = 40
# A cell may be as long as the upload allows: over-long values are then rejected by the row's
# validation (title, external_ref, ...) instead of failing csv's default 128 KiB field limit.
csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))

# (column, required, what to write, example) — the template's explanation sheet, in Indonesian.
EXPLANATION = [
    ("external_ref", "ya", "Nomor atau kode kemitraan di sistem perusahaan Anda. Bersama "
     "large_nib menjadi kunci baris: mengimpor berkas yang sama dua kali tidak membuat data "
     "baru.", "PKS-2024-001"),
    ("large_nib", "ya", "NIB usaha besar (13 digit), terdaftar dengan skala besar.",
     "3216000000001"),
    ("umkm_nib", "ya", "NIB UMKM mitra (13 digit), terdaftar dengan skala mikro, kecil atau "
     "menengah.", "3216010000002"),
    ("pola", "ya", "Pola kemitraan (PP 7/2021 Pasal 106): inti_plasma, subkontrak, waralaba, "
     "perdagangan_umum, distribusi_keagenan, rantai_pasok, bagi_hasil, kerja_sama_operasional, "
     "usaha_patungan, penyumberluaran, lainnya.", "rantai_pasok"),
    ("program", "tidak", "Program, bebas; yang dikenal: penempatan_ritel, "
     "rantai_pasok_industri, bapak_angkat.", "rantai_pasok_industri"),
    ("title", "ya", "Judul perjanjian (paling banyak 300 karakter).",
     "Pasokan keripik ke gerai"),
    ("start_date", "ya", "Tanggal mulai, YYYY-MM-DD (atau DD/MM/YYYY, atau sel tanggal).",
     "2024-01-01"),
    ("end_date", "tidak", "Tanggal berakhir, tidak sebelum tanggal mulai; kosong bila tanpa "
     "batas.", "2025-12-31"),
    ("value_idr", "tidak", "Nilai kontrak dalam rupiah, bilangan bulat tanpa desimal "
     "(150000000 atau 150.000.000).", "150000000"),
    ("location_region_code", "ya", "Kode wilayah Kemendagri lokasi kemitraan (32.16, 32.16.01 "
     "atau 32.16.01.2001).", "32.16.01"),
    ("description", "tidak", "Keterangan (kolom boleh tidak ada).", ""),
]

_ISO_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_ID_DAY = re.compile(r"^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})$")
_RUPIAH = re.compile(r"^(?:Rp\.?\s*)?([0-9]{1,3}(?:\.[0-9]{3})+|[0-9]+)(?:,0+)?$", re.IGNORECASE)
XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls


@dataclass
class Upload:
    """A readable file: `rows` yields the parsed rows; `estimate` is the number of data rows
    (for a progress bar; exact for CSV)."""

    kind: str  # "csv" | "xlsx"
    estimate: int
    rows: Callable[[], Iterator[ImportRow]]


# ---- reading ----------------------------------------------------------------------------------

def read_upload(content: bytes, filename: str | None, max_bytes: int) -> Upload:
    """Check and open the file; 413 too large, 415 not CSV/XLSX, 422 a header column missing."""
    if len(content) > max_bytes:
        raise Problem(413, f"the file is larger than the upload limit of {max_bytes} bytes")
    if not content.strip():
        raise Problem(422, "the file is empty",
                      errors=[{"field": "file", "message": "is empty"}])
    name = (filename or "").lower()
    if content.startswith(OLE_MAGIC) or name.endswith(".xls"):
        raise Problem(415, "old .xls workbooks are not read: save the file as .xlsx or .csv")
    if content.startswith(XLSX_MAGIC):
        return _open_xlsx(content, max_bytes)
    if name.endswith((".xlsx", ".xlsm", ".zip", ".pdf", ".png", ".jpg", ".jpeg", ".docx")):
        raise Problem(415, f"{filename} is not a readable .xlsx or .csv file")
    return _open_csv(content)


def _open_csv(content: bytes) -> Upload:
    if b"\x00" in content[:65536]:
        raise Problem(415, "the file is neither CSV text nor an .xlsx workbook")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        # "CSV" saved by Excel on Windows is cp1252; a file pasted together from both kinds
        # keeps its UTF-8 lines as UTF-8 (decoding it all as cp1252 turned "Café" into
        # "CafÃ©" without a word).
        text = "\n".join(_decode_line(line) for line in content.split(b"\n"))
        text = text.lstrip("\ufeff")
    lines = text.splitlines()  # \n, \r\n and the old Mac \r alike
    first = lines[0] if lines else ""
    # Excel in an Indonesian locale separates with ';' (the comma is the decimal mark); the
    # header's names may be quoted.
    delimiter = max((",", ";", "\t"), key=lambda d: len(_known(
        next(csv.reader([first], delimiter=d), []))))

    def reader() -> Any:  # newline="": csv sees every line ending, quoted ones included
        return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)

    header = next(reader(), [])
    index = _header_index(header)
    estimate = max(sum(1 for line in lines[1:] if line.strip()), 0)
    _check_row_count(estimate)
    # The whole file is parsed once before anything is written (the parse is cheap next to
    # the import): a row csv cannot read (a field past the limit above, with a larger upload
    # limit) is a 422 for the file, never an import that stops half-way.
    cursor = reader()
    try:
        for _ in cursor:
            pass
    except csv.Error as e:
        raise Problem(422, f"line {cursor.line_num} of the CSV cannot be read: {e}",
                      errors=[{"field": "file", "message": f"line {cursor.line_num}: {e}"}]
                      ) from None

    def rows() -> Iterator[ImportRow]:
        cells_of = reader()
        next(cells_of, None)
        for number, cells in enumerate(cells_of, start=2):
            if any(c.strip() for c in cells):
                yield parse_row(number, cells, index)
    return Upload("csv", estimate, rows)


def _decode_line(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("cp1252", errors="replace")


def _open_xlsx(content: bytes, max_bytes: int) -> Upload:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(content)) as z:
            inflated = sum(i.file_size for i in z.infolist())
    except zipfile.BadZipFile:
        raise Problem(415, "the file is neither CSV text nor a readable .xlsx workbook") from None
    if inflated > MAX_INFLATION * max(max_bytes, 1024 * 1024):
        raise Problem(413, "the workbook inflates to more than the import accepts")
    try:
        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        ws = wb["Kemitraan"] if "Kemitraan" in wb.sheetnames else wb.worksheets[0]
        header_row = next(ws.iter_rows(min_row=1, max_row=1, values_only=True), ())
    except Exception:  # openpyxl raises many types for a damaged or foreign zip
        raise Problem(415, "the file is not a readable .xlsx workbook") from None
    header = ["" if h is None else str(h) for h in header_row]
    index = _header_index(header)
    # Every row is read once before anything is written (openpyxl reads lazily, and a damaged
    # cell raises where it is met): a workbook that cannot be read to its end is a 422, and
    # one with too many rows a 413, before any row goes in. Only rows holding a value count:
    # the sheet's declared size (`max_row`) also counts formatted empty rows.
    estimate, number = 0, 1
    try:
        for number, cells in enumerate(ws.iter_rows(min_row=2, values_only=True), start=2):
            if any(c is not None and str(c).strip() for c in cells):
                estimate += 1
                if estimate > MAX_ROWS:
                    raise Problem(413, f"the file has more than {MAX_ROWS} rows; split it")
    except Problem:
        raise
    except Exception as e:  # openpyxl raises many types for a damaged sheet
        row = number + 1
        raise Problem(422, f"row {row} of the workbook cannot be read ({type(e).__name__})",
                      errors=[{"field": "file", "message": f"row {row} cannot be read"}]
                      ) from None

    def rows() -> Iterator[ImportRow]:
        for number, cells in enumerate(ws.iter_rows(min_row=2, values_only=True), start=2):
            if any(c is not None and str(c).strip() for c in cells):
                yield parse_row(number, list(cells), index)
    return Upload("xlsx", estimate, rows)


def _check_row_count(n: int) -> None:
    if n > MAX_ROWS:
        raise Problem(413, f"the file has {n} rows, more than the {MAX_ROWS} one import "
                           "accepts; split it")


def _norm(name: str) -> str:
    return re.sub(r"\s+", "_", name.strip().lower().lstrip("\ufeff"))


def _known(header: list[str]) -> set[str]:
    return {_norm(h) for h in header} & set(COLUMNS + OPTIONAL_COLUMNS)


def _header_index(header: list[str]) -> dict[str, int]:
    names = [_norm(h) for h in header]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise Problem(422, "the header row lacks the column(s) " + ", ".join(missing) +
                      " (download the template)",
                      errors=[{"field": "file", "message": f"missing column {c}"}
                              for c in missing])
    return {c: names.index(c) for c in COLUMNS + OPTIONAL_COLUMNS if c in names}


# ---- one row ----------------------------------------------------------------------------------

def parse_row(number: int, cells: list[Any], index: dict[str, int]) -> ImportRow:
    """Cells to typed values; a cell that cannot be read becomes a field error of its column."""
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for column, i in index.items():
        raw = cells[i] if i < len(cells) else None
        try:
            values[column] = _cell(column, raw)
        except ValueError as e:
            errors.append(FieldError(column, str(e)))
            values[column] = None
    values.setdefault("description", None)
    ref = values.pop("external_ref", None)
    if ref is not None and len(ref) > 200:
        errors.append(FieldError("external_ref", "must be at most 200 characters"))
    return ImportRow(number=number, external_ref=ref, values=values, errors=errors)


# What Excel writes in a cell whose formula failed (and what a CSV saved from it holds).
EXCEL_ERRORS = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A",
                          "#GETTING_DATA", "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!"})


def _cell(column: str, raw: Any) -> Any:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, str) and raw.strip().upper() in EXCEL_ERRORS:
        raise ValueError(f"holds the spreadsheet error {raw.strip()}, not a value")
    if column in DATE_COLUMNS:
        return _day(raw)
    if column == "value_idr":
        return _rupiah(raw)
    if column in NIB_COLUMNS:
        return _integral_text(raw)
    if column == "location_region_code" and isinstance(raw, (int, float)):
        # A number cell keeps no trailing zeros: 32.10 reads as 32.1 and 32.00 as 32 (which
        # would be accepted as the province). The template formats the column as text.
        raise ValueError("must be a text cell, not a number: a number cell drops zeros "
                         "(32.10 reads as 32.1); format the column as Text and type 32.10")
    if isinstance(raw, (datetime, date)):
        raise ValueError("must be text, not a date")
    return _integral_text(raw) if isinstance(raw, (int, float)) else str(raw).strip()


def _integral_text(raw: Any) -> str:
    """A NIB or code typed into a number cell: 3216000000001.0 -> '3216000000001'."""
    if isinstance(raw, bool):
        return str(raw)
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw).strip()


def _day(raw: Any) -> date:
    day = _any_day(raw)
    if not FIRST_DAY <= day <= LAST_DAY:  # 31/12/0024: a typo, not the year 24
        raise ValueError(DAY_OUT_OF_RANGE)
    return day


def _any_day(raw: Any) -> date:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = str(raw).strip()
    try:
        if _ISO_DAY.match(text):
            return date.fromisoformat(text)
        m = _ID_DAY.match(text)
        if m:
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    except ValueError:
        pass
    raise ValueError("must be a date YYYY-MM-DD (or DD/MM/YYYY)")


def _rupiah(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError("must be an integer number of rupiah")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if raw.is_integer():
            return int(raw)
        raise ValueError("must be an integer number of rupiah (no decimals)")
    m = _RUPIAH.match(str(raw).strip())
    if not m:
        raise ValueError("must be an integer number of rupiah, e.g. 150000000 or 150.000.000")
    return int(m.group(1).replace(".", ""))


# ---- running ----------------------------------------------------------------------------------

def run_import(container: Any, who: Principal, now: datetime, upload: Upload, *,
               dry_run: bool, progress: Callable[[int], None] | None = None) -> ImportResult:
    return container.ledger.import_partnerships(
        who, now, upload.rows(), dry_run=dry_run, progress=progress,
        existing=stored_ids(container.engine, container.store_kind,
                            container.ledger.recorder.events_table_name))


def stored_ids(engine: Any, kind: str, table: str) -> Callable[[list[UUID]], set[UUID]]:
    """Which of these aggregate ids already have events: one query per batch, on the store's
    own table (the library's documented schema, as `projections/event_log.py` reads it)."""
    import sqlalchemy as sa

    sql = sa.text(f"SELECT DISTINCT originator_id FROM {table} WHERE originator_id IN :ids "
                  "AND originator_version = 1").bindparams(sa.bindparam("ids", expanding=True))

    def existing(ids: list[UUID]) -> set[UUID]:
        keys = [i.hex for i in ids] if kind == "sqlite" else ids
        with engine.connect() as conn:
            found = conn.execute(sql, {"ids": keys}).scalars().all()
        return {f if isinstance(f, UUID) else UUID(str(f)) for f in found}
    return existing


def result_body(result: ImportResult, dry_run: bool) -> dict[str, Any]:
    """The contract's answer: {rows, accepted, unchanged, rejected, created} (+ dry_run,
    position)."""
    return {
        "rows": result.rows, "accepted": result.accepted, "unchanged": result.unchanged,
        "rejected": [{"row": n, "errors": [{"column": e.field, "message": e.message}
                                           for e in errs]} for n, errs in result.rejected],
        "created": [str(i) for i in result.created],
        "dry_run": dry_run, "position": result.position,
    }


# ---- the template -----------------------------------------------------------------------------

def template_csv() -> bytes:
    return to_csv([Column(c, c) for c in COLUMNS], [])


def template_xlsx() -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "Kemitraan"
    bold = Font(bold=True)
    for i, column in enumerate(COLUMNS, start=1):
        ws.cell(row=1, column=i, value=column).font = bold
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = max(len(column) + 4, 16)
        if column in NIB_COLUMNS or column in ("external_ref", "location_region_code"):
            # Text cells: Excel would turn a 13-digit NIB into 3.216E+12 and drop leading zeros.
            ws.column_dimensions[letter].number_format = "@"
    ws.freeze_panes = "A2"
    info = wb.create_sheet("Penjelasan")
    for i, head in enumerate(("Kolom", "Wajib", "Isi", "Contoh"), start=1):
        info.cell(row=1, column=i, value=head).font = bold
    for r, (column, required, what, example) in enumerate(EXPLANATION, start=2):
        info.cell(row=r, column=1, value=column)
        info.cell(row=r, column=2, value=required)
        info.cell(row=r, column=3, value=what).alignment = Alignment(wrap_text=True)
        info.cell(row=r, column=4, value=example).data_type = "s"
    notes = len(EXPLANATION) + 3
    for offset, line in enumerate((
        "Isi lembar 'Kemitraan' mulai baris 2, satu baris per perjanjian kemitraan.",
        "Baris yang ditolak tidak mengubah apa pun; baris lain tetap masuk. Coba dulu dengan "
        "'uji coba' (dry run) untuk melihat kesalahan per baris dan kolom.",
        "Kunci baris adalah (large_nib, external_ref): baris yang sudah pernah diimpor dengan "
        "isi sama dilewati (tidak berubah).",
    )):
        info.cell(row=notes + offset, column=1, value=line)
    for letter, width in (("A", 24), ("B", 8), ("C", 90), ("D", 26)):
        info.column_dimensions[letter].width = width
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()

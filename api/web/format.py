"""Indonesian conventions for the web pages: 1.234.567, Rp 1.234.567, 31 Maret 2024, WIB.

Numbers group thousands with a dot; dates spell the month in Bahasa Indonesia; instants are
shown in Asia/Jakarta (WIB), with a dot between hours and minutes (17.05 WIB), as Indonesian
style guides (PUEBI) write them.
"""

from __future__ import annotations

from datetime import date, datetime

from domain.clock import WIB

BULAN = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
         "September", "Oktober", "November", "Desember")


def angka(value: int | float | None) -> str:
    """1234567 -> '1.234.567'; None -> '–'."""
    if value is None:
        return "–"
    if isinstance(value, float) and not value.is_integer():
        whole, frac = f"{value:,.2f}".split(".")
        return whole.replace(",", ".") + "," + frac
    return f"{int(value):,}".replace(",", ".")


def rupiah(value: int | None) -> str:
    """1234567 -> 'Rp 1.234.567'; negative -> '-Rp 5.000'; None -> '–'."""
    if value is None:
        return "–"
    sign = "-" if value < 0 else ""
    return f"{sign}Rp {angka(abs(value))}"


def tanggal(value: date | datetime | str | None) -> str:
    """date(2024, 3, 31) -> '31 Maret 2024' (an instant: its date in WIB)."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = value.astimezone(WIB) if value.tzinfo else value
    return f"{value.day} {BULAN[value.month - 1]} {value.year}"


def waktu(value: datetime | None) -> str:
    """An instant in WIB: '31 Maret 2024 17.05 WIB'."""
    if value is None:
        return "–"
    local = value.astimezone(WIB) if value.tzinfo else value
    return f"{tanggal(local.date())} {local:%H.%M} WIB"


def rentang(start: date | None, end: date | None) -> str:
    """A period: '1 Januari 2024 – 31 Desember 2024', 'sejak ...' or 'sampai ...' when one end
    is open, '–' when neither is given."""
    if start and end:
        return f"{tanggal(start)} – {tanggal(end)}"
    if start:
        return f"sejak {tanggal(start)}"
    if end:
        return f"sampai {tanggal(end)}"
    return "–"


def persen(part: int, whole: int) -> str:
    """Share as '42,5%' (comma decimal); '–' when the whole is 0."""
    if not whole:
        return "–"
    return f"{100 * part / whole:.1f}".replace(".", ",") + "%"


FILTERS = {"angka": angka, "rupiah": rupiah, "tanggal": tanggal, "waktu": waktu}

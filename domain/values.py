"""Value objects and their validation: NIB, KBLI, region codes, pola, scale, rupiah, dates.

Validators return the normalised value or raise `InvalidValue` naming the field, so the API
and the CLI give the same message for the same mistake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import Enum

from domain.errors import InvalidValue

_NIB = re.compile(r"^[0-9]{13}$")
_KBLI = re.compile(r"^[0-9]{5}$")
# Kemendagri codes: province 2 digits, kabupaten/kota 2, kecamatan 2, desa/kelurahan 4. No real
# code has a part that is all zeros (32.00, 00.16, 32.16.00, 32.16.01.0000): kabupaten/kota and
# kecamatan are numbered from 01, provinces from 11, desa/kelurahan from 1001 or 2001. Only the
# zeros are refused here, not those ranges. ASCII digits only (`\d` takes other scripts' digits).
# The API's OpenAPI patterns are these strings (no lookahead: pydantic's regex engine has none).
_SEG2 = r"(?:0[1-9]|[1-9][0-9])"
_SEG4 = r"(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
_CODE = rf"{_SEG2}(?:\.{_SEG2}(?:\.{_SEG2}(?:\.{_SEG4})?)?)?"
REGION_PATTERN = rf"^{_CODE}$"
REGION_PREFIX_PATTERN = rf"^(?:{_CODE})?$"  # "" = national
_REGION = re.compile(REGION_PATTERN)
_REGION_PREFIX = re.compile(REGION_PREFIX_PATTERN)
# The shape alone, to tell a code of zeros (its own message) from one that is no code at all.
_REGION_SHAPE = re.compile(r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$")
NO_ZERO_PART = "no part is all zeros"

MAX_IDR = 10**18  # far above any real contract; keeps values inside a signed 64-bit column


class Scale(str, Enum):
    MIKRO = "mikro"
    KECIL = "kecil"
    MENENGAH = "menengah"
    BESAR = "besar"

    @property
    def rank(self) -> int:
        return _SCALE_ORDER.index(self)

    @property
    def is_umkm(self) -> bool:
        return self is not Scale.BESAR


_SCALE_ORDER = [Scale.MIKRO, Scale.KECIL, Scale.MENENGAH, Scale.BESAR]


class Pola(str, Enum):
    """Partnership patterns of PP 7/2021 Pasal 106 (the list is open, hence `lainnya`)."""

    INTI_PLASMA = "inti_plasma"
    SUBKONTRAK = "subkontrak"
    WARALABA = "waralaba"
    PERDAGANGAN_UMUM = "perdagangan_umum"
    DISTRIBUSI_KEAGENAN = "distribusi_keagenan"
    RANTAI_PASOK = "rantai_pasok"
    BAGI_HASIL = "bagi_hasil"
    KERJA_SAMA_OPERASIONAL = "kerja_sama_operasional"
    USAHA_PATUNGAN = "usaha_patungan"
    PENYUMBERLUARAN = "penyumberluaran"
    LAINNYA = "lainnya"


KNOWN_PROGRAMS = ("penempatan_ritel", "rantai_pasok_industri", "bapak_angkat")


class EvidenceKind(str, Enum):
    PERJANJIAN = "perjanjian"
    PURCHASE_ORDER = "purchase_order"
    INVOICE = "invoice"
    DELIVERY_NOTE = "delivery_note"
    PAYMENT_PROOF = "payment_proof"
    SHELF_PHOTO = "shelf_photo"
    MENTORING_LOG = "mentoring_log"
    OTHER = "other"


class AffiliationKind(str, Enum):
    OWNS = "owns"
    CONTROLS = "controls"


def nib(value: str, field: str = "nib") -> str:
    """NIB: 13 digits, no check digit (so nothing more to validate)."""
    if not isinstance(value, str) or not _NIB.fullmatch(value):
        raise InvalidValue.single(field, "must be 13 digits")
    return value


def kbli(value: str, field: str = "kbli") -> str:
    if not isinstance(value, str) or not _KBLI.fullmatch(value):
        raise InvalidValue.single(field, "each KBLI code must be 5 digits")
    return value


def _region_error(value: object, valid: re.Pattern[str], message: str) -> str | None:
    if isinstance(value, str) and valid.fullmatch(value):
        return None
    if isinstance(value, str) and _REGION_SHAPE.fullmatch(value):
        return f"{message} ({NO_ZERO_PART})"
    return message


def region_code_error(value: object) -> str | None:
    """Why `value` is no Kemendagri code (the message every caller shows), or None if it is one.
    Only new input is checked: codes in stored events load as they were written."""
    return _region_error(value, _REGION, "must be a Kemendagri code such as 32.16 or 32.16.01.2001")


def region_prefix_error(value: object) -> str | None:
    """`region_code_error` for a prefix, where the empty string (national) is allowed too."""
    return _region_error(value, _REGION_PREFIX, "must be empty or a Kemendagri code such as 32.16")


def region_code(value: str, field: str = "region_code") -> str:
    """A Kemendagri code as given (`32`, `32.16`, `32.16.01`, `32.16.01.2001`); never rewritten."""
    error = region_code_error(value)
    if error is not None:
        raise InvalidValue.single(field, error)
    return value


def region_prefix(value: str, field: str = "region") -> str:
    """A region prefix for scopes and filters; the empty string means national."""
    error = region_prefix_error(value)
    if error is not None:
        raise InvalidValue.single(field, error)
    return value


def region_within(code: str, prefix: str) -> bool:
    """True when `code` lies in `prefix`, matching whole segments (`32.1` matches nothing)."""
    return prefix == "" or code == prefix or code.startswith(prefix + ".")


def scale(value: str, field: str = "scale") -> Scale:
    try:
        return Scale(value)
    except ValueError:
        raise InvalidValue.single(field, "must be one of mikro, kecil, menengah, besar") from None


def pola(value: str, field: str = "pola") -> Pola:
    try:
        return Pola(value)
    except ValueError:
        allowed = ", ".join(p.value for p in Pola)
        raise InvalidValue.single(field, f"must be one of {allowed}") from None


def evidence_kind(value: str, field: str = "kind") -> EvidenceKind:
    try:
        return EvidenceKind(value)
    except ValueError:
        allowed = ", ".join(k.value for k in EvidenceKind)
        raise InvalidValue.single(field, f"must be one of {allowed}") from None


def rupiah(value: int | None, field: str) -> int | None:
    """Money is integer rupiah, never negative, never a float."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue.single(field, "must be an integer number of rupiah")
    if value < 0 or value > MAX_IDR:
        raise InvalidValue.single(field, "must be between 0 and 10^18 rupiah")
    return value


def text(value: str | None, field: str, *, required: bool = True, max_len: int = 2000) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidValue.single(field, "is required")
        return None
    if not isinstance(value, str):
        raise InvalidValue.single(field, "must be text")
    if len(value) > max_len:
        raise InvalidValue.single(field, f"must be at most {max_len} characters")
    return value.strip()


def iso_date(value: date | str | None, field: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidValue.single(field, "must be a date YYYY-MM-DD") from None


# Business dates the ledger takes: the calendar years a period (`2024`, `2024-Q1`) can name. A
# technical bound, not a legal one: a typo such as 31/12/0024 is refused instead of stretching
# every statistic back two thousand years.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9998, 12, 31)
DAY_OUT_OF_RANGE = "must be a date between 1900-01-01 and 9998-12-31"


def business_day(day: date, field: str) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidValue.single(field, DAY_OUT_OF_RANGE)
    return day


def date_range(start: date, end: date | None, start_field: str, end_field: str) -> None:
    business_day(start, start_field)
    if end is not None:
        business_day(end, end_field)
    if end is not None and end < start:
        raise InvalidValue.single(end_field, f"must not be before {start_field}")


@dataclass(frozen=True)
class Actor:
    """Who did something: recorded on every event (principal id and role, never a token)."""

    principal_id: str
    role: str

    def as_dict(self) -> dict[str, str]:
        return {"principal_id": self.principal_id, "role": self.role}

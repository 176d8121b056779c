"""Indonesian conventions of the web pages: 1.234.567, Rp 1.234.567, 31 Maret 2024, WIB."""

from __future__ import annotations

from datetime import date, datetime, timezone

from api.web.format import angka, persen, rentang, rupiah, tanggal, waktu


def test_numbers_group_thousands_with_dots() -> None:
    assert angka(1234567) == "1.234.567"
    assert angka(0) == "0"
    assert angka(999) == "999"
    assert angka(-45000) == "-45.000"
    assert angka(1234.5) == "1.234,50"
    assert angka(None) == "–"


def test_rupiah_is_prefixed_and_grouped() -> None:
    assert rupiah(1234567) == "Rp 1.234.567"
    assert rupiah(150_000_000) == "Rp 150.000.000"
    assert rupiah(-5000) == "-Rp 5.000"
    assert rupiah(None) == "–"


def test_dates_spell_the_indonesian_month() -> None:
    assert tanggal(date(2024, 3, 31)) == "31 Maret 2024"
    assert tanggal(date(2024, 8, 1)) == "1 Agustus 2024"
    assert tanggal("2024-12-25") == "25 Desember 2024"
    assert tanggal(None) == "–"


def test_instants_are_shown_in_wib_on_the_jakarta_date() -> None:
    # 17:30 UTC on 31 March is already 1 April in Jakarta
    instant = datetime(2024, 3, 31, 17, 30, tzinfo=timezone.utc)
    assert waktu(instant) == "1 April 2024 00.30 WIB"
    assert tanggal(instant) == "1 April 2024"


def test_shares_use_a_decimal_comma_and_no_division_by_zero() -> None:
    assert persen(1, 8) == "12,5%"
    assert persen(3, 0) == "–"


def test_a_period_is_written_with_its_open_ends_in_words() -> None:
    assert rentang(date(2024, 1, 1), date(2024, 12, 31)) == "1 Januari 2024 – 31 Desember 2024"
    assert rentang(date(2024, 1, 1), None) == "sejak 1 Januari 2024"
    assert rentang(None, date(2024, 3, 31)) == "sampai 31 Maret 2024"
    assert rentang(None, None) == "–"

"""Value objects and the access rules (role first, then scope)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import values as v
from domain.access import Principal, Role, may_read_partnership, require_role
from domain.errors import Forbidden, InvalidValue


@pytest.mark.parametrize("nib", ["1234567890123", "0000000000000"])
def test_a_nib_is_thirteen_digits(nib: str) -> None:
    assert v.nib(nib) == nib


@pytest.mark.parametrize("bad", ["123456789012", "12345678901234", "12345678901a3", " 1234567890123", ""])
def test_anything_else_is_not_a_nib(bad: str) -> None:
    with pytest.raises(InvalidValue):
        v.nib(bad)


@pytest.mark.parametrize("code", ["32", "32.16", "32.16.01", "32.16.01.2001"])
def test_kemendagri_codes_at_every_level_are_accepted(code: str) -> None:
    assert v.region_code(code) == code


@pytest.mark.parametrize("bad", ["3", "32.1", "32.16.1", "32.16.01.201", "32-16", "32.16."])
def test_malformed_region_codes_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidValue):
        v.region_code(bad)


ZERO_PARTS = ["00", "32.00", "00.16", "32.16.00", "32.16.01.0000", "00.00.00.0000"]


@pytest.mark.parametrize("zeros", ZERO_PARTS)
def test_no_kemendagri_code_has_a_part_of_zeros(zeros: str) -> None:
    """Provinces, kabupaten/kota and kecamatan are numbered from 01, desa from 1001 or 2001:
    a part all zeros is a typing slip, refused with its reason, as a code and as a prefix."""
    with pytest.raises(InvalidValue) as refused:
        v.region_code(zeros, "location_region_code")
    assert [e.as_dict() for e in refused.value.errors] == [{
        "field": "location_region_code",
        "message": "must be a Kemendagri code such as 32.16 or 32.16.01.2001 "
                   "(no part is all zeros)"}]
    with pytest.raises(InvalidValue) as refused:
        v.region_prefix(zeros, "region")
    assert [e.as_dict() for e in refused.value.errors] == [{
        "field": "region",
        "message": "must be empty or a Kemendagri code such as 32.16 (no part is all zeros)"}]


@pytest.mark.parametrize("code", ["11", "32.01", "32.16.01.0001", "94.36.10.1001"])
def test_a_part_with_zeros_but_not_only_zeros_is_a_code(code: str) -> None:
    assert v.region_code(code) == code and v.region_prefix(code) == code


def test_a_region_prefix_matches_whole_segments_only() -> None:
    assert v.region_within("32.16.01", "32.16")
    assert v.region_within("32.16", "32.16")
    assert v.region_within("33.17", "")
    assert not v.region_within("32.160", "32.16")
    assert not v.region_within("32.16", "32.1")


@given(st.integers(min_value=0, max_value=10**18))
def test_any_whole_rupiah_amount_in_range_is_money(amount: int) -> None:
    assert v.rupiah(amount, "value_idr") == amount


@pytest.mark.parametrize("bad", [-1, 1.5, True, "100", 10**18 + 1])
def test_money_is_never_negative_fractional_boolean_or_text(bad: object) -> None:
    with pytest.raises(InvalidValue):
        v.rupiah(bad, "value_idr")  # type: ignore[arg-type]


def test_an_auditor_may_never_write_and_a_company_may_never_review() -> None:
    with pytest.raises(Forbidden):
        require_role(Principal("a", Role.AUDITOR, region=""), "partnership.propose")
    with pytest.raises(Forbidden):
        require_role(Principal("c", Role.COMPANY, nibs=("3216000000001",)), "partnership.review")


PARTNERSHIP = dict(large_nib="3216000000001", umkm_nib="3317000000101", large_region="32.16",
                   umkm_region="33.17.05", location_region="33.17.05")


@pytest.mark.parametrize(("who", "sees"), [
    (Principal("x", Role.ADMIN), True),
    (Principal("x", Role.DINAS, region="32.16"), True),    # the large party's region
    (Principal("x", Role.DINAS, region="33.17"), True),    # the UMKM's and location's region
    (Principal("x", Role.DINAS, region="64.71"), False),
    (Principal("x", Role.AUDITOR, region=""), True),       # national
    (Principal("x", Role.AUDITOR, region="32.1"), False),  # not a whole segment
    (Principal("x", Role.COMPANY, nibs=("3216000000001",)), True),
    (Principal("x", Role.COMPANY, nibs=("3216000000002",)), False),
    (Principal("x", Role.UMKM, nibs=("3317000000101",)), True),
    (Principal("x", Role.UMKM, nibs=("3216000000001",)), False),  # the large NIB as umkm
])
def test_who_may_read_a_partnership(who: Principal, sees: bool) -> None:
    assert may_read_partnership(who, **PARTNERSHIP) is sees


@given(st.dates(min_value=v.FIRST_DAY, max_value=v.LAST_DAY))
def test_a_business_date_a_period_can_name_is_accepted(day) -> None:  # type: ignore[no-untyped-def]
    assert v.business_day(day, "start_date") == day


@pytest.mark.parametrize("start,end,field", [
    ("0024-12-31", None, "start_date"), ("1899-12-31", "2024-01-01", "start_date"),
    ("2024-01-01", "9999-01-01", "end_date"),
])
def test_a_term_outside_the_years_a_period_can_name_is_refused(start: str, end: str | None,
                                                               field: str) -> None:
    from datetime import date

    with pytest.raises(InvalidValue) as refused:
        v.date_range(date.fromisoformat(start), date.fromisoformat(end) if end else None,
                     "start_date", "end_date")
    assert [e.field for e in refused.value.errors] == [field]


@pytest.mark.parametrize("check,value", [
    (v.nib, "３２１６０００００００１２"),  # full-width digits: \d took them
    (v.nib, "3216000000012\n"),  # $ matched before a trailing newline
    (v.kbli, "٤٧١١١"),
    (v.region_code, "٣٢.١٦"),
])
def test_identifiers_are_ascii_digits_only(check, value: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidValue):
        check(value, "field")

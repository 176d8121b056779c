"""Business: registration, scale as a dated fact (naik kelas), facts and affiliations."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from domain.base import project
from domain.business import Business, business_id
from domain.errors import InvalidValue, TransitionForbidden
from domain.values import Actor, Scale

NOW = datetime(2024, 5, 1, tzinfo=timezone.utc)
DINAS = Actor("token-dinas", "dinas")


def registered(scale: Scale = Scale.MIKRO) -> Business:
    b = Business.register(actor=DINAS, now=NOW, on=date(2022, 1, 3), nib="3317000000101",
                          name="UD Ikan Asin Rembang", scale=scale, region_code="33.17.05",
                          kbli=["10213", "10213"], address=None)
    return project(None, b.collect_events())  # type: ignore[return-value]


def test_registration_derives_the_id_from_the_nib_and_drops_repeated_kbli():
    b = registered()
    assert b.id == business_id("3317000000101")
    assert b.kbli == ["10213"]
    assert b.scale_on(date(2022, 1, 3)) == "mikro"


def test_naik_kelas_is_a_dated_change_and_the_old_scale_holds_before_it():
    b = registered()
    b.change_scale(DINAS, NOW, date(2024, 7, 1), Scale.KECIL, {"annual_sales_idr": 3_000_000_000})
    [event] = b.collect_events()
    assert (event.from_scale, event.to_scale) == ("mikro", "kecil")
    assert b.scale_on(date(2024, 6, 30)) == "mikro"
    assert b.scale_on(date(2024, 7, 1)) == "kecil"


def test_a_backdated_scale_change_takes_its_place_in_the_history():
    b = registered()
    b.change_scale(DINAS, NOW, date(2024, 7, 1), Scale.BESAR, None)
    b.change_scale(DINAS, NOW, date(2023, 1, 1), Scale.KECIL, None)
    assert [e.scale for e in b.scale_history] == ["mikro", "kecil", "besar"]
    assert b.scale_on(date(2023, 6, 1)) == "kecil"


def test_a_change_dated_before_the_registration_still_follows_the_registered_scale():
    """Registered on 2022-01-03 as mikro; its graduation to besar on 2021-06-01 is recorded
    next. Mikro before 2021-06-01, besar since, and besar today (the registration's date used
    to sort it after the change: besar "before", mikro again from 2022-01-03)."""
    b = registered()
    later = datetime(2024, 5, 2, tzinfo=timezone.utc)
    b.change_scale(DINAS, later, date(2021, 6, 1), Scale.BESAR, None)
    [event] = b.collect_events()
    assert (event.from_scale, event.to_scale) == ("mikro", "besar")
    assert b.scale_on(date(2021, 5, 31)) == "mikro"
    assert b.scale_on(date(2021, 6, 1)) == "besar"
    assert b.scale_on(date(2024, 5, 2)) == "besar"
    assert b.scale_periods() == [(date.min, "mikro"), (date(2021, 6, 1), "besar")]
    assert [e.scale for e in b.scale_history] == ["mikro", "besar"]  # the registration first


def test_the_registration_is_found_by_its_instant_in_a_history_stored_by_date():
    """Snapshots taken before 2026-12-05 keep the history sorted by date alone."""
    from domain.business import ScaleEntry, ordered_scales

    registration = ScaleEntry("mikro", date(2022, 1, 3), NOW, None)
    graduation = ScaleEntry("besar", date(2021, 6, 1), datetime(2024, 5, 2, tzinfo=timezone.utc),
                            None)
    assert ordered_scales([graduation, registration]) == [registration, graduation]


def test_changing_to_the_scale_already_in_force_is_forbidden():
    b = registered()
    with pytest.raises(TransitionForbidden):
        b.change_scale(DINAS, NOW, date(2024, 1, 1), Scale.MIKRO, None)


def test_a_fact_is_kept_as_an_exact_decimal():
    b = registered(Scale.BESAR)
    b.declare_fact(DINAS, NOW, date(2024, 1, 1), name="commercial_area", value=Decimal("1250.75"),
                   unit="m2", evidence_id=None)
    [event] = b.collect_events()
    assert event.value == "1250.75"
    assert b.facts[0].value == Decimal("1250.75")
    with pytest.raises(InvalidValue):
        b.declare_fact(DINAS, NOW, date(2024, 1, 1), name="x", value=Decimal("-1"), unit="m2",
                       evidence_id=None)


def test_affiliation_holds_between_its_dates_and_cannot_be_declared_twice():
    b = registered(Scale.BESAR)
    b.declare_affiliation(DINAS, NOW, date(2024, 1, 1), umkm_nib="3317000000202", kind="owns",
                          ended=None)
    assert b.affiliated_with("3317000000202", date(2024, 6, 1))
    assert not b.affiliated_with("3317000000202", date(2023, 12, 31))
    with pytest.raises(TransitionForbidden):
        b.declare_affiliation(DINAS, NOW, date(2024, 2, 1), umkm_nib="3317000000202",
                              kind="controls", ended=None)
    b.end_affiliation(DINAS, NOW, date(2024, 9, 30), "3317000000202")
    assert not b.affiliated_with("3317000000202", date(2024, 10, 1))
    with pytest.raises(TransitionForbidden):
        b.end_affiliation(DINAS, NOW, date(2024, 10, 30), "3317000000202")


def test_a_re_declared_affiliation_keeps_the_earlier_period():
    b = Business.register(actor=DINAS, now=NOW, on=date(2020, 1, 3), nib="3317000000101",
                          name="PT Contoh Rembang (sampel)", scale=Scale.BESAR,
                          region_code="33.17.05", kbli=["10213"], address=None)
    b.declare_affiliation(DINAS, NOW, date(2022, 1, 1), umkm_nib="3317000000202", kind="owns",
                          ended=None)
    b.end_affiliation(DINAS, NOW, date(2022, 12, 31), "3317000000202")
    b.declare_affiliation(DINAS, NOW, date(2024, 1, 1), umkm_nib="3317000000202",
                          kind="controls", ended=None)
    replayed = project(None, b.collect_events())  # the same, from the stored events alone
    assert isinstance(replayed, Business)
    for business in (b, replayed):
        assert business.affiliated_with("3317000000202", date(2022, 6, 1))
        assert not business.affiliated_with("3317000000202", date(2023, 6, 1))
        assert business.affiliated_with("3317000000202", date(2024, 6, 1))
        assert [(a.kind, a.ended_date) for a in business.affiliation_periods("3317000000202")] \
            == [("owns", date(2022, 12, 31)), ("controls", None)]
    b.end_affiliation(DINAS, NOW, date(2024, 9, 30), "3317000000202")
    assert [a.ended_date for a in b.affiliation_periods("3317000000202")] \
        == [date(2022, 12, 31), date(2024, 9, 30)]


def test_an_earlier_period_recorded_later_is_kept_and_the_open_one_is_what_ends():
    """Open 2024-01-01..; then 2022 (ended) is recorded: it overlaps nothing, so it is taken
    (only the latest declared was compared: 409); ending ends the open 2024 period."""
    b = Business.register(actor=DINAS, now=NOW, on=date(2020, 1, 3), nib="3317000000101",
                          name="PT Contoh Rembang (sampel)", scale=Scale.BESAR,
                          region_code="33.17.05", kbli=["10213"], address=None)
    b.declare_affiliation(DINAS, NOW, date(2024, 1, 1), umkm_nib="3317000000202", kind="controls",
                          ended=None)
    b.declare_affiliation(DINAS, NOW, date(2022, 1, 1), umkm_nib="3317000000202", kind="owns",
                          ended=date(2022, 12, 31))
    with pytest.raises(TransitionForbidden):  # overlaps the 2022 period
        b.declare_affiliation(DINAS, NOW, date(2021, 6, 1), umkm_nib="3317000000202",
                              kind="owns", ended=date(2022, 2, 1))
    with pytest.raises(TransitionForbidden):  # overlaps the open one
        b.declare_affiliation(DINAS, NOW, date(2023, 6, 1), umkm_nib="3317000000202",
                              kind="owns", ended=None)
    b.end_affiliation(DINAS, NOW, date(2024, 9, 30), "3317000000202")
    replayed = project(None, b.collect_events())
    for business in (b, replayed):
        assert sorted((a.effective_date, a.ended_date) for a in
                      business.affiliation_periods("3317000000202")) == [
            (date(2022, 1, 1), date(2022, 12, 31)), (date(2024, 1, 1), date(2024, 9, 30))]
        assert business.affiliated_with("3317000000202", date(2022, 6, 1))
        assert not business.affiliated_with("3317000000202", date(2023, 6, 1))


def test_a_business_cannot_be_affiliated_with_itself():
    b = registered(Scale.BESAR)
    with pytest.raises(InvalidValue):
        b.declare_affiliation(DINAS, NOW, date(2024, 1, 1), umkm_nib=b.nib, kind="owns",
                              ended=None)

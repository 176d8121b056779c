"""Compliance as a pure function: given the facts of a business, its partnerships and a rule
pack version, what is measured, what is required, what counted and what was left out (and why).
No store: every case is plain facts in, an `ObligationResult` out."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from domain.compliance import (
    BusinessFacts, DeclaredFact, LEFT_OUT_REASONS, PartnershipRecord, Period, RegulationVersion,
    due, evaluate, evaluate_business, parse_period, periods_for,
)
from domain.reality import PartnershipFacts, PartyFacts, RealizationFacts, assess

D = date.fromisoformat
Y2024 = parse_period("2024")
Q1, Q2, Q3, Q4 = (parse_period(f"2024-Q{q}") for q in range(1, 5))
LARGE = "3216000000001"


def obligation(**changes: Any) -> dict[str, Any]:
    ob = {"id": "wajib", "description": "uji", "measure": "real_partnerships",
          "applies_to": {"scale": ["besar"], "kbli_prefix": ["4711"], "region_prefix": "32.16"},
          "partner_filter": {"scale": ["mikro", "kecil"], "region_prefix": "32.16"},
          "period": "year", "at_least": 2}
    return ob | changes


def version(*obligations: dict[str, Any], number: int = 1, start: str = "2021-01-01",
            end: str | None = None, region: str = "32.16") -> RegulationVersion:
    pack = {"id": "perbup-uji", "region_code": region, "effective_from": start,
            "effective_to": end, "obligations": list(obligations or [obligation()])}
    return RegulationVersion("perbup-uji", number, pack, D(start), D(end) if end else None)


BUSINESS = BusinessFacts(nib=LARGE, name="PT Besar", region_code="32.16.01",
                         kbli=("47111",), scale_periods=((D("2019-01-01"), "besar"),))


def realization(rid: str = "r", start: str = "2024-02-01", end: str = "2024-02-28",
                value: int = 1_000, quantity: float | None = None, unit: str | None = None,
                reviews: tuple[str | None, ...] = ("verified",)) -> RealizationFacts:
    return RealizationFacts(rid, D(start), D(end), value, quantity, unit, reviews)


def record(pid: str, umkm: str = "3216000000101", *, umkm_region: str = "32.16.02",
           scales: tuple[tuple[date, str], ...] = ((D("2019-01-01"), "mikro"),),
           affiliations: tuple[Any, ...] = (), **changes: Any) -> PartnershipRecord:
    f = PartnershipFacts(
        id=pid, large_nib=LARGE, umkm_nib=umkm, pola="rantai_pasok", program=None,
        location_region_code="32.16.01", large_region_code="32.16.01",
        umkm_region_code=umkm_region, start_date=D("2024-01-01"), end_date=D("2024-12-31"),
        confirmed=True, perjanjian_verified=True, realizations=(realization(),))
    return PartnershipRecord(replace(f, **changes), PartyFacts(scales, affiliations))


def run(records: list[PartnershipRecord], ob: dict[str, Any] | None = None,
        business: BusinessFacts = BUSINESS, period: Period = Y2024) -> Any:
    return evaluate(version(ob or obligation()), "wajib", business, records, period)


# --- periods ------------------------------------------------------------------------------------

def test_periods_parse_years_and_quarters() -> None:
    assert (Q1.start, Q1.end) == (D("2024-01-01"), D("2024-03-31"))
    assert (Q4.start, Q4.end) == (D("2024-10-01"), D("2024-12-31"))
    assert (Y2024.start, Y2024.end) == (D("2024-01-01"), D("2024-12-31"))
    for bad in ("2024-Q5", "24", "2024Q1", "", "2024-q1", "2024-01"):
        with pytest.raises(ValueError):
            parse_period(bad)
    assert [p.label for p in periods_for("quarter", Y2024)] == [
        "2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4"]
    assert [p.label for p in periods_for("year", Q3)] == ["2024"]
    assert [p.label for p in periods_for("quarter", Q3)] == ["2024-Q3"]


# --- which partnerships count, and why the others do not ----------------------------------------

LEFT_OUT_CASES = [
    ("not confirmed", dict(confirmed=False), {}, ["not_confirmed"]),
    ("no verified perjanjian", dict(perjanjian_verified=False), {}, ["no_verified_perjanjian"]),
    ("realization unreviewed", dict(realizations=(realization(reviews=(None,)),)), {},
     ["no_verified_realization"]),
    ("realization outside the period", dict(realizations=(realization(
        start="2023-02-01", end="2023-02-28"),)), {}, ["no_verified_realization"]),
    ("term before the period", dict(start_date=D("2022-01-01"), end_date=D("2023-06-30"),
                                    realizations=(realization(start="2024-01-01"),)), {},
     ["inactive_in_period"]),
    ("affiliated all year", {}, dict(affiliations=((D("2020-01-01"), None),)), ["affiliated"]),
    ("partner besar all year", {}, dict(scales=((D("2020-01-01"), "besar"),)),
     ["partner_not_umkm", "outside_partner_filter"]),
    ("partner menengah: UMKM but outside the filter", {},
     dict(scales=((D("2020-01-01"), "menengah"),)), ["outside_partner_filter"]),
    ("partner outside the filter's region", {}, dict(umkm_region="33.17.01"),
     ["outside_partner_filter"]),
    ("several reasons at once", dict(confirmed=False, perjanjian_verified=False), {},
     ["not_confirmed", "no_verified_perjanjian"]),
]


@pytest.mark.parametrize("name,changes,party,reasons", LEFT_OUT_CASES,
                         ids=[c[0] for c in LEFT_OUT_CASES])
def test_a_partnership_left_out_says_why(name: str, changes: dict[str, Any],
                                         party: dict[str, Any], reasons: list[str]) -> None:
    result = run([record("ok"), record("x", **party, **changes)])
    assert [c.id for c in result.counted] == ["ok"]
    assert [(x.id, list(x.reasons)) for x in result.left_out] == [("x", reasons)]
    assert result.measured == 1 and result.required == 2
    assert result.status == "non_compliant"


def test_partnerships_of_another_business_are_not_read() -> None:
    other = record("other")
    other = replace(other, facts=replace(other.facts, large_nib="3216000000009"))
    result = run([record("a"), record("b"), other])
    assert [c.id for c in result.counted] == ["a", "b"] and result.left_out == ()
    assert result.status == "compliant"


# --- the measures -------------------------------------------------------------------------------

def test_real_partnerships_and_distinct_partners() -> None:
    records = [record("a", "3216000000101"), record("b", "3216000000101"),
               record("c", "3216000000102")]
    assert run(records).measured == 3
    result = run(records, obligation(measure="distinct_umkm_partners", at_least=3))
    assert (result.measured, result.status) == (2, "non_compliant")
    assert run(records, obligation(measure="distinct_umkm_partners", at_least=2)).status == \
        "compliant"


def test_realization_value_counts_verified_realizations_overlapping_the_period() -> None:
    records = [
        record("a", realizations=(realization("r1", value=700),
                                  realization("r2", value=300, reviews=("rejected",)))),
        record("b", realizations=(realization("r3", "2024-12-15", "2025-01-15", value=500),)),
        record("c", realizations=(realization("r4", "2025-01-01", "2025-01-31", value=900),
                                  realization("r5", value=1))),
        record("x", confirmed=False, realizations=(realization("r6", value=10_000),)),
    ]
    result = run(records, obligation(measure="realization_value_idr", at_least=1_202))
    assert result.measured == 700 + 500 + 1
    assert result.status == "non_compliant"
    assert run(records, obligation(measure="realization_value_idr",
                                   at_least=1_201)).status == "compliant"


def test_realization_quantity_sums_only_the_unit_asked() -> None:
    records = [record("a", realizations=(realization("r1", quantity=4, unit="session"),
                                         realization("r2", quantity=100, unit="m2"))),
               record("b", realizations=(realization("r3", quantity=2.5, unit="session"),))]
    result = run(records, obligation(measure="realization_quantity", unit="session",
                                     at_least=7))
    assert result.measured == 6.5 and result.status == "non_compliant"
    assert [c.quantity for c in result.counted] == [4, 2.5]


AREA = DeclaredFact("commercial_area", Decimal("1000"), "m2", D("2023-06-01"))
SHARE = obligation(measure="share", unit="m2", of_fact="commercial_area", at_least_pct=30,
                   at_least=None)


def test_share_divides_by_the_fact_in_force_at_the_period_end() -> None:
    records = [record("a", realizations=(realization("r1", quantity=250, unit="m2"),)),
               record("b", realizations=(realization("r2", quantity=60, unit="m2"),))]
    with_area = replace(BUSINESS, facts=(AREA,))
    result = run(records, SHARE, with_area)
    assert result.measured == pytest.approx(31.0) and result.status == "compliant"
    assert result.fact == AREA and result.quantity == 310
    # a larger area declared during the year is the one in force on 31 December
    grown = replace(BUSINESS, facts=(AREA, replace(AREA, value=Decimal("2000"),
                                                   effective_date=D("2024-11-01"))))
    result = run(records, SHARE, grown)
    assert result.measured == pytest.approx(15.5) and result.status == "non_compliant"
    # declared only after the period: as if there were none
    late = replace(BUSINESS, facts=(replace(AREA, effective_date=D("2025-01-01")),))
    assert run(records, SHARE, late).reasons == ("fact_missing",)


@pytest.mark.parametrize("facts", [(), (replace(AREA, name="lahan"),),
                                   (replace(AREA, unit="ha"),), (replace(AREA, value=Decimal(0)),)],
                         ids=["none", "another fact", "another unit", "zero"])
def test_share_without_the_fact_is_non_compliant_with_fact_missing(facts: Any) -> None:
    records = [record("a", realizations=(realization("r1", quantity=10_000, unit="m2"),))]
    result = run(records, SHARE, replace(BUSINESS, facts=facts))
    assert result.status == "non_compliant"
    assert result.reasons == ("fact_missing",)
    assert [c.id for c in result.counted] == ["a"]


def test_illustrative_is_carried_from_the_pack() -> None:
    assert run([], obligation(illustrative=True)).illustrative is True
    assert run([], obligation()).illustrative is False


# --- applicability, grace, versions -------------------------------------------------------------

def test_applicability_by_region_kbli_and_scale() -> None:
    v = version()
    assert due("wajib", [v], BUSINESS, Y2024) == v
    assert due("wajib", [v], replace(BUSINESS, kbli=("10110", "47112")), Y2024) == v
    assert due("wajib", [v], replace(BUSINESS, kbli=("10110",)), Y2024) is None
    assert due("wajib", [v], replace(BUSINESS, region_code="32.17.01"), Y2024) is None
    menengah = replace(BUSINESS, scale_periods=((D("2019-01-01"), "menengah"),))
    assert due("wajib", [v], menengah, Y2024) is None
    # the pack's own region limits it too, whatever applies_to says
    national_prefix = version(obligation(applies_to={"scale": ["besar"], "kbli_prefix": [],
                                                     "region_prefix": ""}), region="31")
    assert due("wajib", [national_prefix], BUSINESS, Y2024) is None


def test_an_obligation_for_operators_binds_only_businesses_that_declared_the_fact() -> None:
    """`applies_to.declared_fact`: PP 7/2021, Permendag 23/2021 and Perda DKI 2/2018 bind
    operators of an area (a terminal, a shopping centre) that no KBLI names: a bakery that
    declared no commercial area is not obliged (it was evaluated, and non_compliant)."""
    operators = SHARE | {"period": "quarter", "applies_to": {
        "scale": ["besar"], "kbli_prefix": [], "region_prefix": "32.16",
        "declared_fact": "commercial_area"}}
    v = version(operators)
    assert due("wajib", [v], BUSINESS, Q2) is None  # no area declared: not an operator
    since_may = replace(BUSINESS, facts=(replace(AREA, effective_date=D("2024-05-01")),))
    assert [p.label for p in (Q1, Q2, Q3) if due("wajib", [v], since_may, p)] == \
        ["2024-Q2", "2024-Q3"]
    other = replace(BUSINESS, facts=(replace(AREA, name="plantation_area"),))
    assert due("wajib", [v], other, Q3) is None


def test_a_business_that_became_besar_mid_year_is_obliged_from_then() -> None:
    grew = replace(BUSINESS, scale_periods=((D("2019-01-01"), "menengah"),
                                            (D("2024-07-15"), "besar")))
    quarterly = version(obligation(period="quarter"))
    assert [p.label for p in (Q1, Q2, Q3, Q4) if due("wajib", [quarterly], grew, p)] == \
        ["2024-Q3", "2024-Q4"]
    assert due("wajib", [version()], grew, Y2024) is not None
    shrank = replace(BUSINESS, scale_periods=((D("2019-01-01"), "besar"),
                                              (D("2024-04-01"), "menengah")))
    assert [p.label for p in (Q1, Q2, Q3, Q4) if due("wajib", [quarterly], shrank, p)] == \
        ["2024-Q1"]


def test_grace_days_delay_the_first_period_due() -> None:
    grew = replace(BUSINESS, scale_periods=((D("2019-01-01"), "menengah"),
                                            (D("2024-01-01"), "besar")))
    quarterly = [version(obligation(period="quarter", grace_days=90))]
    # 2024-01-01 + 90 days = 2024-03-31: Q1 ends that day, so Q1 is due
    assert [p.label for p in (Q1, Q2) if due("wajib", quarterly, grew, p)] == \
        ["2024-Q1", "2024-Q2"]
    quarterly = [version(obligation(period="quarter", grace_days=91))]
    assert [p.label for p in (Q1, Q2) if due("wajib", quarterly, grew, p)] == ["2024-Q2"]
    # the grace counts from when it first applied, here the regulation's entry into force
    late_rule = [version(obligation(period="quarter", grace_days=91), start="2024-04-01")]
    assert [p.label for p in (Q1, Q2, Q3) if due("wajib", late_rule, BUSINESS, p)] == \
        ["2024-Q3"]


def test_an_amendment_from_yearly_to_quarterly_leaves_no_month_unevaluated() -> None:
    """Yearly until 30 June 2024, quarterly from 1 July: the year 2024 is answered by the
    yearly version, Q3 and Q4 by the quarterly one (January to June used to fall through)."""
    from domain.compliance import due_obligations

    yearly = version(obligation(), number=1, end="2024-06-30")
    quarterly = version(obligation(period="quarter", at_least=1), number=2, start="2024-07-01")
    due_now = due_obligations([[yearly, quarterly]], BUSINESS, Y2024)
    assert [(p.label, v.number) for v, _, p in due_now] == [
        ("2024", 1), ("2024-Q3", 2), ("2024-Q4", 2)]
    assert [(p.label, v.number) for v, _, p in due_obligations([[yearly, quarterly]],
                                                               BUSINESS, Q1)] == [("2024", 1)]


def test_the_version_in_force_at_the_period_end_is_applied() -> None:
    v1 = version(obligation(at_least=1), end="2024-06-30")
    v2 = version(obligation(at_least=5), number=2, start="2024-07-01")
    assert due("wajib", [v1, v2], BUSINESS, Y2024) == v2
    assert due("wajib", [v1, v2], BUSINESS, Q2) == v1
    revoked = version(obligation(), end="2024-05-31")
    assert due("wajib", [revoked], BUSINESS, Y2024) == revoked
    assert due("wajib", [revoked], BUSINESS, Q3) is None
    results = evaluate_business([[v1, v2]], BUSINESS, [record("a"), record("b")], Y2024)
    assert [(r.regulation_version, r.required, r.status) for r in results] == \
        [(2, 5, "non_compliant")]


def test_evaluate_business_splits_a_year_into_the_quarters_of_a_quarterly_obligation() -> None:
    v = version(obligation(period="quarter", at_least=1))
    records = [record("a", realizations=(realization("r1", "2024-05-01", "2024-05-02"),))]
    results = evaluate_business([[v]], BUSINESS, records, Y2024)
    assert [(r.period.label, r.status) for r in results] == [
        ("2024-Q1", "non_compliant"), ("2024-Q2", "compliant"), ("2024-Q3", "non_compliant"),
        ("2024-Q4", "non_compliant")]


# --- a partner that graduated to besar ----------------------------------------------------------

GRADUATED = ((D("2019-01-01"), "kecil"), (D("2024-03-01"), "besar"))


def test_a_graduated_partner_keeps_counting_during_its_grace() -> None:
    r = record("g", scales=GRADUATED,
               realizations=(realization(start="2024-04-01", end="2024-06-30"),))
    plain = run([r], obligation(period="quarter", at_least=1), period=Q2)
    assert plain.left_out[0].reasons == ("partner_not_umkm", "outside_partner_filter")
    ob = obligation(period="quarter", at_least=1, graduated_partner_grace_days=365)
    for q, status in ((Q2, "compliant"), (Q4, "compliant")):
        r_q = record("g", scales=GRADUATED, realizations=(realization(
            start=q.start.isoformat(), end=q.end.isoformat()),))
        assert run([r_q], ob, period=q).status == status
    # from 2025-03-01 (a year after graduating) it no longer counts
    r25 = record("g", scales=GRADUATED, end_date=None,
                 realizations=(realization(start="2025-04-01", end="2025-04-30"),))
    result = run([r25], ob, period=parse_period("2025-Q2"))
    assert result.status == "non_compliant"
    assert result.left_out[0].reasons == ("partner_not_umkm", "outside_partner_filter")


# --- properties ---------------------------------------------------------------------------------

reviews = st.sampled_from([("verified",), (None,), ("rejected",), ()])
day = st.integers(0, 700).map(lambda n: D("2023-07-01") + timedelta(days=n))


@st.composite
def records(draw: Any) -> list[PartnershipRecord]:
    out = []
    for i in range(draw(st.integers(0, 8))):
        start = draw(day)
        realizations = tuple(
            realization(f"r{i}{j}", s.isoformat(), (s + timedelta(days=draw(st.integers(0, 60))))
                        .isoformat(), draw(st.integers(0, 10_000)),
                        draw(st.sampled_from([None, 1.0, 2.5])),
                        draw(st.sampled_from([None, "session", "m2"])), draw(reviews))
            for j, s in enumerate(draw(st.lists(day, max_size=3))))
        out.append(record(
            f"p{i}", f"32160000001{draw(st.integers(0, 3)):02d}",
            umkm_region=draw(st.sampled_from(["32.16.01", "33.17.01"])),
            scales=((D("2019-01-01"), draw(st.sampled_from(["mikro", "kecil", "menengah"]))),
                    *([(draw(day), "besar")] if draw(st.booleans()) else [])),
            affiliations=((draw(day), None),) if draw(st.booleans()) else (),
            start_date=start, end_date=draw(st.one_of(st.none(), day.filter(
                lambda d, s=start: d >= s))), confirmed=draw(st.booleans()),
            perjanjian_verified=draw(st.booleans()), realizations=realizations))
    return out


@settings(max_examples=300, deadline=None)
@given(records(), st.sampled_from([Y2024, Q1, Q2, Q3, Q4]),
       st.sampled_from(["real_partnerships", "distinct_umkm_partners", "realization_value_idr",
                        "realization_quantity"]), st.integers(0, 400))
def test_every_partnership_is_counted_or_left_out_with_reasons_consistent_with_reality(
        rs: list[PartnershipRecord], period: Period, measure: str, grace: int) -> None:
    ob = obligation(measure=measure, unit="session", graduated_partner_grace_days=grace)
    result = run(rs, ob, period=period)
    counted = {c.id for c in result.counted}
    left = {x.id: x.reasons for x in result.left_out}
    assert counted | set(left) == {r.facts.id for r in rs} and not counted & set(left)
    for r in rs:
        a = assess(r.facts, r.party, period.start, period.end, grace)
        if r.facts.id in counted:
            assert a.real
        else:
            reasons = left[r.facts.id]
            assert reasons and set(reasons) <= set(LEFT_OUT_REASONS)
            assert [x for x in reasons if x != "outside_partner_filter"] == a.reasons
    assert result.status == ("compliant" if result.measured >= result.required
                             else "non_compliant")
    if measure == "real_partnerships":
        assert result.measured == len(counted)


@settings(max_examples=200, deadline=None)
@given(records(), records())
def test_adding_partnerships_never_lowers_a_count(a: list[PartnershipRecord],
                                                  b: list[PartnershipRecord]) -> None:
    b = [replace(r, facts=replace(r.facts, id="b" + r.facts.id)) for r in b]
    for measure in ("real_partnerships", "distinct_umkm_partners", "realization_value_idr"):
        ob = obligation(measure=measure)
        assert run(a + b, ob).measured >= run(a, ob).measured


@settings(max_examples=200, deadline=None)
@given(records(), st.integers(0, 400))
def test_a_longer_graduation_grace_never_lowers_the_count(rs: list[PartnershipRecord],
                                                          grace: int) -> None:
    shorter = run(rs, obligation(graduated_partner_grace_days=grace))
    longer = run(rs, obligation(graduated_partner_grace_days=grace + 30))
    assert {c.id for c in shorter.counted} <= {c.id for c in longer.counted}


@settings(max_examples=100, deadline=None)
@given(records(), st.integers(0, 400))
def test_evaluating_a_business_at_once_equals_each_obligation_alone(
        rs: list[PartnershipRecord], grace: int) -> None:
    """`evaluate_business` shares `assess` answers between obligations: never changes one."""
    obs = [obligation(id="a"), obligation(id="b", measure="realization_value_idr", at_least=1,
                                          graduated_partner_grace_days=grace),
           obligation(id="c", measure="realization_quantity", unit="session", at_least=1,
                      period="quarter")]
    v = version(*obs)
    together = evaluate_business([[v]], BUSINESS, rs, Y2024)
    alone = [evaluate(v, r.obligation_id, BUSINESS, rs, r.period) for r in together]
    assert together == alone and len(together) == 1 + 1 + 4


def test_reality_besar_days_with_a_graduation_grace() -> None:
    from domain.reality import besar_days

    party = PartyFacts(((D("2020-01-01"), "kecil"), (D("2024-03-01"), "besar"),
                        (D("2024-06-01"), "besar"), (D("2025-06-01"), "menengah")))
    assert besar_days(party) == [(D("2024-03-01"), D("2024-05-31")),
                                 (D("2024-06-01"), D("2025-05-31"))]
    # the grace runs from the graduation, across a repeated besar entry
    assert besar_days(party, 100) == [(D("2024-06-09"), D("2025-05-31"))]
    assert besar_days(party, 500) == []
    # besar from the start never graduated: no grace
    born = PartyFacts(((D("2020-01-01"), "besar"),))
    assert besar_days(born, 365) == besar_days(born) == [(date.min, None)]

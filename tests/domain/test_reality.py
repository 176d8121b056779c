"""What "real" means, case by case: pure facts in, stage and reasons out (no store)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from domain.reality import (
    PartnershipFacts, PartyFacts, RealizationFacts, assess, counted_realizations,
    eligible_windows, term,
)

D = date.fromisoformat
H1, H2, YEAR = (D("2024-01-01"), D("2024-06-30")), (D("2024-07-01"), D("2024-12-31")), \
    (D("2024-01-01"), D("2024-12-31"))
Q1, Q2, Q3 = (D("2024-01-01"), D("2024-03-31")), (D("2024-04-01"), D("2024-06-30")), \
    (D("2024-07-01"), D("2024-09-30"))

VERIFIED = RealizationFacts("r1", D("2024-01-01"), D("2024-12-31"), 1_000, None, None,
                            ("verified",))
REAL = PartnershipFacts(
    id="p", large_nib="3216000000001", umkm_nib="3216000000101", pola="rantai_pasok",
    program=None, location_region_code="32.16", large_region_code="32.16",
    umkm_region_code="32.16.01", start_date=D("2024-01-01"), end_date=D("2024-12-31"),
    confirmed=True, value_idr=5_000, perjanjian_verified=True, realizations=(VERIFIED,))
UMKM = PartyFacts(scale_periods=((D("2020-01-01"), "mikro"),))


def realization(reviews: tuple[str | None, ...], start: str = "2024-01-01",
                end: str = "2024-12-31", value: int = 1_000, rid: str = "r") -> RealizationFacts:
    return RealizationFacts(rid, D(start), D(end), value, None, None, reviews)


CASES = [
    # (name, facts changes, party, period, stage, reasons)
    ("real all year", {}, UMKM, YEAR, "real", []),
    ("not confirmed", dict(confirmed=False), UMKM, YEAR, "reported", ["not_confirmed"]),
    ("declined", dict(confirmed=False, declined=True), UMKM, YEAR, "reported",
     ["not_confirmed"]),
    ("withdrawn", dict(confirmed=False, withdrawn=True), UMKM, YEAR, None, ["not_confirmed"]),
    ("no perjanjian verified", dict(perjanjian_verified=False), UMKM, YEAR, "confirmed",
     ["no_verified_perjanjian"]),
    ("no realization", dict(realizations=()), UMKM, YEAR, "documented",
     ["no_verified_realization"]),
    ("a realization with one unverified evidence",
     dict(realizations=(realization(("verified", None)),)), UMKM, YEAR, "documented",
     ["no_verified_realization"]),
    ("a realization with a rejected evidence",
     dict(realizations=(realization(("rejected",)),)), UMKM, YEAR, "documented",
     ["no_verified_realization"]),
    ("a realization without evidence", dict(realizations=(realization(()),)), UMKM, YEAR,
     "documented", ["no_verified_realization"]),
    ("realization outside the period", dict(realizations=(realization(
        ("verified",), "2024-07-01", "2024-07-31"),)), UMKM, H1, "documented",
     ["no_verified_realization"]),
    ("suspended for the whole period", dict(suspensions=((D("2024-03-15"), D("2024-07-01")),)),
     UMKM, Q2, "documented", ["inactive_in_period"]),
    ("suspended, resumed on the last day of the period (resume day is active)",
     dict(suspensions=((D("2024-03-15"), D("2024-06-30")),)), UMKM, Q2, "real", []),
    ("suspended and never resumed, after the period", dict(suspensions=((D("2024-04-01"),
                                                                        None),)),
     UMKM, Q1, "real", []),
    ("suspended and never resumed", dict(suspensions=((D("2024-04-01"), None),)), UMKM, Q3,
     "documented", ["inactive_in_period"]),
    ("terminated mid-period is real in it", dict(terminated_on=D("2024-05-15")), UMKM, Q2,
     "real", []),
    ("terminated before the period is not reported", dict(terminated_on=D("2024-05-15")), UMKM,
     Q3, None, ["inactive_in_period"]),
    ("expired mid-period is real in it", dict(end_date=D("2024-02-10")), UMKM, Q1, "real", []),
    ("expired before the period is not reported", dict(end_date=D("2024-02-10")), UMKM, Q2,
     None, ["inactive_in_period"]),
    ("not yet started", dict(start_date=D("2024-07-01")), UMKM, H1, None,
     ["inactive_in_period"]),
    ("graduated to besar mid-year: real in H1", {}, PartyFacts(
        ((D("2020-01-01"), "kecil"), (D("2024-07-01"), "besar"))), H1, "real", []),
    ("graduated to besar mid-year: not in H2", {}, PartyFacts(
        ((D("2020-01-01"), "kecil"), (D("2024-07-01"), "besar"))), H2, "documented",
     ["partner_not_umkm"]),
    ("affiliated all along", {}, PartyFacts(UMKM.scale_periods, ((D("2023-01-01"), None),)),
     YEAR, "documented", ["affiliated"]),
    ("affiliated until March: not real in Q1", {}, PartyFacts(
        UMKM.scale_periods, ((D("2023-01-01"), D("2024-03-31")),)), Q1, "documented",
     ["affiliated"]),
    ("affiliation ended in March: real in Q2", {}, PartyFacts(
        UMKM.scale_periods, ((D("2023-01-01"), D("2024-03-31")),)), Q2, "real", []),
    ("affiliated in H1 and besar in H2: each leaves days, together none", {}, PartyFacts(
        ((D("2020-01-01"), "kecil"), (D("2024-07-01"), "besar")),
        ((D("2023-01-01"), D("2024-06-30")),)), YEAR, "documented",
     ["affiliated", "partner_not_umkm"]),
    ("confirmed, nothing else", dict(perjanjian_verified=False, realizations=()), UMKM, YEAR,
     "confirmed", ["no_verified_perjanjian", "no_verified_realization"]),
]


@pytest.mark.parametrize("name,changes,party,period,stage,reasons", CASES,
                         ids=[c[0] for c in CASES])
def test_stage_and_reasons(name: str, changes: dict, party: PartyFacts,
                           period: tuple[date, date], stage: str | None,
                           reasons: list[str]) -> None:
    a = assess(replace(REAL, **changes), party, *period)
    assert (a.stage, a.reasons) == (stage, reasons)
    assert a.real == (stage == "real")
    assert (a.realization_value_idr > 0) == a.real


def test_a_rejected_perjanjian_then_a_new_one_verified_is_documented() -> None:
    # the flag is computed from the evidence: one perjanjian verified suffices
    from types import SimpleNamespace as NS

    from domain.reality import facts_from_partnership

    ev = {"e1": NS(kind="perjanjian", review={"decision": "rejected"}),
          "e2": NS(kind="perjanjian", review=None), "e3": NS(kind="invoice",
                                                           review={"decision": "verified"})}
    p = NS(id="p", large_nib="1", umkm_nib="2", pola="subkontrak", program=None,
           location_region_code="32", large_region_code="32", umkm_region_code="32",
           start_date=D("2024-01-01"), end_date=None, terminated_on=None,
           confirmed_on=D("2024-04-10"), status="active", value_idr=None, evidence=ev,
           status_periods=[["active", "2024-04-10"]],
           realizations={"r": NS(realization_id="r", period_start=D("2024-02-01"),
                                 period_end=D("2024-02-28"), value_idr=7, quantity=None,
                                 unit=None, evidence_ids=["e3"])})
    before = facts_from_partnership(p)
    assert assess(before, UMKM, *Q1).stage == "confirmed"
    ev["e2"].review = {"decision": "verified"}
    after = facts_from_partnership(p)
    # confirmed in April, but the confirmation validates the whole term: real in Q1
    assert (assess(after, UMKM, *Q1).stage, assess(after, UMKM, *Q1).realization_value_idr) \
        == ("real", 7)


def test_suspensions_from_the_lifecycle_close_on_resume() -> None:
    from types import SimpleNamespace as NS

    from domain.reality import facts_from_partnership

    p = NS(id="p", large_nib="1", umkm_nib="2", pola="subkontrak", program="x",
           location_region_code="32", large_region_code="32", umkm_region_code="32",
           start_date=D("2024-01-01"), end_date=None, terminated_on=D("2024-09-01"),
           confirmed_on=D("2024-01-02"), status="terminated", value_idr=None, evidence={},
           realizations={}, status_periods=[
               ["active", "2024-01-02"], ["suspended", "2024-02-01"], ["active", "2024-03-01"],
               ["suspended", "2024-08-01"], ["terminated", "2024-09-01"]])
    f = facts_from_partnership(p)
    assert f.suspensions == ((D("2024-02-01"), D("2024-03-01")), (D("2024-08-01"), None))
    assert eligible_windows(f, UMKM) == [(D("2024-01-01"), D("2024-01-31")),
                                         (D("2024-03-01"), D("2024-07-31"))]


def test_term_ends_at_the_earlier_of_end_date_and_termination() -> None:
    assert term(replace(REAL, terminated_on=D("2024-05-01"))) == (D("2024-01-01"),
                                                                 D("2024-05-01"))
    assert term(replace(REAL, end_date=None)) == (D("2024-01-01"), None)
    assert term(replace(REAL, end_date=D("2024-03-01"), terminated_on=D("2024-05-01")))[1] \
        == D("2024-03-01")


def test_eligible_windows_cut_suspensions_affiliations_and_besar_days() -> None:
    f = replace(REAL, end_date=None, suspensions=((D("2024-03-01"), D("2024-04-01")),))
    party = PartyFacts(((D("2020-01-01"), "mikro"), (D("2024-10-01"), "besar"),
                        (D("2025-01-01"), "menengah")),
                       ((D("2024-06-01"), D("2024-06-30")),))
    assert eligible_windows(f, party) == [
        (D("2024-01-01"), D("2024-02-29")), (D("2024-04-01"), D("2024-05-31")),
        (D("2024-07-01"), D("2024-09-30")), (D("2025-01-01"), None)]
    for unconfirmed in (dict(confirmed=False), dict(withdrawn=True), dict(declined=True)):
        assert eligible_windows(replace(f, **unconfirmed), party) == []


def test_registered_as_besar_before_the_first_entry_counts_as_besar() -> None:
    party = PartyFacts(((D("2024-06-01"), "besar"),))
    assert eligible_windows(REAL, party) == []


def test_only_realizations_with_all_evidence_verified_count() -> None:
    rs = (realization(("verified",), rid="a"), realization(("verified", "verified"), rid="b"),
          realization(("verified", None), rid="c"), realization((), rid="d"),
          realization(("rejected",), rid="e"))
    assert [r.realization_id for r in counted_realizations(replace(REAL, realizations=rs))] \
        == ["a", "b"]


def test_the_realized_value_sums_counted_realizations_overlapping_the_period() -> None:
    rs = (realization(("verified",), "2024-01-01", "2024-01-31", 10, "a"),
          realization(("verified",), "2024-03-31", "2024-04-30", 20, "b"),
          realization(("verified",), "2024-05-01", "2024-05-31", 40, "c"),
          realization((None,), "2024-01-01", "2024-01-31", 80, "d"))
    assert assess(replace(REAL, realizations=rs), UMKM, *Q1).realization_value_idr == 30


def test_a_reversed_period_is_refused() -> None:
    with pytest.raises(ValueError):
        assess(REAL, UMKM, D("2024-02-01"), D("2024-01-01"))


def test_party_facts_keep_every_affiliation_period_of_the_pair() -> None:
    from datetime import datetime, timezone

    from domain.business import Business
    from domain.reality import party_from_businesses
    from domain.values import Actor, Scale

    dinas, now = Actor("token-dinas", "dinas"), datetime(2024, 5, 1, tzinfo=timezone.utc)
    large = Business.register(actor=dinas, now=now, on=date(2020, 1, 1), nib="3317000000001",
                              name="PT Contoh (sampel)", scale=Scale.BESAR,
                              region_code="33.17", kbli=["47111"], address=None)
    umkm = Business.register(actor=dinas, now=now, on=date(2020, 1, 1), nib="3317000000101",
                             name="UD Contoh (sampel)", scale=Scale.MIKRO,
                             region_code="33.17", kbli=["10213"], address=None)
    large.declare_affiliation(dinas, now, date(2022, 1, 1), umkm_nib=umkm.nib, kind="owns",
                              ended=None)
    large.end_affiliation(dinas, now, date(2022, 12, 31), umkm.nib)
    large.declare_affiliation(dinas, now, date(2024, 1, 1), umkm_nib=umkm.nib, kind="owns",
                              ended=None)
    party = party_from_businesses(umkm, large)
    assert party.affiliations == ((date(2022, 1, 1), date(2022, 12, 31)),
                                  (date(2024, 1, 1), None))

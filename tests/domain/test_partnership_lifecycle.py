"""Every lifecycle transition of a partnership, allowed and forbidden, as given/when/then."""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import InvalidValue, NotFound, TransitionForbidden
from domain.partnership import Partnership
from tests.domain import scenario as s

STATES = {
    "proposed": [],
    "active": [s.confirm],
    "suspended": [s.confirm, s.suspend],
    "declined": [s.decline],
    "withdrawn": [s.withdraw],
    "terminated": [s.confirm, s.terminate],
}

# (command, the states it is allowed from, the event it records)
TRANSITIONS = [
    (s.confirm, {"proposed"}, Partnership.Confirmed, "active"),
    (s.decline, {"proposed"}, Partnership.Declined, "declined"),
    (s.withdraw, {"proposed"}, Partnership.Withdrawn, "withdrawn"),
    (s.suspend, {"active"}, Partnership.Suspended, "suspended"),
    (s.resume, {"suspended"}, Partnership.Resumed, "active"),
    (s.terminate, {"active", "suspended"}, Partnership.Terminated, "terminated"),
    (s.amend, {"proposed", "active", "suspended"}, Partnership.Amended, None),
    (s.submit_evidence, {"proposed", "active", "suspended", "terminated"},
     Partnership.EvidenceSubmitted, None),
]

CASES = [(command, state, allowed, event, after)
         for command, allowed, event, after in TRANSITIONS for state in STATES]


@pytest.mark.parametrize(
    ("command", "state", "allowed", "event", "after"), CASES,
    ids=[f"{c.__name__}-from-{st}" for c, st, *_ in CASES])
def test_each_command_records_its_event_only_from_the_states_that_allow_it(
        command, state, allowed, event, after):  # type: ignore[no-untyped-def]
    p = s.given(s.history(*STATES[state]))
    version = p.version
    if state in allowed:
        events = s.when(p, command)
        assert [type(e) for e in events] == [event]
        assert p.status == (after or state)
        assert p.version == version + 1
    else:
        with pytest.raises(TransitionForbidden):
            command(p)
        assert p.collect_events() == []
        assert p.status == state


def test_proposal_records_the_parties_their_regions_and_the_actor():
    [event] = s.proposed()
    assert isinstance(event, Partnership.Proposed)
    assert (event.large_nib, event.umkm_nib) == ("3216000000001", "3216000000101")
    assert (event.large_region_code, event.umkm_region_code) == ("32.16", "32.16.01")
    assert (event.actor_id, event.actor_role) == ("token-company", "company")
    assert event.effective_date == "2024-01-01"
    assert event.timestamp == s.T0


def test_confirmation_carries_the_umkm_as_actor_and_its_business_date():
    p = s.given(s.proposed())
    [event] = s.when(p, s.confirm)
    assert (event.actor_role, event.effective_date, event.note) == ("umkm", "2024-01-11", "benar")
    assert p.confirmed_on == date(2024, 1, 11)


def test_a_proposal_ending_before_it_starts_is_invalid():
    with pytest.raises(InvalidValue) as e:
        s.proposed(end_date=date(2023, 12, 31))
    assert e.value.errors[0].field == "end_date"


def test_a_partnership_cannot_name_the_same_business_on_both_sides():
    with pytest.raises(InvalidValue):
        s.proposed(umkm_nib="3216000000001")


def test_suspension_dated_before_the_last_status_change_is_invalid():
    p = s.given(s.history(s.confirm))
    with pytest.raises(InvalidValue):
        p.suspend(s.COMPANY, s.at(2), date(2024, 1, 5), "backdated")


def test_amend_records_only_the_fields_that_change():
    p = s.given(s.history(s.confirm))
    [event] = s.when(p, lambda p: p.amend(s.COMPANY, s.at(2), date(2024, 2, 1), {
        "value_idr": 120_000_000, "end_date": date(2026, 6, 30)}))
    assert event.changes == {"end_date": "2026-06-30"}
    assert p.end_date == date(2026, 6, 30)


def test_amend_that_changes_nothing_is_invalid():
    p = s.given(s.history(s.confirm))
    with pytest.raises(InvalidValue):
        p.amend(s.COMPANY, s.at(2), date(2024, 2, 1), {"value_idr": 120_000_000})


def test_amend_cannot_move_the_end_before_the_start():
    p = s.given(s.history(s.confirm))
    with pytest.raises(InvalidValue):
        p.amend(s.COMPANY, s.at(2), date(2024, 2, 1), {"end_date": date(2023, 1, 1)})


def test_evidence_review_verifies_once_and_a_second_review_is_forbidden():
    p = s.given(s.history(s.confirm, s.submit_evidence))
    [event] = s.when(p, lambda p: p.review_evidence(
        s.DINAS, s.at(3), date(2024, 1, 20), evidence_id="ev-1", decision="verified",
        reason=None))
    assert isinstance(event, Partnership.EvidenceReviewed)
    assert p.evidence["ev-1"].review["decision"] == "verified"
    with pytest.raises(TransitionForbidden):
        p.review_evidence(s.DINAS, s.at(4), date(2024, 1, 21), evidence_id="ev-1",
                          decision="rejected", reason="berubah pikiran")


def test_evidence_may_be_rejected_without_a_reason_and_unknown_evidence_is_not_found():
    """Contract: `{decision, reason?}`; the reason is kept when given."""
    p = s.given(s.history(s.confirm, s.submit_evidence))
    [event] = s.when(p, lambda p: p.review_evidence(
        s.DINAS, s.at(3), date(2024, 1, 20), evidence_id="ev-1", decision="rejected",
        reason=None))
    assert (event.decision, event.reason) == ("rejected", None)
    assert p.evidence["ev-1"].review["decision"] == "rejected"
    with pytest.raises(InvalidValue):
        p.review_evidence(s.DINAS, s.at(3), date(2024, 1, 20), evidence_id="ev-1",
                          decision="approved", reason=None)
    with pytest.raises(NotFound):
        p.review_evidence(s.DINAS, s.at(3), date(2024, 1, 20), evidence_id="nope",
                          decision="verified", reason=None)


def test_realization_needs_a_started_partnership():
    p = s.given(s.history(s.submit_evidence))
    with pytest.raises(TransitionForbidden):
        s.report_realization(p)


def test_realization_is_recorded_with_its_evidence_and_may_follow_termination():
    p = s.given(s.history(s.confirm, s.submit_evidence, s.terminate))
    [event] = s.when(p, s.report_realization)
    assert isinstance(event, Partnership.RealizationReported)
    assert p.realizations["r-1"].evidence_ids == ["ev-1"]


def test_a_realization_may_carry_neither_value_nor_quantity():
    """Contract: `value_idr?`, `quantity?` — a mentoring session is realized by its log."""
    p = s.given(s.history(s.confirm, s.submit_evidence))
    [event] = s.when(p, lambda p: p.report_realization(
        s.COMPANY, s.at(6), date(2024, 4, 5), realization_id="r-2",
        period_start=date(2024, 1, 1), period_end=date(2024, 3, 31), value_idr=None,
        quantity=None, unit=None, evidence_ids=["ev-1"]))
    assert (event.value_idr, event.quantity, event.unit) == (None, None, None)
    assert p.realizations["r-2"].evidence_ids == ["ev-1"]


@pytest.mark.parametrize(("kwargs", "field"), [
    (dict(value_idr=None, quantity=12.0, unit=None), "unit"),
    (dict(value_idr=1, quantity=None, unit=None, evidence_ids=["missing"]), "evidence_ids"),
    (dict(value_idr=1, quantity=None, unit=None, period_end=date(2023, 1, 1)), "period_end"),
])
def test_invalid_realizations_name_the_field(kwargs, field):  # type: ignore[no-untyped-def]
    p = s.given(s.history(s.confirm, s.submit_evidence))
    args = dict(realization_id="r-2", period_start=date(2024, 1, 1),
                period_end=date(2024, 3, 31), evidence_ids=["ev-1"])
    args.update(kwargs)
    with pytest.raises(InvalidValue) as e:
        p.report_realization(s.COMPANY, s.at(6), date(2024, 4, 5), **args)
    assert e.value.errors[0].field == field


def test_a_running_partnership_past_its_end_date_is_expired_without_any_write():
    p = s.given(s.history(s.confirm))
    assert p.effective_status(date(2025, 12, 31)) == "active"
    assert p.effective_status(date(2026, 1, 1)) == "expired"
    terminated = s.given(s.history(s.confirm, s.terminate))
    assert terminated.effective_status(date(2026, 1, 1)) == "terminated"


def test_replaying_the_recorded_events_rebuilds_the_same_state():
    events = s.history(s.confirm, s.suspend, s.resume, s.submit_evidence, s.amend)
    live = s.given(events[:1])
    for e in events[1:]:
        e.mutate(live)
    assert s.given(events).__dict__ == live.__dict__

"""The use cases against a real store, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import uuid4

import pytest

from domain.access import SYSTEM, Principal, Role
from domain.errors import DuplicateKey, Forbidden, InvalidValue, NotFound, StaleVersion
from domain.partnership import Partnership

T0 = datetime(2024, 2, 1, 3, 0, tzinfo=timezone.utc)
LARGE, SMALL, OTHER = "3216000000001", "3216000000101", "3317000000101"
DINAS = Principal("dinas-bekasi", Role.DINAS, region="32.16")
COMPANY = Principal("company", Role.COMPANY, nibs=(LARGE,))
UMKM = Principal("umkm", Role.UMKM, nibs=(SMALL,))


@pytest.fixture
def ledger(container):  # type: ignore[no-untyped-def]
    lg = container.ledger
    lg.register_business(DINAS, T0, nib=LARGE, name="PT Contoh Ritel (sampel)", scale="besar",
                         region_code="32.16", kbli=["47111"])
    lg.register_business(DINAS, T0, nib=SMALL, name="UMKM Keripik (sampel)", scale="mikro",
                         region_code="32.16.01", kbli=["10794"])
    return lg


def propose(ledger, **kw):  # type: ignore[no-untyped-def]
    args = dict(large_nib=LARGE, umkm_nib=SMALL, pola="perdagangan_umum", title="Rak UMKM",
                start_date=date(2024, 1, 1), location_region_code="32.16")
    args.update(kw)
    return ledger.propose_partnership(COMPANY, T0, uuid4(), **args)


def test_registering_the_same_nib_twice_is_a_duplicate(ledger) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DuplicateKey):
        ledger.register_business(SYSTEM, T0, nib=LARGE, name="Lagi", scale="besar",
                                 region_code="32.16", kbli=["47111"])


def test_a_dinas_registers_only_in_its_region(ledger) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Forbidden):
        ledger.register_business(DINAS, T0, nib=OTHER, name="Di luar", scale="mikro",
                                 region_code="33.17", kbli=["10213"])


def test_every_invalid_field_is_reported_at_once(ledger) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidValue) as e:
        ledger.register_business(SYSTEM, T0, nib="12", name=" ", scale="raksasa",
                                 region_code="3216", kbli=["4711"])
    assert {x.field for x in e.value.errors} == {"nib", "name", "scale", "region_code", "kbli"}


def test_the_large_party_must_be_besar_and_the_small_one_umkm(ledger) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidValue) as e:
        ledger.propose_partnership(SYSTEM, T0, uuid4(), large_nib=SMALL, umkm_nib=LARGE,
                                   pola="rantai_pasok", title="x", start_date=date(2024, 1, 1),
                                   location_region_code="32.16")
    assert {x.field for x in e.value.errors} == {"large_nib", "umkm_nib"}


def test_a_company_proposes_only_as_the_large_party(ledger) -> None:  # type: ignore[no-untyped-def]
    stranger = Principal("c2", Role.COMPANY, nibs=("3216000000009",))
    with pytest.raises(Forbidden):
        ledger.propose_partnership(stranger, T0, uuid4(), large_nib=LARGE, umkm_nib=SMALL,
                                   pola="rantai_pasok", title="x", start_date=date(2024, 1, 1),
                                   location_region_code="32.16")


def test_the_same_idempotency_key_and_body_answers_the_first_partnership(ledger) -> None:  # type: ignore[no-untyped-def]
    first = propose(ledger, idempotency_key="erp-42")
    again = propose(ledger, idempotency_key="erp-42")
    assert (again.id, again.repeat, again.position) == (first.id, True, None)
    with pytest.raises(DuplicateKey):
        propose(ledger, idempotency_key="erp-42", title="Another body")


def test_a_stale_expected_version_is_refused_and_records_nothing(ledger) -> None:  # type: ignore[no-untyped-def]
    w = propose(ledger)
    ledger.confirm(UMKM, T0, w.id, expected_version=1)
    with pytest.raises(StaleVersion):
        ledger.amend(COMPANY, T0, w.id, changes={"title": "Baru"}, expected_version=1)
    assert ledger.get_partnership(COMPANY, w.id).version == 2


def test_outside_the_scope_a_partnership_does_not_exist(ledger) -> None:  # type: ignore[no-untyped-def]
    w = propose(ledger)
    for who in (Principal("d", Role.DINAS, region="33.17"),
                Principal("u", Role.UMKM, nibs=(OTHER,))):
        with pytest.raises(NotFound):
            ledger.get_partnership(who, w.id)
        with pytest.raises((NotFound, Forbidden)):
            ledger.confirm(who, T0, w.id)


def test_time_travel_by_version_and_by_recorded_instant(ledger) -> None:  # type: ignore[no-untyped-def]
    w = propose(ledger)
    ledger.confirm(UMKM, T0 + timedelta(days=1), w.id)
    ledger.suspend(COMPANY, T0 + timedelta(days=10), w.id, reason="renovasi",
                   effective_date=date(2024, 2, 11))
    assert ledger.get_partnership(DINAS, w.id, version=2).status == "active"
    assert ledger.get_partnership(DINAS, w.id, as_of=T0 + timedelta(days=5)).status == "active"
    assert ledger.get_partnership(DINAS, w.id, as_of=T0).status == "proposed"
    assert ledger.get_partnership(DINAS, w.id).status == "suspended"
    with pytest.raises(NotFound):
        ledger.get_partnership(DINAS, w.id, as_of=T0 - timedelta(seconds=1))
    with pytest.raises(NotFound):
        ledger.get_partnership(DINAS, w.id, version=9)


def test_long_streams_are_snapshotted_and_load_the_same(ledger, container) -> None:  # type: ignore[no-untyped-def]
    w = propose(ledger)
    ledger.confirm(UMKM, T0, w.id)
    for i in range(60):
        ledger.amend(COMPANY, T0, w.id, changes={"value_idr": 1000 + i})
    snapshots = list(container.ledger.snapshots.get(w.id))
    assert [s.originator_version for s in snapshots] == [50]
    p = ledger.get_partnership(COMPANY, w.id)
    assert (p.version, p.value_idr) == (62, 1059)
    replayed = ledger.get_partnership(COMPANY, w.id, version=62)
    assert replayed.__dict__ == p.__dict__


def test_each_write_answers_the_global_position_of_its_event(ledger, container) -> None:  # type: ignore[no-untyped-def]
    w1 = propose(ledger)
    w2 = ledger.confirm(UMKM, T0, w1.id)
    assert w2.position == w1.position + 1
    assert container.event_log.positions(w1.id) == {1: w1.position, 2: w2.position}
    assert container.event_log.head() == w2.position


def test_a_revoked_token_no_longer_authenticates(container) -> None:  # type: ignore[no-untyped-def]
    w = container.ledger.issue_token(SYSTEM, T0, secret_sha256_hex="ab" * 32, role="auditor",
                                     region="", nibs=[], name="BPK")
    assert container.ledger.authenticate("ab" * 32).role is Role.AUDITOR
    container.ledger.revoke_token(SYSTEM, T0, w.id, reason="rotasi")
    assert container.ledger.authenticate("ab" * 32) is None
    assert isinstance(Partnership, type)


def test_an_idempotency_key_survives_a_token_rotation(ledger) -> None:  # type: ignore[no-untyped-def]
    first = propose(ledger, idempotency_key="erp-7")
    rotated = Principal("company-new-token", Role.COMPANY, nibs=(LARGE,))
    again = ledger.propose_partnership(rotated, T0, uuid4(), large_nib=LARGE, umkm_nib=SMALL,
                                       pola="perdagangan_umum", title="Rak UMKM",
                                       start_date=date(2024, 1, 1), location_region_code="32.16",
                                       idempotency_key="erp-7")
    assert (again.id, again.repeat) == (first.id, True)


def test_an_idempotency_key_belongs_to_the_large_party_whatever_other_nibs_a_token_holds(
        ledger) -> None:  # type: ignore[no-untyped-def]
    """A company token holding more NIBs repeats the proposal its single-NIB token made (and
    the other way round), and a key stored under the scope used until 2026-12-05 (the token's
    whole NIB set) is still honoured."""
    from domain.partnership import partnership_id_for_key

    group = Principal("company-group", Role.COMPANY, nibs=(LARGE, "3216000000002"))
    first = propose(ledger, idempotency_key="erp-8")
    again = ledger.propose_partnership(group, T0, uuid4(), large_nib=LARGE, umkm_nib=SMALL,
                                       pola="perdagangan_umum", title="Rak UMKM",
                                       start_date=date(2024, 1, 1), location_region_code="32.16",
                                       idempotency_key="erp-8")
    assert (again.id, again.repeat) == (first.id, True)
    # the older scope: a proposal stored under "idem:<sorted NIBs of the token>"
    from domain.use_cases.partnerships import _hash_body

    body = dict(large_nib=LARGE, umkm_nib=SMALL, pola="perdagangan_umum", program=None,
                title="Rak UMKM", start_date=date(2024, 1, 1), end_date=None, value_idr=None,
                location_region_code="32.16", description=None)
    legacy_id = partnership_id_for_key(f"idem:{LARGE},3216000000002", "erp-9")
    ledger._save(ledger._new_partnership(group, T0, legacy_id, body, external_ref=None,
                                         request_hash=_hash_body(body)))
    again = ledger.propose_partnership(group, T0, uuid4(), idempotency_key="erp-9", **{
        k: v for k, v in body.items() if v is not None})
    assert (again.id, again.repeat) == (legacy_id, True)


def test_a_repeated_proposal_answers_its_first_answer_after_the_partnership_moved_on(
        ledger) -> None:  # type: ignore[no-untyped-def]
    first = propose(ledger, idempotency_key="erp-10")
    ledger.confirm(UMKM, T0, first.id)
    again = propose(ledger, idempotency_key="erp-10")
    assert (again.id, again.version, again.status, again.repeat) == (
        first.id, first.version, first.status, True)
    assert ledger.get_partnership(COMPANY, first.id).status == "active"


def test_a_token_speaks_only_for_registered_businesses_of_the_right_scale(ledger) -> None:  # type: ignore[no-untyped-def]
    for role, nib, field_message in (("company", OTHER, "not a registered business"),
                                     ("company", SMALL, "not a besar business"),
                                     ("umkm", LARGE, "not a mikro, kecil or menengah")):
        with pytest.raises(InvalidValue) as e:
            ledger.issue_token(SYSTEM, T0, secret_sha256_hex="ef" * 32, role=role, region=None,
                               nibs=[nib], name="x")
        assert field_message in e.value.errors[0].message


def test_a_facts_evidence_is_confirmed_by_the_partnerships_own_events(ledger) -> None:  # type: ignore[no-untyped-def]
    """The index (a view, outside the domain) only names a partnership; the partnership's
    events must hold the file and name the business as a party. Without an index nothing is
    known, so any evidence id is refused."""
    pid = propose(ledger).id
    ledger.submit_evidence(COMPANY, T0, pid, evidence_id="ev-1", kind="perjanjian",
                           sha256="ab" * 32, size=10, media_type="application/pdf")
    fact = dict(name="commercial_area", value=Decimal("10"), unit="m2",
                effective_date=date(2024, 1, 1))
    for index in (lambda _: None,  # no index: nothing is known
                  lambda _: uuid4(),  # a partnership that does not exist
                  lambda _: propose(ledger).id):  # one that holds no such file
        with pytest.raises(InvalidValue) as refused:
            ledger.declare_fact(DINAS, T0, LARGE, evidence_id="ev-1", evidence_partnership=index,
                                **fact)
        assert [e.field for e in refused.value.errors] == ["evidence_id"]
    written = ledger.declare_fact(DINAS, T0, LARGE, evidence_id="ev-1",
                                  evidence_partnership=lambda _: pid, **fact)
    assert written.version == 2
    assert [f.evidence_id for f in ledger.get_business(DINAS, LARGE).facts] == ["ev-1"]

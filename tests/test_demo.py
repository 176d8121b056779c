"""The demo seeder (`kemitraan demo`): a fresh ledger gets four regions, every lifecycle state,
every review outcome, business dates on every event and working tokens, and is never seeded
twice.

Seeding writes about 3,800 events (seconds on SQLite, more on PostgreSQL), so each backend is
seeded once per module (`seeded`) and the tests only read it, except the token test, which runs
last and confirms one proposal (nothing the others check). On PostgreSQL the seeded ledger has a
database of its own: the function-scoped `settings` fixture truncates the shared one. `now` is
fixed so that "expired" does not drift.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from uuid import UUID

import pytest
import sqlalchemy as sa

from api.auth import secret_hash
from api.demo import (
    DEMO_COMPANY_NIB, LedgerNotEmpty, issue_demo_tokens, roles_without_token, seed,
)
from api.settings import Settings
from api.wiring import Container, build
from domain.access import SYSTEM, Role
from domain.business import Business
from domain.clock import jakarta_date
from domain.partnership import Partnership
from projections.tables import partnership_list
from tests.conftest import PG_HOST, PG_PORT, PG_USER, _admin_connect

NOW = datetime(2026, 6, 1, 3, 0, tzinfo=timezone.utc)
TODAY = jakarta_date(NOW)
FIRST_DAY, DATA_UNTIL = date(2023, 1, 1), date(2025, 12, 31)


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    url = None
    if request.param == "postgresql":
        request.getfixturevalue("pg_database")  # skips (or fails under CI) without a server
        name = f"kemitraan_demo_{uuid.uuid4().hex[:12]}"
        with _admin_connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

        def drop() -> None:
            with _admin_connect() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        request.addfinalizer(drop)
        url = f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    container = build(Settings(data_dir=tmp_path_factory.mktemp("demo") / "var",
                               database_url=url, max_upload_bytes=64 * 1024,
                               log_format="json"))
    try:
        seed(container, NOW)
        container.views.catch_up()
        yield container
    finally:
        container.close()


@pytest.fixture(scope="module")
def events(seeded: Container) -> list[object]:
    """Every event of the freshly seeded ledger, in order."""
    ledger = seeded.ledger
    return [ledger.mapper.to_domain_event(n)
            for n in ledger.recorder.select_notifications(start=1, limit=100_000)]


@pytest.fixture(scope="module")
def partnerships(seeded: Container) -> list[Partnership]:
    with seeded.engine.connect() as conn:
        ids = conn.execute(sa.select(partnership_list.c.id)
                           .order_by(partnership_list.c.created_seq)).scalars().all()
    return [seeded.ledger.get_partnership(SYSTEM, UUID(i)) for i in ids]


def test_a_seeded_ledger_has_businesses_in_all_four_regions_and_every_lifecycle_status(
        events: list[object], partnerships: list[Partnership]) -> None:
    registered = [e for e in events if isinstance(e, Business.Registered)]
    umkm = Counter(e.region_code[:5] for e in registered if e.scale != "besar")
    besar = Counter(e.region_code[:5] for e in registered if e.scale == "besar")
    assert umkm["32.16"] == 162  # every UMKM Juara participant
    assert (umkm["64.71"], besar["64.71"]) == (60, 20)  # 15 communities; hotels, shops, malls
    assert umkm["33.24"] >= 10 and besar["33.24"] >= 5
    assert umkm["33.17"] >= 20 and besar["33.17"] >= 3
    assert all(len(e.nib) == 13 and e.nib.isdigit() for e in registered)
    assert all("(sampel)" in e.name for e in registered if e.scale == "besar")

    by_region = Counter(p.location_region_code[:5] for p in partnerships)
    assert by_region["33.24"] == 0  # the Kendal estate's tenants have no partnership yet
    assert min(by_region["64.71"], by_region["33.17"], by_region["32.16"]) >= 20
    assert 40 <= by_region["64.71"] <= 80

    statuses = Counter(p.effective_status(TODAY) for p in partnerships)
    assert set(statuses) == {"proposed", "active", "declined", "withdrawn", "suspended",
                             "terminated", "expired"}, statuses
    assert any(p.status == "active" and [s for s, _ in p.status_periods][-3:] ==
               ["active", "suspended", "active"] for p in partnerships), "none was resumed"
    amendments = [e for e in events if isinstance(e, Partnership.Amended)]
    assert len({e.originator_id for e in amendments}) >= 2
    assert any("description" in e.changes for e in amendments)
    assert {p.program for p in partnerships} >= {"penempatan_ritel", "rantai_pasok_industri",
                                                 "bapak_angkat"}
    assert all(p.start_date.year <= 2026 for p in partnerships)
    assert any(p.start_date.year == 2023 for p in partnerships)


def test_a_seeded_ledger_holds_every_review_outcome_naik_kelas_an_affiliation_and_facts(
        seeded: Container, events: list[object], partnerships: list[Partnership]) -> None:
    evidence = [e for p in partnerships for e in p.evidence.values()]
    decisions = Counter(e.review["decision"] if e.review else "pending" for e in evidence)
    assert set(decisions) == {"verified", "rejected", "pending"}, decisions
    assert {e.kind for e in evidence} >= {"perjanjian", "invoice", "delivery_note",
                                          "shelf_photo", "mentoring_log", "purchase_order",
                                          "payment_proof"}
    assert {e.media_type for e in evidence} >= {"application/pdf", "image/png", "image/jpeg",
                                                "text/csv"}
    assert all(seeded.evidence.exists(e.sha256) for e in evidence)

    def agreements(p: Partnership) -> list[str | None]:
        return [e.review["decision"] if e.review else None for e in p.evidence.values()
                if e.kind == "perjanjian"]
    assert any(agreements(p)[:2] == ["rejected", "verified"] for p in partnerships)

    def counted(p: Partnership, evidence_ids: list[str]) -> bool:
        return bool(evidence_ids) and all(
            (p.evidence[i].review or {}).get("decision") == "verified" for i in evidence_ids)
    realizations = [(p, r) for p in partnerships for r in p.realizations.values()]
    assert any(counted(p, r.evidence_ids) for p, r in realizations)
    assert any(p.evidence[i].review is None for p, r in realizations for i in r.evidence_ids)
    assert any(r.unit == "session" for _, r in realizations)
    assert any(r.unit == "kg" and r.value_idr for _, r in realizations)
    assert any(r.period_start.year == 2024 for _, r in realizations)

    partnerships_of_file: Counter[str] = Counter()
    for p in partnerships:
        for sha in {e.sha256 for e in p.evidence.values()}:
            partnerships_of_file[sha] += 1
    assert max(partnerships_of_file.values()) >= 2, "no file was reused as evidence"

    of_businesses = [e for e in events if isinstance(e, Business.Event)]
    moves = {(e.from_scale, e.to_scale) for e in of_businesses
             if isinstance(e, Business.ScaleChanged)}
    assert ("mikro", "kecil") in moves
    assert any(to == "besar" for _, to in moves)
    affiliations = [e for e in of_businesses if isinstance(e, Business.AffiliationDeclared)]
    assert affiliations
    owner_nib = _nib_of(of_businesses, affiliations[0])
    assert any(p.large_nib == owner_nib and p.umkm_nib == affiliations[0].umkm_nib
               for p in partnerships), "the owned UMKM is not a partner"
    facts = {(e.name, e.unit) for e in of_businesses if isinstance(e, Business.FactDeclared)}
    assert {("commercial_area", "m2"), ("listed_products", "sku")} <= facts


def _nib_of(events: list[Business.Event], event: Business.Event) -> str:
    return next(e.nib for e in events if isinstance(e, Business.Registered)
                and e.originator_id == event.originator_id)


def test_evidence_reviews_and_realizations_carry_business_dates_not_the_seeding_day(
        events: list[object], partnerships: list[Partnership]) -> None:
    submitted = {e.evidence_id: e for e in events if isinstance(e, Partnership.EvidenceSubmitted)}
    reviews = [e for e in events if isinstance(e, Partnership.EvidenceReviewed)]
    reported = [e for e in events if isinstance(e, Partnership.RealizationReported)]
    dated = [*submitted.values(), *reviews, *reported]
    assert all(FIRST_DAY <= day(e) <= DATA_UNTIL for e in dated)
    assert TODAY not in {day(e) for e in dated}
    assert len({day(e) for e in reviews}) > 100  # spread over the years, not one day

    for e in submitted.values():  # a few days after the period covered (at most DATA_UNTIL)
        if e.period_end:
            end = date.fromisoformat(e.period_end)
            assert end <= day(e) <= end + timedelta(days=45), e
    start = {p.id: p.start_date for p in partnerships}
    assert all(abs((day(e) - start[e.originator_id]).days) <= 60
               for e in submitted.values() if e.kind == "perjanjian")  # around the signing
    delays = [(day(e) - day(submitted[e.evidence_id])).days for e in reviews]
    assert min(delays) >= 1 and max(delays) >= 21  # days to weeks after submission
    assert all(FIRST_DAY.isoformat() <= item.review["effective_date"] <= DATA_UNTIL.isoformat()
               for p in partnerships for item in p.evidence.values() if item.review)
    for e in reported:  # after the period, with (or after) the last of its evidence
        assert day(e) >= date.fromisoformat(e.period_end)
        assert all(day(submitted[i]) <= day(e) for i in e.evidence_ids)


def day(event: Partnership.Event) -> date:
    return date.fromisoformat(event.effective_date)


def test_demo_tokens_authenticate_with_their_roles_and_a_second_seeding_is_refused(
        seeded: Container) -> None:
    tokens = issue_demo_tokens(seeded, NOW)
    assert [role for role, _, _ in tokens] == ["admin", "dinas", "auditor", "company", "umkm"]
    who = {role: seeded.ledger.authenticate(secret_hash(secret)) for role, _, secret in tokens}
    assert all(who[role] is not None and who[role].role is Role(role) for role in who)
    assert who["dinas"].region == "32.16" and who["dinas"].name == "DPMPTSP Kab. Bekasi"
    assert who["auditor"].region == ""
    assert who["company"].nibs == (DEMO_COMPANY_NIB,)
    assert len(who["umkm"].nibs) == 1

    with seeded.engine.connect() as conn:
        rows = conn.execute(sa.select(partnership_list)).all()
    assert sum(r.large_nib == DEMO_COMPANY_NIB for r in rows) >= 10
    waiting = [r for r in rows if r.umkm_nib == who["umkm"].nibs[0] and r.status == "proposed"]
    assert waiting and waiting[0].large_nib == DEMO_COMPANY_NIB

    # The UMKM token can do what it was handed out for; the next start picks another UMKM.
    seeded.ledger.confirm(who["umkm"], NOW, UUID(waiting[0].id), note="Setuju.")
    again = dict((role, secret) for role, _, secret in issue_demo_tokens(seeded, NOW))
    assert seeded.ledger.authenticate(secret_hash(again["umkm"])).nibs != who["umkm"].nibs
    assert seeded.ledger.authenticate(secret_hash(tokens[0][2])) is not None  # old ones live on

    head = seeded.event_log.head()
    with pytest.raises(LedgerNotEmpty):
        seed(seeded, NOW)
    assert seeded.event_log.head() == head


def test_seeding_refuses_a_ledger_that_already_holds_an_event(
        container, clock) -> None:  # type: ignore[no-untyped-def]
    clock.now = NOW
    tokens = issue_demo_tokens(container, clock.now)  # no demo businesses: three tokens only
    assert [role for role, _, _ in tokens] == ["admin", "dinas", "auditor"]
    missing = roles_without_token(tokens)  # and `kemitraan demo` says why, and how to get one
    assert [role for role, _ in missing] == ["company", "umkm"]
    for role, why in missing:
        assert "no demo company" in why and f"kemitraan token create --role {role} --nib" in why
    head = container.event_log.head()
    with pytest.raises(LedgerNotEmpty):
        seed(container, clock.now)
    assert container.event_log.head() == head


def test_a_demo_company_without_partnerships_gets_a_token_and_the_umkm_a_reason(
        container, clock) -> None:  # type: ignore[no-untyped-def]
    clock.now = NOW
    container.ledger.register_business(SYSTEM, NOW, nib=DEMO_COMPANY_NIB, name="PT Contoh",
                                       scale="besar", region_code="32.16", kbli=["47111"])
    tokens = issue_demo_tokens(container, NOW)
    assert [role for role, _, _ in tokens] == ["admin", "dinas", "auditor", "company"]
    [(role, why)] = roles_without_token(tokens)
    assert role == "umkm" and "has no partnership" in why
    assert "kemitraan token create --role umkm --nib" in why


def test_the_year_the_demo_points_the_dashboard_to_has_real_partnerships(
        seeded: Container) -> None:
    """`kemitraan demo` prints the dashboard for the demo's last year (`?tahun=`, from
    `api.demo.dates.DATA_UNTIL`): what a new user sees first must not be a funnel of zeros,
    nationally and in each region with partnerships (Kendal's estate has none, by design)."""
    from api.demo import dates
    from projections.real_partnerships import funnel

    year = (date(dates.DATA_UNTIL.year, 1, 1), date(dates.DATA_UNTIL.year, 12, 31))
    with seeded.engine.connect() as conn:
        for region in (None, "64.71", "33.17", "32.16"):
            _, totals = funnel(conn, region=region, date_from=year[0], date_to=year[1])
            assert totals["real"] > 0, (region, totals)

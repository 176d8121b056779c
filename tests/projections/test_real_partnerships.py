"""The real_partnerships view and its funnel, on SQLite and PostgreSQL: histories written through
the use cases, figures read with `funnel`, and checked against `domain.reality.assess`."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest

from domain.access import SYSTEM
from domain.reality import assess, facts_from_partnership, party_from_businesses
from domain.values import KNOWN_PROGRAMS, Pola
from projections.real_partnerships import FIGURES, funnel

T0 = datetime(2024, 1, 2, 3, 0, tzinfo=timezone.utc)
D = date.fromisoformat
L1, L2 = "3216000000001", "3317000000001"
U1, U2, U3 = "3216010000001", "3216020000001", "3317010000001"
Q1 = (D("2024-01-01"), D("2024-03-31"))
YEAR = (D("2024-01-01"), D("2024-12-31"))


class World:
    def __init__(self, container) -> None:  # type: ignore[no-untyped-def]
        self.c = container
        self.lg = container.ledger
        self.ids: list = []
        for nib, scale, region in ((L1, "besar", "32.16"), (L2, "besar", "33.17"),
                                   (U1, "mikro", "32.16.01"), (U2, "kecil", "32.16.02"),
                                   (U3, "mikro", "33.17.01")):
            self.lg.register_business(SYSTEM, T0, nib=nib, name=f"Usaha {nib}", scale=scale,
                                      region_code=region, kbli=["47111"],
                                      effective_date=D("2020-01-01"))

    def propose(self, large: str, umkm: str, *, pola: str = "rantai_pasok",
                program: str | None = "penempatan_ritel", start: str = "2024-01-01",
                end: str | None = "2024-12-31", value: int | None = 100,
                location: str = "32.16.01"):  # type: ignore[no-untyped-def]
        w = self.lg.propose_partnership(SYSTEM, T0, uuid4(), large_nib=large, umkm_nib=umkm,
                                        pola=pola, program=program, title="Kontrak",
                                        start_date=D(start), end_date=D(end) if end else None,
                                        value_idr=value, location_region_code=location)
        self.ids.append(w.id)
        return w.id

    def evidence(self, pid, kind: str = "perjanjian", decision: str | None = "verified") -> str:  # type: ignore[no-untyped-def]
        eid = str(uuid4())
        self.lg.submit_evidence(SYSTEM, T0, pid, evidence_id=eid, kind=kind, sha256="ab" * 32,
                                size=10, media_type="application/pdf")
        if decision:
            self.lg.review_evidence(SYSTEM, T0, pid, evidence_id=eid, decision=decision,
                                    reason="tidak sah" if decision == "rejected" else None)
        return eid

    def realize(self, pid, start: str, end: str, value: int = 10,  # type: ignore[no-untyped-def]
                decision: str | None = "verified") -> None:
        eid = self.evidence(pid, "invoice", decision)
        self.lg.report_realization(SYSTEM, T0, pid, realization_id=str(uuid4()),
                                   period_start=D(start), period_end=D(end), value_idr=value,
                                   evidence_ids=[eid])

    def real(self, large: str, umkm: str, **kw):  # type: ignore[no-untyped-def]
        pid = self.propose(large, umkm, **kw)
        self.lg.confirm(SYSTEM, T0, pid)
        self.evidence(pid)
        self.realize(pid, "2024-02-01", "2024-02-29")
        return pid

    def funnel(self, period=YEAR, region: str | None = None, group_by: str = "pola",  # type: ignore[no-untyped-def]
               scope: dict | None = None):
        self.c.views.catch_up()
        with self.c.engine.connect() as conn:
            return funnel(conn, region=region, date_from=period[0], date_to=period[1],
                          group_by=group_by, scope=scope or {})


@pytest.fixture
def world(container) -> World:  # type: ignore[no-untyped-def]
    return World(container)


def by_key(groups: list[dict]) -> dict:
    return {g["key"]: g for g in groups}


def test_an_empty_ledger_reports_every_pola_and_known_program_as_zero(world: World) -> None:
    groups, totals = world.funnel()
    assert [g["key"] for g in groups] == [p.value for p in Pola]
    assert all(g[f] == 0 for g in groups for f in FIGURES)
    assert totals == {f: 0 for f in FIGURES}
    groups, _ = world.funnel(group_by="program")
    assert [g["key"] for g in groups] == list(KNOWN_PROGRAMS)
    assert world.funnel(group_by="region")[0] == []


def test_the_funnel_counts_each_stage_and_a_relationship_once(world: World) -> None:
    world.real(L1, U1, value=100)
    world.real(L1, U1, value=50)  # the same pair and pola, reported twice
    confirmed = world.propose(L1, U2, pola="subkontrak")
    world.lg.confirm(SYSTEM, T0, confirmed)
    world.evidence(confirmed, decision="rejected")
    withdrawn = world.propose(L2, U3, location="33.17.01")
    world.lg.withdraw(SYSTEM, T0, withdrawn, reason="batal")
    world.propose(L2, U3, location="33.17.01", program="pembinaan_desa")  # reported only
    groups, totals = world.funnel()
    assert totals == dict(reported=4, confirmed=3, documented=2, real=2, real_relationships=1,
                          large_partners=1, umkm_partners=1, agreement_value_idr=150,
                          realization_value_idr=20)
    pola = by_key(groups)
    assert (pola["rantai_pasok"]["reported"], pola["rantai_pasok"]["real"]) == (3, 2)
    assert (pola["subkontrak"]["confirmed"], pola["subkontrak"]["documented"]) == (1, 0)
    assert pola["waralaba"] == {"key": "waralaba", **{f: 0 for f in FIGURES}}
    programs = by_key(world.funnel(group_by="program")[0])
    assert list(programs) == [*KNOWN_PROGRAMS, "pembinaan_desa"]
    assert programs["penempatan_ritel"]["reported"] == 3
    assert programs["bapak_angkat"]["reported"] == 0
    larges = by_key(world.funnel(group_by="large_nib")[0])
    assert (larges[L1]["real"], larges[L2]["reported"]) == (2, 1)


def test_the_region_prefix_matches_any_party_or_the_location_on_whole_segments(
        world: World) -> None:
    world.real(L1, U1, location="32.16.01")
    world.real(L2, U3, location="33.17.01")
    world.real(L1, U3, location="33.17.02")  # touches 32.16 through its large party
    assert world.funnel(region="32.16")[1]["real"] == 2
    assert world.funnel(region="33.17")[1]["real"] == 2
    assert world.funnel(region="33.17.02")[1]["real"] == 1
    assert world.funnel(region="32.1")[1]["reported"] == 0
    assert world.funnel(region="3")[1]["reported"] == 0
    regions = by_key(world.funnel(region="33.17", group_by="region")[0])
    assert {k: g["real"] for k, g in regions.items()} == {"33.17.01": 1, "33.17.02": 1}
    provinces = by_key(world.funnel(group_by="region")[0])
    assert {k: g["real"] for k, g in provinces.items()} == {"32": 1, "33": 2}
    scoped = world.funnel(scope={"touches_region": "32.16"})[1]
    assert scoped["real"] == 2


@pytest.mark.parametrize("scope, expected", [
    ({}, 3), ({"touches_region": ""}, 3), ({"touches_region": "32.16"}, 2),
    ({"touches_region": "33.17.02"}, 1), ({"touches_region": None}, 0),  # no region: nothing
    ({"large_nibs": [L2]}, 1), ({"umkm_nibs": [U3]}, 2), ({"umkm_nibs": []}, 0)])
def test_the_list_and_the_funnel_apply_one_scope_rule(world: World, scope, expected) -> None:  # type: ignore[no-untyped-def]
    """`domain.access.partnership_scope_filter`, as the list and the statistics read it: the
    same partnerships in both, and a dinas or auditor without a region sees none of them (as
    `Principal.in_region` decides for a single partnership)."""
    from projections import partnership_list

    real = {world.real(L1, U1, location="32.16.01"), world.real(L2, U3, location="33.17.01"),
            world.real(L1, U3, location="33.17.02")}
    assert world.funnel(scope=scope)[1]["real"] == expected
    with world.c.engine.connect() as conn:
        rows, _ = partnership_list.query(conn, scope=scope, today=D("2024-06-01"), limit=10)
    listed = {UUID(str(r.id)) for r in rows}
    assert len(listed) == expected and listed <= real


def test_a_term_outside_the_period_is_not_reported_and_realizations_count_in_theirs(
        world: World) -> None:
    pid = world.real(L1, U1, start="2024-01-01", end="2024-06-30")
    world.realize(pid, "2024-05-01", "2024-05-31", value=7)
    assert world.funnel(period=Q1)[1]["realization_value_idr"] == 10
    assert world.funnel(period=(D("2024-04-01"), D("2024-06-30")))[1][
        "realization_value_idr"] == 7
    assert world.funnel(period=(D("2024-07-01"), D("2024-09-30")))[1]["reported"] == 0


def test_a_graduation_and_an_affiliation_recompute_the_pairs_partnerships(
        world: World) -> None:
    world.real(L1, U2, location="32.16.02")
    world.realize(world.ids[-1], "2024-08-01", "2024-08-31")
    world.real(L2, U3, location="33.17.01")
    world.realize(world.ids[-1], "2024-08-01", "2024-08-31")
    h2 = (D("2024-07-01"), D("2024-12-31"))
    assert world.funnel(period=h2)[1]["real"] == 2
    world.lg.change_scale(SYSTEM, T0, U2, scale="besar", effective_date=D("2024-07-01"))
    world.lg.declare_affiliation(SYSTEM, T0, L2, umkm_nib=U3, kind="owns",
                                 effective_date=D("2024-01-01"))
    assert world.funnel(period=h2)[1]["real"] == 0
    assert world.funnel(period=Q1)[1]["real"] == 1  # U2 was still kecil in Q1
    world.lg.end_affiliation(SYSTEM, T0, L2, umkm_nib=U3, ended_date=D("2024-07-31"))
    assert world.funnel(period=h2)[1]["real"] == 1  # real from August on


def test_the_sql_funnel_agrees_with_assess_for_random_histories_and_periods(
        world: World) -> None:
    rnd = random.Random(20240101)
    pairs = [(L1, U1), (L1, U2), (L2, U3), (L1, U3), (L2, U1)]
    locations = ["32.16.01", "32.16.02", "33.17.01", "33.17.05"]
    for i in range(30):
        large, umkm = rnd.choice(pairs)
        start = D("2024-01-01") + timedelta(days=rnd.randrange(0, 300))
        end = start + timedelta(days=rnd.randrange(10, 400)) if rnd.random() < 0.8 else None
        pid = world.propose(large, umkm, pola=rnd.choice(["rantai_pasok", "subkontrak"]),
                            program=rnd.choice([None, "bapak_angkat", "penempatan_ritel"]),
                            start=start.isoformat(), end=end and end.isoformat(),
                            value=rnd.choice([None, 100, 250]),
                            location=rnd.choice(locations))
        fate = rnd.random()
        if fate < 0.1:
            world.lg.withdraw(SYSTEM, T0, pid, reason="batal")
            continue
        if fate < 0.2:
            world.lg.decline(SYSTEM, T0, pid, reason="tidak")
            continue
        if fate < 0.3:
            continue
        world.lg.confirm(SYSTEM, T0, pid)
        if rnd.random() < 0.9:
            world.evidence(pid, decision=rnd.choice(["verified"] * 4 + ["rejected", None]))
        for _ in range(rnd.randrange(0, 4)):
            a = start + timedelta(days=rnd.randrange(0, 200))
            world.realize(pid, a.isoformat(), (a + timedelta(days=90)).isoformat(),
                          value=rnd.randrange(1, 100),
                          decision=rnd.choice(["verified"] * 3 + ["rejected", None]))
        day = start + timedelta(days=rnd.randrange(1, 100))
        if rnd.random() < 0.3 and (end is None or day < end):
            world.lg.suspend(SYSTEM, T0, pid, reason="renovasi", effective_date=day)
            if rnd.random() < 0.5:
                world.lg.resume(SYSTEM, T0, pid, effective_date=day + timedelta(days=40))
        if rnd.random() < 0.2:
            world.lg.terminate(SYSTEM, T0, pid, reason="selesai",
                               effective_date=day + timedelta(days=60))
        if i == 12:
            world.lg.change_scale(SYSTEM, T0, U2, scale="besar", effective_date=D("2024-09-01"))
        if i == 20:
            world.lg.declare_affiliation(SYSTEM, T0, L2, umkm_nib=U3, kind="controls",
                                         effective_date=D("2024-03-01"),
                                         ended_date=D("2024-10-31"))
    businesses = {n: world.lg.get_business(SYSTEM, n) for n in (L1, L2, U1, U2, U3)}
    all_facts = [facts_from_partnership(world.lg.get_partnership(SYSTEM, p))
                 for p in world.ids]
    reals = 0
    for _ in range(16):
        a = D("2024-01-01") + timedelta(days=rnd.randrange(0, 400))
        b = a + timedelta(days=rnd.randrange(0, 120))
        region = rnd.choice([None, "32.16", "33.17", "33.17.01"])
        expected = {f: 0 for f in FIGURES}
        rels, larges, umkms = set(), set(), set()
        for f in all_facts:
            codes = (f.large_region_code, f.umkm_region_code, f.location_region_code)
            if region and not any(c == region or c.startswith(region + ".") for c in codes):
                continue
            x = assess(f, party_from_businesses(businesses[f.umkm_nib], businesses[f.large_nib]),
                       a, b)
            if x.stage is None:
                continue
            expected["reported"] += 1
            expected["confirmed"] += x.stage in ("confirmed", "documented", "real")
            expected["documented"] += x.stage in ("documented", "real")
            if x.real:
                expected["real"] += 1
                rels.add((f.large_nib, f.umkm_nib, f.pola))
                larges.add(f.large_nib)
                umkms.add(f.umkm_nib)
                expected["agreement_value_idr"] += f.value_idr or 0
                expected["realization_value_idr"] += x.realization_value_idr
        expected.update(real_relationships=len(rels), large_partners=len(larges),
                        umkm_partners=len(umkms))
        groups, totals = world.funnel(period=(a, b), region=region)
        assert totals == expected, (a, b, region)
        assert sum(g["reported"] for g in groups) == totals["reported"]
        reals += totals["real"]
    assert reals >= 8  # the histories are not all trivially unreal


def test_a_rebuild_gives_the_same_figures(world: World) -> None:
    world.real(L1, U1)
    pid = world.real(L2, U3, location="33.17.01")
    world.lg.suspend(SYSTEM, T0, pid, reason="x", effective_date=D("2024-03-01"))
    before = world.funnel(period=Q1), world.funnel()
    world.c.views.rebuild(["real_partnerships"])
    assert (world.funnel(period=Q1), world.funnel()) == before


def test_a_subclass_of_a_partnership_event_folds_as_the_event_it_extends() -> None:
    """The view finds an event's fold by its class; a subclass (an upcast version of an event,
    say) must still fold as the class it extends, as an isinstance check would, not be
    skipped."""
    from domain.partnership import Partnership
    from projections.real_partnerships import _State, _apply

    class ConfirmedLater(Partnership.Confirmed):
        pass

    states = {"p": _State({"confirmed": False}, new=True)}
    _apply(states, "p", object.__new__(ConfirmedLater))  # the fold reads no field of it
    assert states["p"].row["confirmed"] is True

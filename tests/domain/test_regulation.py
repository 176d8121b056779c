"""Regulation: enact / amend / revoke as given/when/then, versions by effective date, and the
semantic pack checks a JSON schema cannot express."""

from __future__ import annotations

import copy
from datetime import date, datetime, timezone
from typing import Any

import pytest

from domain.base import project
from domain.errors import InvalidValue, TransitionForbidden
from domain.regulation import Regulation, regulation_id, validate_pack
from domain.values import Actor

NOW = datetime(2024, 5, 1, tzinfo=timezone.utc)
DINAS = Actor("token-dinas", "dinas")


def pack(**overrides: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "id": "perbup-bekasi-73-2020", "title": "Perbup Bekasi 73/2020", "instrument": "perbup",
        "region_code": "32.16", "effective_from": "2021-01-01", "effective_to": None,
        "source_url": "https://example.invalid", "obligations": [{
            "id": "ritel", "description": "x",
            "applies_to": {"scale": ["besar"], "kbli_prefix": ["4711"], "region_prefix": "32.16"},
            "measure": "real_partnerships",
            "partner_filter": {"scale": ["mikro"], "region_prefix": "32.16"},
            "period": "year", "at_least": 5}]}
    p.update(overrides)
    return p


def given(*steps: Any) -> Regulation:
    r = Regulation.enact(actor=DINAS, now=NOW, pack=pack())
    events = list(r.collect_events())
    for step in steps:
        step(r)
        events += r.collect_events()
    agg = project(None, events)
    assert isinstance(agg, Regulation)
    return agg


def test_enacted_is_version_1_with_the_whole_pack_and_a_derived_id():
    r = given()
    assert r.id == regulation_id("perbup-bekasi-73-2020") and r.version == 1
    assert r.pack == pack()
    assert r.version_in_force(date(2020, 12, 31)) is None
    assert r.version_in_force(date(2021, 1, 1)).number == 1


def test_amended_takes_effect_from_its_effective_from_and_closes_the_previous_version():
    r = given(lambda r: r.amend(DINAS, NOW, pack(effective_from="2024-01-01", title="v2")))
    [v1, v2] = r.versions
    assert (v1.effective_from, v1.effective_to) == (date(2021, 1, 1), date(2023, 12, 31))
    assert (v2.number, v2.effective_to, v2.pack["title"]) == (2, None, "v2")
    assert r.version_in_force(date(2023, 12, 31)).number == 1
    assert r.version_in_force(date(2024, 1, 1)).number == 2


def test_effective_to_ends_a_version():
    r = given(lambda r: r.amend(DINAS, NOW, pack(effective_from="2022-01-01",
                                                 effective_to="2022-12-31")))
    assert r.version_in_force(date(2022, 6, 1)).number == 2
    assert r.version_in_force(date(2023, 1, 1)) is None


def test_revoked_ends_the_regulation_the_day_before_its_effective_date():
    r = given(lambda r: r.revoke(DINAS, NOW, date(2025, 1, 1), "dicabut Perbup baru"))
    assert r.revoked and r.revoke_reason == "dicabut Perbup baru"
    assert r.version_in_force(date(2024, 12, 31)).number == 1
    assert r.version_in_force(date(2025, 1, 1)) is None


@pytest.mark.parametrize("step", [
    lambda r: r.amend(DINAS, NOW, pack(effective_from="2026-01-01")),
    lambda r: r.revoke(DINAS, NOW, date(2026, 1, 1), "lagi"),
])
def test_a_revoked_regulation_can_be_neither_amended_nor_revoked(step):
    r = given(lambda r: r.revoke(DINAS, NOW, date(2025, 1, 1), "dicabut"))
    with pytest.raises(TransitionForbidden):
        step(r)
    assert not r.pending_events


def test_an_amendment_before_the_previous_effective_from_is_forbidden():
    r = given()
    with pytest.raises(TransitionForbidden):
        r.amend(DINAS, NOW, pack(effective_from="2020-06-01"))


def test_an_amendment_with_another_pack_id_is_forbidden():
    r = given()
    with pytest.raises(TransitionForbidden):
        r.amend(DINAS, NOW, pack(id="perda-lain"))


@pytest.mark.parametrize("on", [date(2020, 6, 1), date(2022, 6, 1), date(2023, 12, 31)])
def test_a_revocation_may_not_precede_the_current_version(on):
    """Before the first version, or after it but before the current one: either would end the
    current version before it started."""
    r = given(lambda r: r.amend(DINAS, NOW, pack(effective_from="2024-01-01", title="v2")))
    with pytest.raises(InvalidValue) as e:
        r.revoke(DINAS, NOW, on, "dicabut")
    assert [x.field for x in e.value.errors] == ["effective_date"]
    assert "2024-01-01" in e.value.errors[0].message
    assert not r.pending_events and not r.revoked


def test_a_revocation_on_the_day_the_current_version_starts_is_allowed():
    r = given(lambda r: r.amend(DINAS, NOW, pack(effective_from="2024-01-01")),
              lambda r: r.revoke(DINAS, NOW, date(2024, 1, 1), "dicabut"))
    assert [v.effective_to for v in r.versions] == [date(2023, 12, 31), date(2023, 12, 31)]
    assert r.version_in_force(date(2024, 1, 1)) is None


def test_revoking_needs_a_reason():
    with pytest.raises(InvalidValue):
        given().revoke(DINAS, NOW, date(2025, 1, 1), " ")


def test_semantic_checks_name_the_json_path_of_every_problem():
    bad = pack(effective_to="2020-01-01")
    share = copy.deepcopy(bad["obligations"][0])
    share.update(measure="share", at_least=None)
    qty = copy.deepcopy(bad["obligations"][0])
    qty.update(id="q", measure="realization_quantity", at_least=-1)
    bad["obligations"] = [share, qty]
    with pytest.raises(InvalidValue) as e:
        validate_pack(bad)
    fields = {x.field for x in e.value.errors}
    assert fields == {"effective_to", "obligations[0].unit", "obligations[0].of_fact",
                      "obligations[0].at_least_pct", "obligations[1].at_least",
                      "obligations[1].unit"}
    with pytest.raises(InvalidValue):
        Regulation.enact(actor=DINAS, now=NOW, pack=bad)


# ---- the use cases on a real store (SQLite and PostgreSQL) -----------------------------------

def test_use_cases_scope_and_time_travel(container):
    from domain.access import Principal, Role
    from domain.errors import DuplicateKey, Forbidden, NotFound

    admin = Principal("a", Role.ADMIN)
    bekasi = Principal("d", Role.DINAS, region="32.16")
    rembang = Principal("r", Role.DINAS, region="33.17")
    auditor = Principal("x", Role.AUDITOR, region="32.16.01")
    company = Principal("c", Role.COMPANY, nibs=("3216000000001",))
    led = container.ledger
    w = led.enact_regulation(bekasi, NOW, pack())
    assert w.version == 1 and w.position
    with pytest.raises(DuplicateKey):
        led.enact_regulation(admin, NOW, pack())
    with pytest.raises(Forbidden):
        led.enact_regulation(rembang, NOW, pack(id="other", region_code="32.16"))
    with pytest.raises(Forbidden):
        led.enact_regulation(company, NOW, pack(id="other"))
    national = pack(id="permendag-23-2021", region_code="", instrument="permen")
    with pytest.raises(Forbidden):
        led.enact_regulation(bekasi, NOW, national)
    assert led.amend_regulation(bekasi, NOW, "perbup-bekasi-73-2020",
                                pack(effective_from="2024-01-01", title="v2")).version == 2
    with pytest.raises(NotFound):
        led.amend_regulation(rembang, NOW, "perbup-bekasi-73-2020", pack())
    assert led.get_regulation(auditor, "perbup-bekasi-73-2020", version=1).pack["title"] == \
        pack()["title"]
    assert led.get_regulation(company, "perbup-bekasi-73-2020").version == 2
    with pytest.raises(NotFound):
        led.get_regulation(rembang, "perbup-bekasi-73-2020")
    led.revoke_regulation(admin, NOW, "perbup-bekasi-73-2020", effective_date=date(2025, 1, 1),
                          reason="dicabut")
    with pytest.raises(TransitionForbidden):
        led.revoke_regulation(admin, NOW, "perbup-bekasi-73-2020",
                              effective_date=date(2025, 1, 1), reason="lagi")

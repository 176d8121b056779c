"""Two writers, one partnership, real threads: exactly one wins, the other gets a Conflict (409),
and no event is lost or doubled. Each race is repeated ROUNDS times, on SQLite and PostgreSQL.

Two ways to line the writers up:
- a `threading.Barrier` right before the calls, with both sending the same If-Match version: the
  loser fails whether it loses at the version check or at the store;
- a barrier *inside* the load (both threads have read version N before either saves), without
  If-Match: only the store's optimistic concurrency (unique stream version) can stop the second
  write, which is the lost-update property itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime, timezone
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from api.auth import secret_hash
from domain.errors import Conflict
from domain.partnership import Partnership
from tests.api.helpers import LARGE_A, REGION_A, UMKM_A, events, expect, post, propose, \
    register_business
from tests.conftest import bearer

ROUNDS = 20
NOW = datetime(2024, 3, 1, 3, 0, tzinfo=timezone.utc)


class Setup:
    def __init__(self, client: Any, container: Any, make_token: Any) -> None:
        self.client, self.ledger = client, container.ledger
        self.admin = make_token("admin")
        register_business(client, self.admin, LARGE_A, "besar", REGION_A)
        register_business(client, self.admin, UMKM_A, "kecil", REGION_A + ".01")
        self.company_token = make_token("company", nibs=[LARGE_A])
        umkm = make_token("umkm", nibs=[UMKM_A])
        self.company = self.ledger.authenticate(secret_hash(self.company_token))
        self.pid = propose(client, self.company_token, LARGE_A, UMKM_A, REGION_A)["id"]
        expect(post(client, umkm, self.pid, "confirm", {"effective_date": "2024-01-02"}), 200)

    def snapshot(self) -> tuple[int, int]:
        """(version via GET, number of events via /events)."""
        version = expect(self.client.get(f"/v1/partnerships/{self.pid}",
                                         headers=bearer(self.admin)), 200)["version"]
        return version, len(events(self.client, self.admin, self.pid))


@pytest.fixture
def setup(client, container, make_token) -> Setup:  # type: ignore[no-untyped-def]
    return Setup(client, container, make_token)


def race(*calls: Callable[[], Any], barrier: threading.Barrier | None = None) -> list[Any]:
    """Run the calls on their own threads, released together; returns each result or exception."""
    barrier = barrier or threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = call()
        except BaseException as e:  # noqa: BLE001 - the test inspects what each thread got
            results[i] = e

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    return results


def one_won(results: list[Any]) -> Any:
    """Exactly one result is a success, every other one a Conflict; returns the winner."""
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1, f"expected exactly one winner, got {results!r}"
    assert all(isinstance(e, Conflict) for e in losers), f"a loser failed otherwise: {losers!r}"
    return winners[0]


def test_two_amends_with_the_same_if_match_let_exactly_one_through_every_time(
        setup: Setup) -> None:
    ledger, pid = setup.ledger, UUID(setup.pid)
    for n in range(ROUNDS):
        version, count = setup.snapshot()
        results = race(*(
            (lambda who=who: ledger.amend(setup.company, NOW, pid,
                                          changes={"title": f"round {n} by {who}"},
                                          expected_version=version))
            for who in ("a", "b")))
        winner = one_won(results)
        assert winner.version == version + 1
        assert setup.snapshot() == (version + 1, count + 1)
        title = expect(setup.client.get(f"/v1/partnerships/{pid}", headers=bearer(setup.admin)),
                       200)["title"]
        assert title.startswith(f"round {n} by ")


def test_two_amends_that_both_read_the_same_version_cannot_both_be_recorded(
        setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    """No If-Match: both threads load version N (held at a barrier), then both save N+1."""
    ledger, pid = setup.ledger, UUID(setup.pid)
    original_take = ledger._take  # how a command obtains its aggregate (cache or store)
    loaded = threading.local()
    gate: dict[str, threading.Barrier | None] = {"barrier": None}

    def load_then_wait(cls: type, agg_id: UUID) -> Any:
        agg = original_take(cls, agg_id)
        barrier = gate["barrier"]
        if barrier is not None and cls is Partnership and not getattr(loaded, "done", False):
            loaded.done = True
            barrier.wait(timeout=10)
        return agg

    monkeypatch.setattr(ledger, "_take", load_then_wait)
    for n in range(ROUNDS):
        version, count = setup.snapshot()
        gate["barrier"] = threading.Barrier(2)

        def amend(who: str, n: int = n) -> Any:
            loaded.done = False
            return ledger.amend(setup.company, NOW, pid, changes={"value_idr": n * 10 + len(who)})

        results = race(lambda: amend("a"), lambda: amend("bb"))
        gate["barrier"] = None
        one_won(results)
        loser = next(r for r in results if isinstance(r, BaseException))
        assert "recorded first" in str(loser), "the loser was not stopped by the store"
        assert setup.snapshot() == (version + 1, count + 1)


def test_suspend_racing_terminate_lets_exactly_one_transition_through(
        setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    """Different transitions, both allowed from `active`: one is recorded, the other is a 409,
    and the partnership never ends up with both (suspended-then-terminated from stale state)."""
    ledger, pid = setup.ledger, UUID(setup.pid)
    admin = ledger.authenticate(secret_hash(setup.admin))
    for n in range(ROUNDS):
        version, count = setup.snapshot()
        day = date(2024, 2, 1).replace(day=1 + n)
        results = race(
            lambda: ledger.suspend(setup.company, NOW, pid, reason="audit", effective_date=day,
                                   expected_version=version),
            lambda: ledger.terminate(setup.company, NOW, pid, reason="selesai",
                                     effective_date=day, expected_version=version))
        winner = one_won(results)
        assert setup.snapshot() == (version + 1, count + 1)
        assert winner.status in ("suspended", "terminated")
        if winner.status == "terminated":
            # start the next round from an active partnership again: a new one, via HTTP
            setup.pid = propose(setup.client, setup.company_token, LARGE_A, UMKM_A, REGION_A,
                                title=f"Kontrak {n}")["id"]
            pid = UUID(setup.pid)
            ledger.confirm(admin, NOW, pid, effective_date=date(2024, 1, 2))
        else:
            ledger.resume(setup.company, NOW, pid, effective_date=day)


def test_two_http_clients_amending_with_the_same_if_match_get_one_200_and_one_409(
        app, setup: Setup) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app, raise_server_exceptions=False) as first, \
            TestClient(app, raise_server_exceptions=False) as second:
        for n in range(ROUNDS):
            version, count = setup.snapshot()
            headers = {**bearer(setup.company_token), "If-Match": f'"{version}"'}
            results = race(*(
                (lambda c=c, who=who: c.post(f"/v1/partnerships/{setup.pid}/amend",
                                             headers=headers,
                                             json={"title": f"HTTP round {n} by {who}"}))
                for c, who in ((first, "first"), (second, "second"))))
            statuses = sorted(r.status_code for r in results)
            assert statuses == [200, 409], [(r.status_code, r.text) for r in results]
            loser = next(r for r in results if r.status_code == 409)
            assert loser.headers["content-type"].startswith("application/problem+json")
            winner = next(r for r in results if r.status_code == 200).json()
            assert winner["version"] == version + 1
            assert setup.snapshot() == (version + 1, count + 1)

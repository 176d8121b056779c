"""Events are forever: events as v1 stored them must still load into today's aggregates.

`golden/v1_events.json` holds one stored record (topic + JSON state) of every released event
type. Never edit it: when an event changes, add `class_version` and an `upcast_v1_v2` to the
event class (ADR 0007) and this test keeps proving that the old records still load.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from uuid import UUID

from eventsourcing.domain import Aggregate, Snapshot
from eventsourcing.persistence import StoredEvent

from domain.access_token import AccessToken
from domain.application import Ledger
from domain.base import LedgerEvent, project
from domain.business import Business, business_id
from domain.partnership import Partnership
from domain.regulation import Regulation

GOLDEN = Path(__file__).parent / "golden" / "v1_events.json"


def load_golden() -> dict[UUID, list[object]]:
    mapper = Ledger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}).mapper
    streams: dict[UUID, list[object]] = {}
    for record in json.loads(GOLDEN.read_text()):
        stored = StoredEvent(originator_id=UUID(record["originator_id"]),
                             originator_version=record["originator_version"],
                             topic=record["topic"], state=record["state"].encode())
        event = mapper.to_domain_event(stored)
        streams.setdefault(event.originator_id, []).append(event)
    return streams


def test_every_released_event_type_has_a_stored_v1_sample() -> None:
    released = {json_topic["topic"] for json_topic in json.loads(GOLDEN.read_text())}
    defined = set()
    for aggregate in (Business, Partnership, AccessToken, Regulation):
        for name, value in vars(aggregate).items():
            if isinstance(value, type) and issubclass(value, LedgerEvent) and name != "Event" \
                    and "TOPIC" in vars(value):  # `Created` is an unused library default
                defined.add(value.TOPIC)
    assert defined == released, "a new event type needs a sample in golden/v1_events.json"


def test_v1_partnership_events_rebuild_the_partnership() -> None:
    streams = load_golden()
    p = project(None, streams[UUID("00000000-0000-4000-8000-000000000001")])
    assert isinstance(p, Partnership)
    assert (p.status, p.version, p.end_date, p.value_idr) == ("terminated", 9,
                                                               date(2025, 6, 30), 6_000_000)
    assert p.evidence["ev-1"].review["decision"] == "verified"
    assert p.realizations["r-1"].quantity == 12.5
    assert p.confirmed_on == date(2024, 1, 2)
    assert p.terminated_on == date(2025, 1, 1)
    declined = project(None, streams[UUID("00000000-0000-4000-8000-000000000002")])
    withdrawn = project(None, streams[UUID("00000000-0000-4000-8000-000000000003")])
    assert (declined.status, withdrawn.status) == ("declined", "withdrawn")  # type: ignore[union-attr]


def test_v1_business_and_token_events_rebuild_their_aggregates() -> None:
    streams = load_golden()
    large = project(None, streams[business_id("3216000000001")])
    small = project(None, streams[business_id("3216000000101")])
    assert isinstance(large, Business) and isinstance(small, Business)
    assert large.facts[0].value == Decimal("1250.5")
    assert large.latest_affiliation("3216000000102").ended_date == date(2024, 1, 1)  # type: ignore[union-attr]
    assert small.scale_on(date(2024, 1, 1)) == "kecil"
    tokens = [project(None, evs) for evs in streams.values()
              if isinstance(evs[0], AccessToken.Issued)]
    assert len(tokens) == 1 and tokens[0].revoked_at is not None  # type: ignore[union-attr]
    assert all(isinstance(t, Aggregate) for t in tokens)


def test_v1_regulation_events_rebuild_every_version_and_the_revocation() -> None:
    streams = load_golden()
    [regulation] = [project(None, evs) for evs in streams.values()
                    if isinstance(evs[0], Regulation.Enacted)]
    assert isinstance(regulation, Regulation)
    assert regulation.pack_id == "perbup-contoh-golden" and regulation.version == 3
    v2023, v2024 = (regulation.version_in_force(date(2023, 6, 1)),
                    regulation.version_in_force(date(2024, 6, 1)))
    assert v2023 is not None and v2024 is not None
    assert (v2023.number, v2023.pack["obligations"][0]["at_least"]) == (1, 5)
    assert (v2024.number, v2024.pack["obligations"][0]["at_least"]) == (2, 7)
    assert regulation.version_in_force(date(2025, 1, 1)) is None  # revoked from that day


def test_a_v1_business_snapshot_loads_with_its_affiliation_as_a_period() -> None:
    """Business v1 snapshots held affiliations as {umkm_nib: Affiliation}; v2 keeps a list of
    periods. `Business.upcast_v1_v2` turns an old snapshot into the new shape."""
    ledger = Ledger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    large = project(None, load_golden()[business_id("3216000000001")])
    assert isinstance(large, Business)
    snapshot = (getattr(Business, "Snapshot", None) or Snapshot).take(large)
    stored = ledger.mapper.to_stored_event(snapshot)
    state = json.loads(stored.state)
    assert state["state"].pop("class_version") == 2
    periods = state["state"]["affiliations"]
    state["state"]["affiliations"] = {p["_data_"]["umkm_nib"]: p for p in periods}  # v1 shape
    old = StoredEvent(originator_id=stored.originator_id,
                      originator_version=stored.originator_version, topic=stored.topic,
                      state=json.dumps(state).encode())
    loaded = ledger.mapper.to_domain_event(old).mutate(None)  # type: ignore[attr-defined]
    assert isinstance(loaded, Business)
    [period] = loaded.affiliation_periods("3216000000102")
    assert period.ended_date == date(2024, 1, 1)
    assert loaded.affiliated_with("3216000000102", date(2023, 12, 31))

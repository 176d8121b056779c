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

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent

from domain.access_token import AccessToken
from domain.application import Ledger
from domain.base import LedgerEvent, project
from domain.business import Business, business_id
from domain.partnership import Partnership

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
    for aggregate in (Business, Partnership, AccessToken):
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
    assert large.affiliations["3216000000102"].ended_date == date(2024, 1, 1)
    assert small.scale_on(date(2024, 1, 1)) == "kecil"
    tokens = [project(None, evs) for evs in streams.values()
              if isinstance(evs[0], AccessToken.Issued)]
    assert len(tokens) == 1 and tokens[0].revoked_at is not None  # type: ignore[union-attr]
    assert all(isinstance(t, Aggregate) for t in tokens)

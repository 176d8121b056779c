"""What every aggregate of the ledger shares: stable topics, the actor and the business date.

Event classes carry explicit `TOPIC` strings, so moving or renaming a module never breaks the
loading of stored events (ADR 0007). Dates inside events are ISO strings: the storage contract
stays plain JSON whatever the transcoder.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, TypeVar

from eventsourcing.domain import Aggregate

from domain.values import Actor

A = TypeVar("A", bound=Aggregate)


class LedgerEvent(Aggregate.Event):
    """Base of every stored event: who did it, and the business date it speaks of."""

    TOPIC = "kemitraan.LedgerEvent"
    actor_id: str
    actor_role: str
    effective_date: str

    @property
    def actor(self) -> Actor:
        return Actor(self.actor_id, self.actor_role)


def actor_fields(actor: Actor, effective_date: date, now: datetime) -> dict[str, Any]:
    """The fields every event gets, with the instant taken from the caller (never the clock)."""
    return {
        "actor_id": actor.principal_id,
        "actor_role": actor.role,
        "effective_date": effective_date.isoformat(),
        "timestamp": now,
    }


def opt_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def opt_iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def project(aggregate: A | None, events: Iterable[Any]) -> A | None:
    """A plain replay loop: the library's default checks a typing Protocol per event (slow)."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate

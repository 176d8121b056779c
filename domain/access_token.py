"""Access tokens as an aggregate: issued and revoked, kept in the ledger like everything else.

The aggregate id is derived from the SHA-256 of the secret, so authenticating a request is a
lookup by id and the secret itself is never stored (ADR 0004).
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.base import LedgerEvent, actor_fields
from domain.errors import TransitionForbidden
from domain.values import Actor

_NS = uuid5(NAMESPACE_URL, "https://kemitraan-ledger.example/token")


def token_id(secret_sha256_hex: str) -> UUID:
    return uuid5(_NS, secret_sha256_hex)


class AccessToken(Aggregate):
    TOPIC = "kemitraan.AccessToken"

    class Event(LedgerEvent):
        TOPIC = "kemitraan.AccessToken.Event"

    class Issued(Event, Aggregate.Created):
        TOPIC = "kemitraan.AccessToken.Issued"
        role: str
        region: str | None
        nibs: list[str]
        name: str

        def apply(self, t: AccessToken) -> None:
            t.role, t.region, t.nibs, t.name = self.role, self.region, list(self.nibs), self.name
            t.issued_at, t.revoked_at = self.timestamp, None

    class Revoked(Event):
        TOPIC = "kemitraan.AccessToken.Revoked"
        reason: str | None

        def apply(self, t: AccessToken) -> None:
            t.revoked_at = self.timestamp

    @classmethod
    def issue(cls, *, secret_sha256_hex: str, actor: Actor, now: datetime, on: date, role: str,
              region: str | None, nibs: list[str], name: str) -> AccessToken:
        return cls._create(cls.Issued, id=token_id(secret_sha256_hex),
                           **actor_fields(actor, on, now), role=role, region=region,
                           nibs=list(nibs), name=name)

    def revoke(self, actor: Actor, now: datetime, on: date, reason: str | None) -> None:
        if self.revoked_at is not None:
            raise TransitionForbidden("the token is already revoked")
        self.trigger_event(self.Revoked, **actor_fields(actor, on, now), reason=reason)

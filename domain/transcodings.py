"""JSON transcodings for the values kept in aggregate state, so snapshots can be stored.

Events themselves carry only JSON-native values (dates as ISO strings); snapshots carry the
aggregate's state, which holds dates and small dataclasses.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Transcoding

from domain.business import Affiliation, Fact, ScaleEntry
from domain.partnership import EvidenceItem, Realization


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class DataclassAsDict(Transcoding):
    def __init__(self, cls: type, name: str) -> None:
        self.type = cls
        self.name = name
        self._names = [f.name for f in fields(cls)]

    def encode(self, obj: Any) -> dict[str, Any]:
        return {n: getattr(obj, n) for n in self._names}

    def decode(self, data: dict[str, Any]) -> Any:
        return self.type(**data)


def register(transcoder: JSONTranscoder) -> None:
    transcoder.register(DateAsISO())
    for cls in (EvidenceItem, Realization, ScaleEntry, Fact, Affiliation):
        transcoder.register(DataclassAsDict(cls, f"kemitraan.{cls.__name__}"))

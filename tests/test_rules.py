"""Every example pack in rules/ passes the wire model and the domain's semantic checks, and says
where its numbers come from (illustrative thresholds say so)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.schemas.regulations import RulePack
from domain.regulation import validate_pack

RULES = sorted((Path(__file__).resolve().parents[1] / "rules").glob("*.json"))


def test_there_are_example_packs():
    assert len(RULES) >= 5


@pytest.mark.parametrize("path", RULES, ids=lambda p: p.stem)
def test_pack_loads_and_documents_its_sources(path: Path):
    raw = json.loads(path.read_text())
    data = RulePack.model_validate(raw).as_data()
    validate_pack(data)
    assert data["id"] == path.stem and data["source_url"].startswith("https://")
    for ob in data["obligations"]:
        assert ob.get("source_note"), ob["id"]
        if ob["illustrative"]:
            assert "ILLUSTRATIVE" in ob["source_note"], ob["id"]

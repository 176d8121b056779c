"""KEMITRAAN_PROJECTIONS=follow: a server that only reads the views, while another process
(`kemitraan project`, here a second runtime) folds them (ADR 0011, Lanes)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.wiring import build
from projections.registry import VIEWS
from projections.runtime import Runtime
from tests.api.helpers import LARGE_A, REGION_A, UMKM_A, expect, propose, register_business
from tests.conftest import bearer


@pytest.fixture
def follower(settings: Any, clock: Any) -> Any:
    container = build(settings.model_copy(update={"projections": "follow"}))
    with TestClient(create_app(container, clock=clock, run_projections=True),
                    raise_server_exceptions=False) as client:
        yield container, client
    container.close()


def test_a_following_server_waits_for_the_folding_process_and_never_folds_itself(
        follower: Any, make_token: Any) -> None:
    container, client = follower
    admin = make_token("admin")
    register_business(client, admin, LARGE_A, "besar", REGION_A)
    register_business(client, admin, UMKM_A, "mikro", REGION_A + ".01")
    company = make_token("company", nibs=[LARGE_A])
    created = propose(client, company, LARGE_A, UMKM_A, REGION_A)
    assert container.views.running and not container.views._threads

    # nobody folds: a plain read answers at position 0; one that needs the write waits, then 503
    page = expect(client.get("/v1/partnerships", headers=bearer(admin)), 200)
    assert page["position"] == 0 and page["items"] == []
    late = client.get("/v1/partnerships", params={"min_position": created["position"]},
                      headers=bearer(admin))
    assert late.status_code == 503 and late.headers["Retry-After"] == "1"
    assert container.views.position() == 0  # the server folded nothing itself

    # another process's runner folds: the same read now answers, at its position
    other = Runtime(container.ledger, container.engine, VIEWS, store_kind=container.store_kind)
    other.catch_up()
    page = expect(client.get("/v1/partnerships", params={"min_position": created["position"]},
                             headers=bearer(admin)), 200)
    assert page["position"] >= created["position"]
    assert [item["id"] for item in page["items"]] == [created["id"]]
    health = expect(client.get("/v1/health"), 200)
    assert health["projections_lag"] == 0

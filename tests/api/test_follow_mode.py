"""KEMITRAAN_PROJECTIONS=follow: a server that only reads the views, while another process
(`kemitraan project`, here a second runtime) folds them (ADR 0011, Lanes)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import audit
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


def test_a_following_server_signs_no_checkpoints_and_serves_those_the_folding_process_signs(
        follower: Any, container: Any, make_token: Any) -> None:
    """Only the process that folds the views signs (ADR 0014): several signers raced on each
    tree size. `container` stands for that other process (`kemitraan project`)."""
    server, client = follower
    admin = make_token("admin")
    register_business(client, admin, LARGE_A, "besar", REGION_A)
    assert not audit.checkpointer(server).running  # no signer thread in the follower
    # nor does it sign on request, nor register its key: nothing is signed yet
    nothing = client.get("/v1/audit/checkpoints/latest", headers=bearer(admin))
    assert nothing.status_code == 503 and nothing.headers["Retry-After"]
    assert expect(client.get("/v1/audit/keys", headers=bearer(admin)), 200) == []

    Runtime(container.ledger, container.engine, VIEWS, store_kind=container.store_kind).catch_up()
    signed = audit.checkpointer(container).sign()  # as `kemitraan project`'s signer does
    latest = expect(client.get("/v1/audit/checkpoints/latest", headers=bearer(admin)), 200)
    assert latest["tree_size"] == signed["tree_size"] > 0
    assert latest["key_id"] == signed["key_id"]
    keys = expect(client.get("/v1/audit/keys", headers=bearer(admin)), 200)
    assert [k["key_id"] for k in keys] == [signed["key_id"]]


def test_a_server_that_folds_the_views_signs(settings: Any, clock: Any) -> None:
    container = build(settings)
    try:
        with TestClient(create_app(container, clock=clock, run_projections=True)):
            assert audit.checkpointer(container).running
    finally:
        container.close()

"""PostgreSQL only: the runtime's ANALYZE of growing view tables never stalls a catch-up."""

from __future__ import annotations

import threading
from datetime import date
from uuid import uuid4

import pytest

from domain.access import SYSTEM
from projections.registry import VIEWS
from projections.runtime import Runtime
from tests.store.test_views_catch_up import T0, with_two_businesses


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def _tuples(container) -> float:  # type: ignore[no-untyped-def]
    with container.engine.connect() as conn:
        return conn.exec_driver_sql("SELECT reltuples FROM pg_class "
                                    "WHERE relname = 'view_partnership_list'").scalar()


def test_a_rebuild_skips_the_statistics_rather_than_wait_behind_a_vacuum(container) -> None:  # type: ignore[no-untyped-def]
    """A VACUUM holds the table's SHARE UPDATE EXCLUSIVE lock (an anti-wraparound one is never
    cancelled for others): the rebuild's ANALYZE gives up after 200 ms and the pages go on."""
    lg = with_two_businesses(container)
    for i in range(12):
        lg.propose_partnership(SYSTEM, T0, uuid4(), large_nib="3216000000001",
                               umkm_nib="3216000000101", pola="rantai_pasok",
                               title=f"Kontrak {i}", start_date=date(2024, 1, 1),
                               location_region_code="32.16")
    runtime = Runtime(lg, container.engine, VIEWS, store_kind="postgresql", page=1)
    runtime.setup()
    with container.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE view_partnership_list")  # empty: 0 tuples
    assert _tuples(container) == 0
    holder = container.engine.connect()
    tx = holder.begin()
    holder.exec_driver_sql("LOCK TABLE view_partnership_list IN SHARE UPDATE EXCLUSIVE MODE")
    done: list[int] = []
    worker = threading.Thread(target=lambda: done.append(runtime.rebuild()), daemon=True)
    try:
        worker.start()
        worker.join(timeout=30)
        finished_under_the_lock = list(done)
    finally:
        tx.rollback()
        holder.close()
        worker.join(timeout=30)
    assert finished_under_the_lock == [14], "the rebuild waited behind the lock"
    assert _tuples(container) == 0  # the analyze after page 8 was skipped, not waited for
    runtime.rebuild()  # nothing in the way now
    assert _tuples(container) == 6

"""Reads go through a store of their own (ADR 0022) — except where the store lives in the
process's memory, which a second factory would not share: there they read the ledger's own."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from domain.access import SYSTEM
from domain.application import Ledger

NOW = datetime(2024, 3, 1, 3, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("env", [{"PERSISTENCE_MODULE": "eventsourcing.popo"},
                                 {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                                  "SQLITE_DBNAME": ":memory:"}])
def test_an_in_memory_ledger_reads_what_it_wrote(env: dict[str, str]) -> None:
    ledger = Ledger(env=env)
    try:
        ledger.register_business(SYSTEM, NOW, nib="3216000000001", name="PT Contoh",
                                 scale="besar", region_code="32.16", kbli=["47111"],
                                 effective_date=date(2020, 1, 1))
        assert ledger.get_business(SYSTEM, "3216000000001").name == "PT Contoh"
        assert ledger.reads.events is ledger.events
    finally:
        ledger.close()


def test_a_ledger_in_a_file_reads_through_a_pool_of_its_own(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger = Ledger(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                         "SQLITE_DBNAME": str(tmp_path / "ledger.db")})
    try:
        ledger.register_business(SYSTEM, NOW, nib="3216000000001", name="PT Contoh",
                                 scale="besar", region_code="32.16", kbli=["47111"],
                                 effective_date=date(2020, 1, 1))
        assert ledger.get_business(SYSTEM, "3216000000001").name == "PT Contoh"
        assert ledger.reads.recorder is not ledger.recorder
        assert ledger.reads.recorder.datastore is not ledger.recorder.datastore
    finally:
        ledger.close()


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_on_postgresql_a_process_keeps_few_connections_open(container) -> None:  # type: ignore[no-untyped-def]
    """Each pool opens its minimum up front: the commands' two and the readers' one, growing
    on demand to 16 and 8 (a second pool per process must not crowd out PostgreSQL's default
    100 connections for two servers and `kemitraan project`)."""
    assert container.ledger.authenticate("00" * 32) is None  # opens the readers' pool
    commands = container.ledger.recorder.datastore.pool
    reads = container.ledger.reads.recorder.datastore.pool
    assert (commands.min_size, commands.max_size) == (2, 16)
    assert (reads.min_size, reads.max_size) == (1, 8)


def test_reads_take_their_own_settings_where_given(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger = Ledger(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                         "SQLITE_DBNAME": str(tmp_path / "ledger.db"),
                         "SQLITE_LOCK_TIMEOUT": "10", "READS_SQLITE_LOCK_TIMEOUT": "3"})
    try:
        assert ledger.reads.factory is not None
        assert ledger.reads.factory.env.get("SQLITE_LOCK_TIMEOUT") == "3"
        assert ledger.factory.env.get("SQLITE_LOCK_TIMEOUT") == "10"
    finally:
        ledger.close()

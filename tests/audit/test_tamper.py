"""Tampering with a real store by SQL is detected: `kemitraan audit check` on the live store, and
`kemitraan audit export` + `kemitraan audit verify` on the bundle, both name the first bad leaf
and exit non-zero. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from api.audit import checkpointer
from api.cli import app as cli
from domain.access import SYSTEM
from projections import audit_log

T0 = datetime(2024, 3, 1, 3, 0, tzinfo=timezone.utc)


def seed(container: Any) -> None:
    """Businesses, partnerships and evidence through the real use cases: 14 events."""
    lg = container.ledger
    for nib, scale, region in (("3216000000001", "besar", "32.16"),
                               ("3216010000002", "mikro", "32.16.01"),
                               ("3317000000001", "besar", "33.17"),
                               ("3317010000002", "kecil", "33.17.01")):
        lg.register_business(SYSTEM, T0, nib=nib, name=f"Usaha {nib} (sampel)", scale=scale,
                             region_code=region, kbli=["47111"])
    for large, umkm, region in (("3216000000001", "3216010000002", "32.16"),
                                ("3317000000001", "3317010000002", "33.17")):
        pid = uuid4()
        lg.propose_partnership(SYSTEM, T0, pid, large_nib=large, umkm_nib=umkm,
                               pola="rantai_pasok", program=None, title=f"Pasokan {umkm}",
                               start_date=date(2024, 1, 1), end_date=None, value_idr=1_000_000,
                               location_region_code=region, description=None)
        lg.confirm(SYSTEM, T0, pid)
        for i in range(3):
            lg.submit_evidence(SYSTEM, T0, pid, evidence_id=str(uuid4()), kind="invoice",
                               sha256=f"{i:064x}", size=10, media_type="application/pdf",
                               period_start=None, period_end=None, description=None)
    container.views.catch_up()


def cli_env(container: Any) -> dict[str, str]:
    s = container.settings
    env = {"KEMITRAAN_DATA_DIR": str(s.data_dir), "KEMITRAAN_LOG_FORMAT": "json"}
    if s.database_url:
        env["KEMITRAAN_DATABASE_URL"] = s.database_url
    return env


def run(container: Any, *args: str) -> Any:
    return CliRunner().invoke(cli, list(args), env=cli_env(container))


def source(container: Any) -> tuple[str, str]:
    return audit_log.raw_source(container.engine.dialect.name)


def seq_of(container: Any, leaf: int) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(sa.select(audit_log.leaves.c.seq).where(
            audit_log.leaves.c.leaf_index == leaf)).scalar_one())


def alter(container: Any, leaf: int) -> None:
    """UPDATE: change one field inside the stored record of a leaf (valid JSON still)."""
    table, id_col = source(container)
    seq = seq_of(container, leaf)
    with container.engine.begin() as conn:
        state = bytes(conn.execute(sa.text(f"SELECT state FROM {table} WHERE {id_col} = :s"),
                                   {"s": seq}).scalar_one())
        doc = json.loads(state)
        doc["effective_date"] = "1999-01-01"
        conn.execute(sa.text(f"UPDATE {table} SET state = :st WHERE {id_col} = :s"),
                     {"st": json.dumps(doc).encode(), "s": seq})


def delete(container: Any, leaf: int) -> None:
    table, id_col = source(container)
    with container.engine.begin() as conn:
        conn.execute(sa.text(f"DELETE FROM {table} WHERE {id_col} = :s"),
                     {"s": seq_of(container, leaf)})


def swap(container: Any, a: int, b: int) -> None:
    """Reorder: the events at two leaves trade places in the global order."""
    table, id_col = source(container)
    sa_, sb = seq_of(container, a), seq_of(container, b)
    with container.engine.begin() as conn:
        for frm, to in ((sa_, -1), (sb, sa_), (-1, sb)):
            conn.execute(sa.text(f"UPDATE {table} SET {id_col} = :to WHERE {id_col} = :frm"),
                         {"to": to, "frm": frm})


TAMPER = {
    "update": (lambda c: alter(c, 5), 5),
    "delete": (lambda c: delete(c, 7), 7),
    "swap": (lambda c: swap(c, 3, 9), 3),
    "delete-last": (lambda c: delete(c, 13), 13),
}


def first_bad(result: Any) -> int | None:
    m = re.search(r"first bad leaf: (\d+)", result.output + (result.stderr or ""))
    return int(m.group(1)) if m else None


def test_an_untouched_store_checks_and_verifies(container: Any, tmp_path: Path) -> None:
    seed(container)
    checkpointer(container).sign()
    result = run(container, "audit", "check")
    assert result.exit_code == 0, result.output
    assert "OK: 14 leaves" in result.output
    bundle = tmp_path / "bundle.jsonl"
    result = run(container, "audit", "export", "--out", str(bundle))
    assert result.exit_code == 0, result.output
    result = run(container, "audit", "verify", str(bundle))
    assert result.exit_code == 0, result.output
    assert "OK: 14 leaves (14 events shown)" in result.output


@pytest.mark.parametrize("kind", sorted(TAMPER))
def test_sql_tampering_is_detected_by_check_and_by_verify(
        container: Any, tmp_path: Path, kind: str) -> None:
    seed(container)
    checkpointer(container).sign()
    bundle_before = tmp_path / "before.jsonl"
    assert run(container, "audit", "export", "--out", str(bundle_before)).exit_code == 0
    tamper, bad_leaf = TAMPER[kind]
    tamper(container)

    checked = run(container, "audit", "check")
    assert checked.exit_code == 1, checked.output
    assert first_bad(checked) == bad_leaf, checked.output

    bundle = tmp_path / "after.jsonl"
    exported = run(container, "audit", "export", "--out", str(bundle))
    assert exported.exit_code == 0, exported.output
    verified = run(container, "audit", "verify", str(bundle))
    assert verified.exit_code == 1, verified.output
    assert first_bad(verified) == bad_leaf, verified.output
    assert f"kemitraan: audit verification failed: first bad leaf: {bad_leaf}" in \
        verified.stderr
    # the bundle exported before the tampering still verifies
    assert run(container, "audit", "verify", str(bundle_before)).exit_code == 0


def test_an_event_slipped_in_ahead_of_the_logged_ones_is_detected(
        container: Any, tmp_path: Path) -> None:
    """An INSERT with an id below the first event: a fabricated record in the past."""
    seed(container)
    checkpointer(container).sign()
    table, id_col = source(container)
    with container.engine.begin() as conn:
        row = conn.execute(sa.text(f"SELECT originator_id, originator_version, topic, state "
                                   f"FROM {table} WHERE {id_col} = :s"),
                           {"s": seq_of(container, 6)}).one()
        conn.execute(sa.text(f"INSERT INTO {table} (originator_id, originator_version, topic, "
                             f"state, {id_col}) VALUES (:o, :v, :t, :st, 0)"),
                     {"o": row.originator_id, "v": row.originator_version + 100,
                      "t": row.topic, "st": row.state})
    checked = run(container, "audit", "check")
    assert checked.exit_code == 1 and first_bad(checked) == 0, checked.output
    assert "not in the log" in checked.output
    bundle = tmp_path / "after.jsonl"
    assert run(container, "audit", "export", "--out", str(bundle)).exit_code == 0
    verified = run(container, "audit", "verify", str(bundle))
    assert verified.exit_code == 1 and first_bad(verified) == 0, verified.output

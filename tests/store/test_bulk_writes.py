"""The views' bulk writes (`insert_rows` is COPY on PostgreSQL, executemany on SQLite) store
every value exactly as given: text with tabs, newlines, backslashes, quotes and non-ASCII, bytes,
NULLs, dates, booleans and large integers."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from projections.tables import insert_rows, update_rows

_meta = sa.MetaData()
_table = sa.Table(
    "test_bulk_rows", _meta,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("text", sa.Text),
    sa.Column("blob", sa.LargeBinary),
    sa.Column("day", sa.Date),
    sa.Column("flag", sa.Boolean),
    sa.Column("amount", sa.BigInteger),
)

ROWS = [
    {"id": "a", "text": "tab\there, newline\nthere, CR\r, back\\slash \\N \\x00",
     "blob": b"\x00\x01\\\t\n\xff", "day": date(2024, 2, 29), "flag": True,
     "amount": 9_007_199_254_740_993},
    {"id": "b", "text": "kutip 'tunggal' \"ganda\" ; DROP TABLE x; -- Rp 1.000.000 — ✓ 日本",
     "blob": b"", "day": None, "flag": False, "amount": -1},
    {"id": "c", "text": None, "blob": None, "day": date(1, 1, 1), "flag": None, "amount": None},
    {"id": "d", "text": "", "blob": bytes(range(256)), "day": date(9999, 12, 31), "flag": True,
     "amount": 0},
]


def _read(engine: sa.Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_table).order_by(_table.c.id)).mappings().all()
    return [{**r, "blob": None if r["blob"] is None else bytes(r["blob"])} for r in rows]


def test_bulk_inserted_and_updated_rows_read_back_exactly(container) -> None:  # type: ignore[no-untyped-def]
    engine = container.engine
    _meta.create_all(engine)
    try:
        with engine.begin() as conn:
            insert_rows(conn, _table, [dict(r) for r in ROWS])
        assert _read(engine) == ROWS
        changed = [{"id": "a", "text": "b\\a\tr\n", "amount": 7},
                   {"id": "c", "text": "sekarang ada", "amount": None}]
        with engine.begin() as conn:
            update_rows(conn, _table, ["id"], changed)
        expected = {r["id"]: dict(r) for r in ROWS}
        for c in changed:
            expected[c["id"]].update(c)
        assert _read(engine) == [expected[k] for k in sorted(expected)]
    finally:
        _meta.drop_all(engine)


def test_a_bulk_insert_that_fails_leaves_nothing_of_its_page(container) -> None:  # type: ignore[no-untyped-def]
    engine = container.engine
    _meta.create_all(engine)
    try:
        try:
            with engine.begin() as conn:
                insert_rows(conn, _table, [dict(ROWS[0])])
                insert_rows(conn, _table, [dict(ROWS[1]), dict(ROWS[1])])  # duplicate key
        except sa.exc.IntegrityError:
            pass
        else:
            raise AssertionError("a duplicate key was accepted")
        assert _read(engine) == []
    finally:
        _meta.drop_all(engine)

"""The views' tables. One metadata, so `create_all` sets up every view and the tracking table."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

metadata = sa.MetaData()


CHUNK = 500  # values per IN list where the database takes no array parameter


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """`items` in slices of `size` (IN lists of bounded length)."""
    for i in range(0, len(items), size):
        yield items[i:i + size]


def batches(conn: sa.Connection, values: Sequence[Any]) -> list[Sequence[Any]]:
    """`values` for `in_values`: on PostgreSQL all in one batch (one array parameter takes any
    number), on SQLite in `chunks` (a statement takes a bounded number of parameters)."""
    if not values:
        return []
    return [values] if conn.dialect.name == "postgresql" else list(chunks(values))


def in_values(conn: sa.Connection, column: Any, values: Sequence[Any]) -> sa.ColumnElement[bool]:
    """`column IN values`; on PostgreSQL `column = ANY(array)` with a single parameter: the
    statement's text is then the same whatever the number of values, so SQLAlchemy's and
    psycopg's caches keep it, where an IN list of a different length each time was compiled
    and converted again (~4 ms for a list of 400 values; docs/benchmarks.md)."""
    if conn.dialect.name == "postgresql":
        return column == sa.func.any(sa.bindparam(None, list(values), type_=ARRAY(sa.Text)))
    return column.in_(values)


def region_within(column: sa.ColumnElement[str], prefix: str) -> sa.ColumnElement[bool]:
    """Whole-segment prefix match: `32.16` matches `32.16` and `32.16.01`, never `32.160`;
    the empty prefix (national) matches everything."""
    if prefix == "":
        return sa.true()
    return sa.or_(column == prefix, column.like(prefix + ".%"))


PARTY_REGIONS = ("large_region_code", "umkm_region_code", "location_region_code")


def touches_region(table: sa.Table, prefix: str,
                   within: Callable[[Any, str], sa.ColumnElement[bool]] = region_within,
                   ) -> sa.ColumnElement[bool]:
    """A partnership row touches a region when either party or its location lies in it
    (`domain.access.may_read_partnership`); the empty prefix (national) matches every row.
    `within`: how a column matches a prefix (`real_partnerships.in_region` is index-friendly)."""
    if prefix == "":
        return sa.true()
    return sa.or_(*(within(table.c[name], prefix) for name in PARTY_REGIONS))


def scope_conditions(scope: Mapping[str, Any], table: sa.Table,
                     within: Callable[[Any, str], sa.ColumnElement[bool]] = region_within,
                     ) -> list[sa.ColumnElement[bool]]:
    """The conditions on a view's partnership rows (columns `large_nib`, `umkm_nib` and
    PARTY_REGIONS) for a caller's scope, `domain.access.partnership_scope_filter`: the one
    rule every view read applies. A dinas or auditor without a region reads nothing, as in
    `Principal.in_region` (the empty region is national)."""
    where = []
    if "touches_region" in scope:
        prefix = scope["touches_region"]
        where.append(sa.false() if prefix is None else touches_region(table, prefix, within))
    if "large_nibs" in scope:
        where.append(table.c.large_nib.in_(scope["large_nibs"]))
    if "umkm_nibs" in scope:
        where.append(table.c.umkm_nib.in_(scope["umkm_nibs"]))
    return where


def reconcile_indexes(conn: sa.Connection, tables: Sequence[sa.Table]) -> list[str]:
    """Brings the secondary indexes (named `ix_...`) of existing view tables to what the code
    declares: creates the missing ones, drops the ones no longer declared. `create_all` only
    creates missing tables, so without this a release that changes a view's indexes would keep
    the old ones on every existing database. An index whose definition changes gets a new
    name. Returns what it did, for the log."""
    inspector = sa.inspect(conn)
    done: list[str] = []
    for table in tables:
        if not inspector.has_table(table.name):
            continue
        present = {ix["name"] for ix in inspector.get_indexes(table.name)
                   if (ix.get("name") or "").startswith("ix_")}
        declared = {ix.name: ix for ix in table.indexes}
        # IF [NOT] EXISTS: two processes starting together both see the old state
        for name in sorted(present - set(declared)):
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {_q(conn, name)}")
            done.append(f"dropped {name}")
        for name in sorted(set(declared) - present):
            conn.execute(sa.schema.CreateIndex(declared[name], if_not_exists=True))
            done.append(f"created {name}")
    return done


def _pg_type(column: sa.Column[Any], dialect: sa.engine.Dialect) -> str:
    """The PostgreSQL element type of a column's array parameter (collation aside)."""
    t = column.type
    for kind, name in ((sa.Boolean, "boolean"), (sa.BigInteger, "bigint"),
                       (sa.Integer, "integer"), (sa.Float, "float8"), (sa.Date, "date"),
                       (sa.String, "text")):
        if isinstance(t, kind):
            return name
    if isinstance(t, sa.DateTime):
        return "timestamptz" if t.timezone else "timestamp"
    return t.compile(dialect=dialect)


def insert_rows(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Inserts `rows` (dicts with the same keys) in bulk, in the connection's transaction.

    PostgreSQL: `COPY ... FROM STDIN` on the connection's own psycopg connection (psycopg's
    executemany sends one INSERT per row; an `INSERT ... SELECT FROM unnest(arrays)` spent a
    fifth of the audit view's catch-up quoting array literals). SQLite: the driver's
    executemany of positional tuples (in-process, no round trips, no variable limit).
    A key missing from a row is NULL, as in COPY."""
    if not rows:
        return
    names = list(dict.fromkeys(itertools.chain.from_iterable(rows)))  # every key, in C
    insert_tuples(conn, table, names, [tuple(map(r.get, names)) for r in rows])


def insert_tuples(conn: sa.Connection, table: sa.Table, names: Sequence[str],
                  rows: Sequence[tuple[Any, ...]]) -> None:
    """`insert_rows` of rows already in the order of the columns `names` (the hot writers:
    no dict per row, no scan of the keys)."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        sql, processors = _sqlite_insert(conn, table, tuple(names))
        params: Sequence[tuple[Any, ...]] = rows
        if processors:
            params = [tuple(v if v is None or f is None else f(v)
                            for v, f in zip(p, processors)) for p in rows]
        conn.exec_driver_sql(sql, params)
        return
    sql = f'COPY {_quote(conn, table)} ({", ".join(_q(conn, n) for n in names)}) FROM STDIN'
    driver = conn.connection.driver_connection
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        with driver.cursor() as cursor, cursor.copy(sql) as copy:  # type: ignore[union-attr]
            write = copy.write_row
            for r in rows:
                write(r)
    except dbapi_error as e:  # raised as SQLAlchemy raises its own (IntegrityError, ...)
        raise sa.exc.DBAPIError.instance(sql, None, e, dbapi_error) from e


_SQLITE_INSERTS: dict[tuple[sa.Table, tuple[str, ...]], tuple[str, list[Any] | None]] = {}


def _sqlite_insert(conn: sa.Connection, table: sa.Table, names: tuple[str, ...]
                   ) -> tuple[str, list[Any] | None]:
    """SQLite: the INSERT of `names` with positional parameters, and each column's bind
    processor (None where the value goes as it is; no list when none converts) — what
    `conn.execute(table.insert(), rows)` does per row, done once per table and columns:
    SQLAlchemy's parameter handling per row was about a sixth of a SQLite catch-up."""
    key = (table, names)
    found = _SQLITE_INSERTS.get(key)
    if found is None:
        dialect = conn.dialect
        processors = [table.c[n].type.dialect_impl(dialect).bind_processor(dialect)
                      for n in names]
        sql = (f"INSERT INTO {_quote(conn, table)} ({', '.join(_q(conn, n) for n in names)}) "
               f"VALUES ({', '.join('?' for _ in names)})")
        found = _SQLITE_INSERTS[key] = (sql, processors if any(processors) else None)
    return found


def update_rows(conn: sa.Connection, table: sa.Table, keys: list[str],
                rows: list[dict[str, Any]]) -> None:
    """Updates rows in bulk: each dict holds the key columns `keys` (which select the row) and
    the columns to set, every dict the same columns.

    PostgreSQL: ONE `UPDATE ... FROM unnest(arrays)` statement. SQLite: executemany."""
    if not rows:
        return
    names = [n for n in rows[0] if n not in keys]
    if conn.dialect.name != "postgresql":
        stmt = table.update().where(*(table.c[k] == sa.bindparam("_k_" + k) for k in keys)) \
            .values({n: sa.bindparam("_v_" + n) for n in names})
        conn.execute(stmt, [{**{"_k_" + k: r[k] for k in keys},
                             **{"_v_" + n: r[n] for n in names}} for r in rows])
        return
    allnames = keys + names
    columns = [table.c[n] for n in allnames]
    arrays = [[r.get(c.name) for r in rows] for c in columns]
    alias = ", ".join(f"c{i}" for i in range(len(allnames)))
    sets = ", ".join(f"{_q(conn, n)} = v.c{len(keys) + i}" for i, n in enumerate(names))
    where = " AND ".join(f"t.{_q(conn, k)} = v.c{i}" for i, k in enumerate(keys))
    sql = (f"UPDATE {_quote(conn, table)} AS t SET {sets} FROM unnest("
           f'{", ".join(f"%s::{_pg_type(c, conn.dialect)}[]" for c in columns)}) AS v({alias}) '
           f"WHERE {where}")
    conn.exec_driver_sql(sql, tuple(arrays))


def _q(conn: sa.Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _quote(conn: sa.Connection, table: sa.Table) -> str:
    return conn.dialect.identifier_preparer.format_table(table)


def write_rows(conn: sa.Connection, table: sa.Table, key: sa.Column,
               new: dict[str, dict[str, Any]], changed: dict[str, dict[str, Any]]) -> None:
    """A view page's writes in bulk: `new` rows inserted in one statement, `changed` rows
    ({key value: {column: value}}) updated with one statement per set of changed columns."""
    if new:
        insert_rows(conn, table, list(new.values()))
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for k, values in changed.items():
        by_columns.setdefault(tuple(sorted(values)), []).append({**values, key.name: k})
    for rows in by_columns.values():
        update_rows(conn, table, [key.name], rows)

tracking = sa.Table(
    "view_tracking", metadata,
    sa.Column("view", sa.String(64), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
)

partnership_list = sa.Table(
    "view_partnership_list", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("created_seq", sa.BigInteger, nullable=False, unique=True),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("large_nib", sa.String(13), nullable=False, index=True),
    sa.Column("umkm_nib", sa.String(13), nullable=False, index=True),
    sa.Column("pola", sa.String(40), nullable=False),
    sa.Column("program", sa.String(100)),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("end_date", sa.Date),
    sa.Column("value_idr", sa.BigInteger),
    sa.Column("location_region_code", sa.String(13), nullable=False),
    sa.Column("large_region_code", sa.String(13), nullable=False),
    sa.Column("umkm_region_code", sa.String(13), nullable=False),
    sa.Column("external_ref", sa.String(200)),
)

evidence_index = sa.Table(
    "view_evidence_index", metadata,
    sa.Column("evidence_id", sa.String(36), primary_key=True),
    sa.Column("partnership_id", sa.String(36), nullable=False, index=True),
    # not indexed: no read looks files up by hash here (evidence reuse keeps its own table);
    # the index, on 64 random characters, was written for every file (dropped 2026-12-06)
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("media_type", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("review", sa.String(20)),
    # the submission's log position (the review queue's order and cursor), its instant, and
    # the period the file covers (added 2026-12-05: a view lacking them is rebuilt on start)
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("period_start", sa.Date),
    sa.Column("period_end", sa.Date),
    # the review queue walks the files still waiting, oldest first (a minority of the rows)
    sa.Index("ix_view_evidence_index_waiting", "seq",
             postgresql_where=sa.text("review IS NULL"), sqlite_where=sa.text("review IS NULL")),
)


def stored_instant(value: datetime) -> datetime:
    """An instant read back from a view table, with its UTC offset: the views store instants
    in UTC, and SQLite keeps no offset."""
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)

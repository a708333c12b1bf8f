"""The place in the import code that knows SQLite from PostgreSQL (with `bulk`, PostgreSQL's own).

A batch of a few thousand rows goes to the database as a few statements: a lookup by key
(`select_in`), a multi-row insert (`insert_rows`) and, for the rare changed rows, a multi-row
update (`update_rows`) per table.

PostgreSQL gets one array parameter per column (`key = ANY(%b)`, `INSERT ... SELECT FROM
unnest(%b, ...)`), sent through the driver's cursor of the same transaction in psycopg's binary
format: dumping a 2,000-element array as text costs ~4 ms of Python, in binary well under 1 ms, and
that difference is a good part of the client's time in a large import. Inside `pipelined()` the
statements whose result we do not need are sent without waiting for them (libpq pipeline mode):
the server writes one batch while we read and check the next. On PostgreSQL the rows about new
people go set-based through `bulk` (`set_based`); SQLite runs in-process, where an IN list and
executemany of one prepared statement are already cheap, through SQLAlchemy Core, and every row
takes the checked path.

The import's temporary tables (`temporary`), private to its connection: SEEN remembers the keys
(collection_no, ID number, ...) accepted so far with their line, so a repeat further down the file
is found without holding the file's keys in memory; REJECTED keeps the rejected rows until they are
reported in line order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateTable


def _postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _pg_type(conn: Connection, table: Table, column: str) -> str:
    return table.c[column].type.compile(dialect=conn.dialect)


def _pg_array(conn: Connection, table: Table, column: str) -> str:
    return f"%b::{_pg_type(conn, table, column)}[]"


@contextmanager
def _driver_errors(conn: Connection, sql: str | None) -> Iterator[None]:
    """Raise the driver's errors as SQLAlchemy's (IntegrityError, OperationalError, ...)."""
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        yield
    except dbapi_error as exc:
        raise DBAPIError.instance(sql, None, exc, dbapi_error) from exc


def pg_execute(conn: Connection, sql: str, params: Any, *, fetch: bool) -> list[tuple]:
    """Run SQL on the driver's cursor of the connection's transaction (PostgreSQL)."""
    cursor = conn.connection.cursor()  # the DBAPI cursor, inside the connection's transaction
    with _driver_errors(conn, sql):
        try:
            cursor.execute(sql, params)
            # In pipeline mode fetching waits for this result; not fetching leaves it in flight.
            return cursor.fetchall() if fetch else []
        finally:
            cursor.close()


@contextmanager
def pipelined(conn: Connection) -> Iterator[None]:
    """While inside, statements without a result we need are not waited for (PostgreSQL).

    Their errors (a unique violation from a concurrent import) surface at the next statement
    whose result we read, or on leaving. Only this module's helpers may run inside.
    """
    if not _postgres(conn):
        yield
        return
    with _driver_errors(conn, None), conn.connection.driver_connection.pipeline():
        yield


def select_in(
    conn: Connection, table: Table, columns: Sequence[str], key: str, values: Iterable[Any]
) -> list[tuple]:
    """`SELECT columns FROM table WHERE key IN values`, as plain tuples."""
    values = list(values)
    if not values:
        return []
    if _postgres(conn):
        names = ", ".join(_quote(conn, c) for c in columns)
        sql = (
            f"SELECT {names} FROM {_quote(conn, table.name)} "
            f"WHERE {_quote(conn, key)} = ANY({_pg_array(conn, table, key)})"
        )
        return pg_execute(conn, sql, [values], fetch=True)
    statement = select(*(table.c[c] for c in columns)).where(table.c[key].in_(values))
    return [tuple(row) for row in conn.execute(statement)]


def insert_rows(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    same_for_all: dict[str, Any] | None = None,
    returning: Sequence[str] = (),
) -> list[tuple]:
    """Insert rows (tuples in `columns` order); `same_for_all` values are sent once, not per row.

    Returns the `returning` columns of the inserted rows, in no particular order.
    """
    if not rows:
        return []
    same = same_for_all or {}
    if _postgres(conn):
        targets = ", ".join(_quote(conn, c) for c in (*columns, *same))
        arrays = ", ".join(_pg_array(conn, table, c) for c in columns)
        shared = "".join(f", %b::{_pg_type(conn, table, c)}" for c in same)
        sql = (
            f"INSERT INTO {_quote(conn, table.name)} ({targets}) "
            f"SELECT *{shared} FROM unnest({arrays})"
        )
        if returning:
            sql += " RETURNING " + ", ".join(_quote(conn, c) for c in returning)
        # In the order of the placeholders: shared values (in the SELECT list), then the arrays.
        params = [*same.values(), *(list(values) for values in zip(*rows, strict=True))]
        return pg_execute(conn, sql, params, fetch=bool(returning))
    values = [{**dict(zip(columns, row, strict=True)), **same} for row in rows]
    if returning:
        statement = insert(table).returning(*(table.c[c] for c in returning))
        return [tuple(row) for row in conn.execute(statement, values)]
    conn.execute(insert(table), values)
    return []


def update_rows(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    same_for_all: dict[str, Any] | None = None,
    only_if: dict[str, Any] | None = None,
) -> None:
    """Set `columns[1:]` of the rows whose `columns[0]` (the key) matches, one tuple per row.

    `same_for_all` values are set on every row; `only_if` adds equality conditions (a guard such
    as status = 'unpaid', so a row changed meanwhile is left alone).
    """
    if not rows:
        return
    same, guard = same_for_all or {}, only_if or {}
    key, changed = columns[0], columns[1:]
    if _postgres(conn):
        name = _quote(conn, table.name)
        sets = [f"{_quote(conn, c)} = u.{_quote(conn, c)}" for c in changed]
        sets += [f"{_quote(conn, c)} = %b::{_pg_type(conn, table, c)}" for c in same]
        conditions = [f"{name}.{_quote(conn, key)} = u.{_quote(conn, key)}"]
        conditions += [f"{name}.{_quote(conn, c)} = %b::{_pg_type(conn, table, c)}" for c in guard]
        arrays = ", ".join(_pg_array(conn, table, c) for c in columns)
        aliases = ", ".join(_quote(conn, c) for c in columns)
        sql = (
            f"UPDATE {name} SET {', '.join(sets)} FROM unnest({arrays}) AS u({aliases}) "
            f"WHERE {' AND '.join(conditions)}"
        )
        # Placeholders in order: SET values, the arrays (FROM), then the guard (WHERE).
        arrays_params = [list(values) for values in zip(*rows, strict=True)]
        params = [*same.values(), *arrays_params, *guard.values()]
        pg_execute(conn, sql, params, fetch=False)
        return
    statement = (
        update(table)
        .where(table.c[key] == bindparam(f"b_{key}"), *(table.c[c] == v for c, v in guard.items()))
        .values({**{c: bindparam(f"b_{c}") for c in changed}, **same})
    )
    conn.execute(
        statement,
        [{f"b_{c}": v for c, v in zip(columns, row, strict=True)} for row in rows],
    )


# The import's temporary tables: private to its connection, gone with its transaction.
SEEN = Table(
    "import_seen_keys",
    MetaData(),
    Column("key", String, primary_key=True),
    Column("line", Integer, nullable=False),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
REJECTED = Table(
    "import_rejected",
    MetaData(),
    Column("line", Integer, nullable=False),
    Column("code", String, nullable=False),
    Column("reason", String, nullable=False),
    Column("id_number_masked", String, nullable=False),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)


def temporary(conn: Connection, table: Table) -> Table:
    """Create (empty) a temporary table of the import, with its indexes."""
    if _postgres(conn):
        table.create(conn)  # dropped when the transaction ends, committed or not
    else:
        # SQLite keeps temporary tables for the life of the (pooled) connection: reuse and empty.
        conn.execute(CreateTable(table, if_not_exists=True))
        conn.execute(table.delete())
    return table


def drop_temporary(conn: Connection, table: Table) -> None:
    if not _postgres(conn):
        conn.execute(text(f"DROP TABLE IF EXISTS temp.{_quote(conn, table.name)}"))


def tune(conn: Connection) -> None:
    """Settings for the import's transaction. PostgreSQL: no JIT. An import runs the same few
    statements per batch, each big enough in the planner's eyes to be compiled to machine code
    every time (about 50 ms to 1 s a statement) and each running in milliseconds without it."""
    if _postgres(conn):
        conn.execute(text("SET LOCAL jit = off"))


def set_based(conn: Connection) -> bool:
    """Whether new people's rows are written set-based (backend.imports.bulk): on PostgreSQL,
    where each round trip costs; SQLite runs in-process and takes the checked path for all."""
    return _postgres(conn)

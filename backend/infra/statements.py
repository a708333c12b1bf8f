"""Hot paths' statements, compiled once and run on the DBAPI connection: reads and a few writes.

The resident lookup is the busiest endpoint, and in it SQLAlchemy's per-execution work and the
transaction round trips (BEGIN, COMMIT, the pool's pre-ping) cost several times what PostgreSQL
spends answering the query. A single SELECT needs no transaction to be consistent, so on
PostgreSQL these reads use their own engine in autocommit: one round trip per query, and psycopg
keeps its server-side prepared statement for the life of the connection. SQLite connections are
already in autocommit (see backend.infra.database), so reads there share the main engine.

The statements stay SQLAlchemy constructs; they are compiled for the engine's dialect, with the
column types' bind and result processors applied (dates on SQLite, JSON, for example). The few hot
writes (crediting a notification) use `execute_compiled` inside their session's transaction.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, Engine, Executable, Select, exc
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.expression import ReturnsRows

from backend.infra.database import make_engine


def make_read_engine(main: Engine) -> Engine:
    """The engine for autocommit reads: main itself on SQLite, a sibling pool on PostgreSQL."""
    if main.dialect.name == "sqlite":
        return main
    # No pre-ping: a dead connection is detected on use and the read retried once (see Reader).
    return make_engine(
        main.url.render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
        pool_pre_ping=False,
        pool_recycle=3600,
    )


class CompiledStatement:
    """One statement compiled once for one dialect, run with plain DBAPI parameters.

    Constants inside the statement are bound once here; the caller's values go through the
    column types' bind processors (aware datetimes to SQLite's text, JSON to its encoding), so
    what lands in the database is what a normal SQLAlchemy execution would have written.
    """

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        if "POSTCOMPILE" in self.sql:
            raise ValueError("expanding IN parameters need a per-call compile; list the values")
        # A Python-side default (created_at, updated_at's onupdate) is computed by SQLAlchemy's
        # execution, which a compiled statement skips: it would write NULL. Name every one.
        prefetch = [*compiled.insert_prefetch, *compiled.update_prefetch]
        if prefetch:
            names = ", ".join(column.name for column in prefetch)
            raise ValueError(f"give these columns a value in the statement: {names}")
        self._constants: dict[str, Any] = {}
        self._bind_processors: dict[str, Callable[[Any], Any]] = {}
        for bind, name in compiled.bind_names.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if not bind.required:
                self._constants[name] = processor(bind.value) if processor else bind.value
            elif processor is not None:
                self._bind_processors[name] = processor
        self._positions = list(compiled.positiontup or []) if compiled.positional else None

    def parameters(self, values: Mapping[str, Any]) -> Any:
        params = dict(self._constants)
        for name, value in values.items():
            processor = self._bind_processors.get(name)
            params[name] = processor(value) if processor is not None else value
        if self._positions is None:
            return params
        return tuple(params[name] for name in self._positions)


class CompiledRead(CompiledStatement):
    """A compiled select that turns DBAPI tuples into named rows."""

    def __init__(self, statement: Select | ReturnsRows, dialect: Dialect) -> None:
        super().__init__(statement, dialect)
        # A select's columns, or what an INSERT/UPDATE ... RETURNING gives back.
        columns = list(getattr(statement, "selected_columns", None) or statement.exported_columns)
        names = [column.key for column in columns]
        self._row = namedtuple("Row", names)  # type: ignore[misc]
        self._processors: list[tuple[int, Callable[[Any], Any]]] = []
        for index, column in enumerate(columns):
            processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if processor is not None:
                self._processors.append((index, processor))

    def rows(self, raw: list[tuple]) -> list[Any]:
        if not self._processors:
            return [self._row._make(r) for r in raw]
        out = []
        for r in raw:
            values = list(r)
            for index, processor in self._processors:
                values[index] = processor(values[index])
            out.append(self._row._make(values))
        return out


class Reader:
    """Runs compiled statements on an engine's raw connections, each one round trip in
    autocommit: reads (a dropped connection is retried once), and writes that do all of a
    change in one statement (`once`: a transaction by itself, never retried)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._compiled: dict[Select, CompiledRead] = {}

    def all(self, statement: Select, **values: Any) -> list[Any]:
        return self._run(statement, values, retry=True)

    def once(self, statement: Select | ReturnsRows, **values: Any) -> list[Any]:
        """Run a statement that writes (and selects what it wrote): atomic on its own. A dropped
        connection is not retried: whether it committed is unknown, so the caller's caller (a
        platform that retries its notification) asks again."""
        return self._run(statement, values, retry=False)

    def _run(
        self, statement: Select | ReturnsRows, values: dict[str, Any], *, retry: bool
    ) -> list[Any]:
        query = self._compiled.get(statement)
        if query is None:
            query = self._compiled[statement] = CompiledRead(statement, self.engine.dialect)
        params = query.parameters(values)
        dbapi = self.engine.dialect.loaded_dbapi
        for attempt in (1, 2):
            connection = self.engine.raw_connection()
            cursor = None
            try:
                cursor = connection.cursor()
                cursor.execute(query.sql, params)
                raw = cursor.fetchall()
                cursor.close()
            except dbapi.Error as error:
                lost = self.engine.dialect.is_disconnect(error, connection.dbapi_connection, cursor)
                if lost:
                    connection.invalidate(error)
                if lost and retry and attempt == 1:
                    continue  # the pool hands out a fresh connection; the read is idempotent
                raise exc.DBAPIError.instance(
                    query.sql, params, error, dbapi.Error, connection_invalidated=lost
                ) from error
            finally:
                connection.close()
            return query.rows(raw)
        raise AssertionError("unreachable")


_COMPILED: dict[tuple[int, str], tuple[Executable, CompiledStatement]] = {}


def _compiled(statement: Executable, dialect: Dialect) -> CompiledStatement:
    key = (id(statement), dialect.name)
    entry = _COMPILED.get(key)
    if entry is None or entry[0] is not statement:
        entry = _COMPILED[key] = (statement, CompiledStatement(statement, dialect))
    return entry[1]


def execute_compiled(
    connection: Connection, statement: Executable, values: Mapping[str, Any]
) -> list[tuple]:
    """Run a module-level statement on `connection`, inside its transaction, for hot writes.

    SQLAlchemy's per-execution work (cache keys, execution context, result objects) costs more
    CPU than a small UPDATE costs PostgreSQL. Rows come back as plain tuples (RETURNING); DBAPI
    errors are raised as SQLAlchemy's (IntegrityError and the like), as connection.execute would.
    """
    dialect = connection.dialect
    compiled = _compiled(statement, dialect)
    params = compiled.parameters(values)
    dbapi_connection = connection.connection.dbapi_connection
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(compiled.sql, params)
        return cursor.fetchall() if cursor.description else []
    except dialect.loaded_dbapi.Error as error:
        raise exc.DBAPIError.instance(
            compiled.sql, params, error, dialect.loaded_dbapi.Error
        ) from error
    finally:
        cursor.close()


def execute_compiled_many(
    connection: Connection, statement: Executable, rows: list[Mapping[str, Any]]
) -> None:
    """execute_compiled for several rows of one statement (psycopg sends them pipelined)."""
    if len(rows) == 1:
        execute_compiled(connection, statement, rows[0])
        return
    dialect = connection.dialect
    compiled = _compiled(statement, dialect)
    params = [compiled.parameters(row) for row in rows]
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.executemany(compiled.sql, params)
    except dialect.loaded_dbapi.Error as error:
        raise exc.DBAPIError.instance(
            compiled.sql, params, error, dialect.loaded_dbapi.Error
        ) from error
    finally:
        cursor.close()

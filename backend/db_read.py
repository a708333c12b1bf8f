"""Hot read-only queries: a SELECT compiled once, run on a raw DBAPI connection in autocommit.

The resident lookup is the busiest endpoint, and in it SQLAlchemy's per-execution work and the
transaction round trips (BEGIN, COMMIT, the pool's pre-ping) cost several times what PostgreSQL
spends answering the query. A single SELECT needs no transaction to be consistent, so on
PostgreSQL these reads use their own engine in autocommit: one round trip per query, and psycopg
keeps its server-side prepared statement for the life of the connection. SQLite connections are
already in autocommit (see backend.db), so reads there share the main engine.

The statements stay SQLAlchemy selects; they are compiled for the engine's dialect, with the
dialect's result processors (dates on SQLite, for example) applied to each row.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine, Select, exc
from sqlalchemy.engine.interfaces import Dialect

from backend.db import make_engine


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


class CompiledRead:
    """One select, compiled for one dialect, turning DBAPI tuples into named rows."""

    def __init__(self, statement: Select, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        names = [column.key for column in statement.selected_columns]
        self._row = namedtuple("Row", names)  # type: ignore[misc]
        self._processors: list[tuple[int, Callable[[Any], Any]]] = []
        for index, column in enumerate(statement.selected_columns):
            processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if processor is not None:
                self._processors.append((index, processor))
        # Constants inside the statement (separators and the like) are bound once here; the
        # caller's values (plain strings and numbers) are passed to the driver as they are.
        self._constants = {
            name: bind.value for name, bind in compiled.binds.items() if not bind.required
        }
        self._positions = list(compiled.positiontup or []) if compiled.positional else None

    def parameters(self, values: Mapping[str, Any]) -> Any:
        params = {**self._constants, **values}
        if self._positions is None:
            return params
        return tuple(params[name] for name in self._positions)

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
    """Runs compiled reads on an engine's raw connections; a dropped connection is retried once."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._compiled: dict[Select, CompiledRead] = {}

    def all(self, statement: Select, **values: Any) -> list[Any]:
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
                if lost and attempt == 1:
                    continue  # the pool hands out a fresh connection; the read is idempotent
                raise exc.DBAPIError.instance(
                    query.sql, params, error, dbapi.Error, connection_invalidated=lost
                ) from error
            finally:
                connection.close()
            return query.rows(raw)
        raise AssertionError("unreachable")

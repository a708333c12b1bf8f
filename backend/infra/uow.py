"""The unit of work: the one owner of transactions.

`with uow as session:` is one transaction: committed when the block ends normally, rolled back
when it raises, and the session closed either way. Services receive a UnitOfWork and open
blocks; they never commit or roll back themselves, and helpers that work inside a caller's
transaction take a Session instead. A use case that must call out (WeChat, the bureau) between
two writes shows two blocks with the call between them, outside any transaction:

    with uow as session:
        order = write_order(session, ...)
    answer = gateway.create(...)          # no transaction, no row lock held
    with uow as session:
        save_answer(session, order, answer)

Blocks do not nest (a nested block would be a second transaction the outer one cannot see).
A UnitOfWork belongs to one request or one job run: it is not shared between threads.

A change the database can make in one statement (on PostgreSQL, a chain of data-modifying CTEs)
needs no block: `uow.single(statement, ...)` runs it as a transaction of its own, in one round
trip.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.expression import ReturnsRows

from backend.infra.clock import Clock
from backend.infra.statements import Reader


class UnitOfWork:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock, statements: Reader) -> None:
        self._sessions = sessions
        self.clock = clock
        self._statements = statements
        self._session: Session | None = None

    @property
    def dialect(self) -> str:
        bind = self._sessions.kw["bind"]
        return bind.dialect.name

    def single(self, statement: Select | ReturnsRows, **values: Any) -> list[Any]:
        """Run one statement that makes a whole change, as its own transaction; its rows."""
        if self._session is not None:
            raise RuntimeError("a single-statement transaction cannot run inside a block")
        return self._statements.once(statement, **values)

    def __enter__(self) -> Session:
        if self._session is not None:
            raise RuntimeError("unit of work blocks do not nest; finish the open one first")
        self._session = self._sessions()
        return self._session

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        session, self._session = self._session, None
        assert session is not None
        try:
            if exc_type is None:
                session.commit()
            else:
                session.rollback()
        finally:
            session.close()

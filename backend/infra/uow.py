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
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from backend.infra.clock import Clock


class UnitOfWork:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self.clock = clock
        self._session: Session | None = None

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

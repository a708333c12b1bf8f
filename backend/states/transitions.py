"""The one function per aggregate that changes a status in the database, built from its table.

`ORDERS.apply(session, "close", PaymentOrder.id == order_id, values=..., audit=...)` issues

    UPDATE payment_order SET status = 'closed', ... WHERE id = :id AND status IN ('created')
    RETURNING id

with the sources and the target taken from the order machine's "close" move. Whoever's UPDATE
matched won; only the winner writes the follow-up rows (the audit note, and whatever `then`
adds: outbox messages, released holds), in the same transaction. Two deliveries of one payment,
two workers, two clerks: one wins, the others change nothing and are told so.

Hot paths (a payment notification, an order being created) prepare the same statement once with
`statement()` and run it compiled (backend.infra.statements); it is the same table's move, not a
copy written beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, Update, or_, update
from sqlalchemy.orm import Session

from backend.infra import audit
from backend.models import (
    CollectorBatch,
    GovernmentBatch,
    LedgerMessage,
    PaymentOrder,
    Refund,
    Registration,
    WeChatMessage,
)
from backend.states.collectors import COLLECTOR_BATCH
from backend.states.government import GOVERNMENT_BATCH
from backend.states.ledger import LEDGER_MESSAGE
from backend.states.machine import Machine
from backend.states.orders import ORDER
from backend.states.refunds import REFUND
from backend.states.registrations import REGISTRATION
from backend.states.subscriptions import WECHAT_MESSAGE

FollowUp = Callable[[Session, list[int]], None]


class Transitions:
    """The guarded status updates of one table, each an event of its machine."""

    def __init__(self, machine: Machine, table: Table) -> None:
        self.machine = machine
        self.table = table
        self._status = table.c.status

    def sources(self, event: str) -> ColumnElement[bool]:
        """`status IN (<the event's sources>)`, written as equalities so that a compiled
        statement binds them once (an expanding IN would be compiled again on every call)."""
        move = self.machine[event]
        return or_(*(self._status == state.value for state in sorted(move.sources)))

    def statement(
        self, event: str, *where: ColumnElement[bool], returning: Sequence[Any] = (), **values: Any
    ) -> Update:
        """The guarded UPDATE of `event` on the rows `where` selects, RETURNING their ids
        (and `returning`)."""
        move = self.machine[event]
        return (
            update(self.table)
            .where(*where, self.sources(event))
            .values(status=move.target.value, **values)
            .returning(self.table.c.id, *returning)
        )

    def apply(
        self,
        session: Session,
        event: str,
        *where: ColumnElement[bool],
        values: dict[str, Any] | None = None,
        audit_note: audit.Note | None = None,
        then: FollowUp | None = None,
    ) -> list[int]:
        """Move the rows `where` selects that `event` leaves from; the ids that moved.

        An empty list means another change got there first (or the rows were never in a
        source state): nothing else is written.
        """
        statement = self.statement(event, *where, **(values or {}))
        moved = list(
            session.execute(statement, execution_options={"synchronize_session": False}).scalars()
        )
        if moved:
            if then is not None:
                then(session, moved)
            if audit_note is not None:
                audit.write(session, audit_note)
        return moved


ORDERS = Transitions(ORDER, PaymentOrder.__table__)
REGISTRATIONS = Transitions(REGISTRATION, Registration.__table__)
REFUNDS = Transitions(REFUND, Refund.__table__)
LEDGER_MESSAGES = Transitions(LEDGER_MESSAGE, LedgerMessage.__table__)
GOVERNMENT_BATCHES = Transitions(GOVERNMENT_BATCH, GovernmentBatch.__table__)
COLLECTOR_BATCHES = Transitions(COLLECTOR_BATCH, CollectorBatch.__table__)
WECHAT_MESSAGES = Transitions(WECHAT_MESSAGE, WeChatMessage.__table__)

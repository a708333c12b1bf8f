"""What operators do with the outbox: look at it by state, read a message's attempts, resend."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.infra import audit
from backend.infra.uow import UnitOfWork
from backend.models import LedgerAttempt, LedgerMessage
from backend.states.ledger import MessageStatus
from backend.states.transitions import LEDGER_MESSAGES


def counts_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(LedgerMessage.status, func.count()).group_by(LedgerMessage.status)
    )
    return {**{status.value: 0 for status in MessageStatus}, **dict(rows.all())}


def attempts_of(session: Session, message_ids: list[int]) -> dict[int, list[LedgerAttempt]]:
    found: dict[int, list[LedgerAttempt]] = {i: [] for i in message_ids}
    if message_ids:
        for attempt in session.scalars(
            select(LedgerAttempt)
            .where(LedgerAttempt.message_id.in_(message_ids))
            .order_by(LedgerAttempt.id)
        ):
            found[attempt.message_id].append(attempt)
    return found


def resend_dead(
    uow: UnitOfWork,
    *,
    actor: str,
    now: datetime,
    region_code: str,
    message_id: str | None = None,
) -> int:
    """Put dead letters (all, or one) back in line, due now; the attempt count starts over.

    `region_code`: the caller's region, where the audit entry is filed.
    """
    where = [LedgerMessage.message_id == message_id] if message_id is not None else []
    with uow as session:
        moved = LEDGER_MESSAGES.apply(
            session,
            "resend",
            *where,
            values={"attempts": 0, "next_attempt_at": now, "updated_at": now},
        )
        if moved:
            audit.write(
                session,
                audit.Note(
                    actor=actor,
                    action="ledger.resend",
                    target=message_id,
                    region_code=region_code,
                    detail={"messages": len(moved)},
                ),
            )
        return len(moved)

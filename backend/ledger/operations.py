"""What operators do with the outbox: look at it by state, read a message's attempts, resend."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.infra import audit
from backend.models import LedgerAttempt, LedgerMessage


def counts_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(LedgerMessage.status, func.count()).group_by(LedgerMessage.status)
    )
    return {"pending": 0, "delivered": 0, "dead": 0, **dict(rows.all())}


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
    session: Session, *, actor: str, now: datetime, message_id: str | None = None
) -> int:
    """Put dead letters (all, or one) back in line, due now; the attempt count starts over."""
    query = update(LedgerMessage).where(LedgerMessage.status == "dead")
    if message_id is not None:
        query = query.where(LedgerMessage.message_id == message_id)
    moved = session.execute(
        query.values(status="pending", attempts=0, next_attempt_at=now, updated_at=now)
    ).rowcount
    if moved:
        audit.record(
            session,
            actor=actor,
            action="ledger.resend",
            target=message_id,
            detail={"messages": moved},
        )
    session.commit()
    return moved

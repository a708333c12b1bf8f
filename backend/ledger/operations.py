"""What operators do with the outbox: look at it by state, read a message's attempts, resend,
push a registration to the bureau again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from backend.errors import NotFound
from backend.infra import audit
from backend.infra.uow import UnitOfWork
from backend.ledger.pushes import REGISTRATION, enqueue_pushes
from backend.models import LedgerAttempt, LedgerMessage, Registration
from backend.states.ledger import MessageStatus
from backend.states.transitions import LEDGER_MESSAGES
from backend.values.region_codes import county_of


def in_region(scope_prefix: str | None) -> list[ColumnElement[bool]]:
    """The condition on messages of registrations inside the region `scope_prefix` (none for
    the whole city: every message is the city's, and the summary need not join)."""
    if scope_prefix is None:
        return []
    return [
        LedgerMessage.registration_id.in_(
            select(Registration.id).where(
                Registration.village_code.startswith(scope_prefix, autoescape=True)
            )
        )
    ]


def counts_by_status(session: Session, scope_prefix: str | None = None) -> dict[str, int]:
    """Messages by status, of the region `scope_prefix` (None: the whole city)."""
    rows = session.execute(
        select(LedgerMessage.status, func.count())
        .where(*in_region(scope_prefix))
        .group_by(LedgerMessage.status)
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
    scope_prefix: str | None = None,
    message_id: str | None = None,
) -> int:
    """Put dead letters (all, or one) of the region `scope_prefix` (None: the whole city) back in
    line, due now; the attempt count starts over.

    The audit entry is filed under the one message's county, or the caller's `region_code`.
    """
    where = in_region(scope_prefix)
    if message_id is not None:
        where.append(LedgerMessage.message_id == message_id)
    with uow as session:
        if message_id is not None:
            village = session.scalar(
                select(Registration.village_code)
                .join(LedgerMessage, LedgerMessage.registration_id == Registration.id)
                .where(LedgerMessage.message_id == message_id)
            )
            region_code = county_of(village) if village else region_code
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


def push_again(
    uow: UnitOfWork,
    collection_no: str,
    *,
    actor: str,
    now: datetime,
    allowed: Callable[[str, str], bool] = lambda village_code, scheme: True,
) -> str:
    """Write a new push of the registration `collection_no` (the bureau lost it, or refused a
    payment naming it); its message_id. `allowed(village_code, scheme)` says whether the caller
    may act on it; NotFound otherwise, as for a serial that does not exist."""
    with uow as session:
        found = session.execute(
            select(Registration.id, Registration.village_code, Registration.scheme).where(
                Registration.collection_no == collection_no
            )
        ).one_or_none()
        if found is None or not allowed(found.village_code, found.scheme):
            raise NotFound(
                f"没有征集流水号为 {collection_no} 的登记，或不在您的管辖范围内。",
                reason="registration_not_found",
                field="collection_no",
            )
        enqueue_pushes(session.connection(), [found.id], now=now)
        message_id = session.scalars(
            select(LedgerMessage.message_id)
            .where(LedgerMessage.registration_id == found.id, LedgerMessage.kind == REGISTRATION)
            .order_by(LedgerMessage.id.desc())
            .limit(1)
        ).one()
        audit.write(
            session,
            audit.Note(
                actor=actor,
                action="ledger.push",
                target=collection_no,
                region_code=county_of(found.village_code),
                detail={"message_id": message_id},
            ),
        )
        return message_id

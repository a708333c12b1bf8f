"""Confirming a government batch: finance paid it, so its registrations are paid. Exactly once.

All in one transaction, led by the batch machine's guarded `confirm` move: whoever's UPDATE wins
credits the items; a second confirm (a retry, a double click, two clerks at once) finds the batch
confirmed and changes nothing, and is answered with the same result. For each item whose
registration is still unpaid and still paid in full by the government, the registration's
`credit` move (channel government), the item marked credited (credited_registration_id is unique:
one government payment per registration, whatever raced), one tax ledger message and, for the
batch, the progress journal and the audit entry. The other items are skipped, with a reason.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, cast, insert, literal, select, update
from sqlalchemy.orm import Session

from backend.auth.staff import StaffIdentity
from backend.errors import Conflict
from backend.fees import PolicyBook
from backend.government.batches import visible
from backend.government.eligible import candidates, government_quote
from backend.infra import audit
from backend.infra.uow import UnitOfWork
from backend.models import GovernmentBatch, GovernmentBatchItem, LedgerMessage, Registration
from backend.orders.channels import GOVERNMENT
from backend.progress import journal
from backend.states.government import BatchStatus
from backend.states.ledger import MessageStatus
from backend.states.registrations import RegistrationStatus
from backend.states.transitions import GOVERNMENT_BATCHES, REGISTRATIONS

# Why confirming left an item unpaid (GovernmentBatchItem.skip_reason), for staff to read.
SKIP_NOTES = {
    "paid_by_resident": "已由本人缴费",
    "in_order": "本人正在缴费中",
    "no_longer_government_paid": "已不属于政府全额代缴（特殊群体身份或政策有变）",
}


def confirm(uow: UnitOfWork, book: PolicyBook, staff: StaffIdentity, batch_no: str) -> bool:
    """Credit the batch once; True when this call confirmed it, False when it already was.

    NotFound outside the caller's region, Conflict for a cancelled batch.
    """
    now = uow.clock.now()
    with uow as session:
        batch = visible(session, staff, batch_no)
        won = GOVERNMENT_BATCHES.apply(
            session,
            "confirm",
            GovernmentBatch.id == batch.id,
            values={"confirmed_by": staff.name, "confirmed_at": now, "updated_at": now},
        )
        if not won:
            status = session.scalar(
                select(GovernmentBatch.status).where(GovernmentBatch.id == batch.id)
            )
            if status == BatchStatus.CONFIRMED.value:
                return False
            raise Conflict(f"代缴批次 {batch_no} 已作废，不能确认。", reason="batch_cancelled")
        count, fen = _credit_items(session, book, batch.id, now)
        session.execute(
            update(GovernmentBatch)
            .where(GovernmentBatch.id == batch.id)
            .values(credited_count=count, credited_fen=fen),
            execution_options={"synchronize_session": False},
        )
        journal.government_paid(session, batch.id, journal.day_of(now))
        audit.write(
            session,
            audit.Note(
                actor=staff.name,
                action="government_batch.confirmed",
                region_code=batch.county_code,
                target=batch_no,
                detail={"credited_count": count, "credited_fen": fen},
            ),
        )
        return True


def _credit_items(
    session: Session, book: PolicyBook, batch_id: int, now: datetime
) -> tuple[int, int]:
    """Credit or skip each item, in a few set-wide statements whatever the batch's size; the
    number credited and their total."""
    rows = session.execute(
        candidates()
        .add_columns(GovernmentBatchItem.id.label("item_id"), GovernmentBatchItem.gov_paid_fen)
        .join(GovernmentBatchItem, GovernmentBatchItem.registration_id == Registration.id)
        .where(GovernmentBatchItem.batch_id == batch_id)
    ).all()
    skipped: dict[str, list[int]] = {}
    wanted = []
    for row in rows:
        reason = _skip_reason(book, row)
        if reason is None:
            wanted.append(row)
        else:
            skipped.setdefault(reason, []).append(row.item_id)
    credited = set()
    for chunk in _chunks([row.id for row in wanted]):
        credited.update(
            REGISTRATIONS.apply(
                session,
                "credit",
                Registration.id.in_(chunk),
                Registration.status == RegistrationStatus.UNPAID.value,
                values={"paid_channel": GOVERNMENT, "updated_at": now},
            )
        )
    # Taken by an order between our read and our update.
    skipped.setdefault("in_order", []).extend(r.item_id for r in wanted if r.id not in credited)
    for reason, item_ids in skipped.items():
        for chunk in _chunks(item_ids):
            _settle(
                session, GovernmentBatchItem.id.in_(chunk), outcome="skipped", skip_reason=reason
            )
    items = [r for r in wanted if r.id in credited]
    for chunk in _chunks([r.item_id for r in items]):
        _settle(
            session,
            GovernmentBatchItem.id.in_(chunk),
            outcome="credited",
            credited_registration_id=GovernmentBatchItem.registration_id,
        )
    session.execute(_enqueue(batch_id, now))
    return len(items), sum(r.gov_paid_fen for r in items)


def _chunks(ids: list[int], size: int = 900) -> list[list[int]]:
    # Bounded IN lists: SQLite limits the bound parameters of one statement.
    return [ids[at : at + size] for at in range(0, len(ids), size)]


def _settle(session: Session, which, **values) -> None:
    session.execute(
        update(GovernmentBatchItem).where(which).values(**values),
        execution_options={"synchronize_session": False},
    )


def _enqueue(batch_id: int, now: datetime):
    """One payment message per credited item; its message_id, unique per batch item like
    "pay-<order item>" for WeChat payments, is what the bureau deduplicates on."""
    items = GovernmentBatchItem.__table__
    return insert(LedgerMessage).from_select(
        [
            "message_id",
            "kind",
            "registration_id",
            "government_item_id",
            "status",
            "attempts",
            "next_attempt_at",
            "created_at",
            "updated_at",
        ],
        select(
            literal("gov-") + cast(items.c.id, String),
            literal("payment"),
            items.c.credited_registration_id,
            items.c.id,
            literal(MessageStatus.PENDING.value),
            literal(0),
            literal(now, type_=LedgerMessage.__table__.c.next_attempt_at.type),
            literal(now, type_=LedgerMessage.__table__.c.created_at.type),
            literal(now, type_=LedgerMessage.__table__.c.updated_at.type),
        ).where(items.c.batch_id == batch_id, items.c.outcome == "credited"),
    )


def _skip_reason(book: PolicyBook, row) -> str | None:
    if row.status in (RegistrationStatus.PAID, RegistrationStatus.TREASURY_ENTERED):
        return "paid_by_resident"
    if row.status == RegistrationStatus.PENDING:
        return "in_order"
    priced = government_quote(book, row)
    if priced is None or priced.gov_paid_fen != row.gov_paid_fen:
        return "no_longer_government_paid"
    return None

"""The agency closes a unit's batch, making its summary serial (单据号), or cancels it.

Closing is the batch machine's guarded `close` move: the batch row is locked by whoever adds to it,
so the move waits for a collector's record in flight, and its totals are counted after it, over
exactly what the batch holds. Cancelling (open, or closed but not yet being declared: no worker's
lease on it) releases every hold in the same transaction. A closed batch whose declaration went
out but whose answer never came back (a timeout) may be known to the bureau: should it be
cancelled, the bureau's entries for it are refused (409, logged) and staff settle it with the
bureau; the registrations, free again, are never credited by them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from backend.auth.staff import StaffIdentity
from backend.collectors.views import visible
from backend.errors import Conflict, Refused
from backend.infra import audit
from backend.infra.uow import UnitOfWork
from backend.models import CollectorBatch, CollectorBatchItem, Registration
from backend.states.collectors import CollectorBatchStatus, ItemOutcome
from backend.states.transitions import COLLECTOR_BATCHES, REGISTRATIONS
from backend.values.beijing import beijing_today
from backend.values.labels import SCHEME_SHORT

S = CollectorBatchStatus


def declaration_no(county_code: str, now: datetime, batch_id: int) -> str:
    """D + county (6) + the Beijing date it was made + the batch's id: unique by construction,
    e.g. D41072120191120000012."""
    return f"D{county_code[:6]}{beijing_today(now):%Y%m%d}{batch_id:06d}"


def close(uow: UnitOfWork, staff: StaffIdentity, batch_no: str) -> bool:
    """Close the batch and make its 单据号; True when this call closed it, False when it already
    was (closing twice changes nothing). Refused for an empty batch or another department's
    scheme in it, Conflict for a cancelled one."""
    now = uow.clock.now()
    with uow as session:
        batch = visible(session, staff, batch_no)
        number = declaration_no(batch.county_code, now, batch.id)
        won = COLLECTOR_BATCHES.apply(
            session,
            "close",
            CollectorBatch.id == batch.id,
            values={
                "declaration_no": number,
                "closed_by": staff.name,
                "closed_at": now,
                "next_attempt_at": now,  # the worker declares it at its next round
                "attempts": 0,
                "updated_at": now,
            },
        )
        if not won:
            if _status(session, batch.id) == S.CANCELLED:
                raise Conflict(
                    f"代征批次 {batch_no} 已作废，不能生成单据号。", reason="batch_cancelled"
                )
            return False
        counts = dict(
            session.execute(
                select(CollectorBatchItem.scheme, func.count())
                .where(CollectorBatchItem.batch_id == batch.id)
                .group_by(CollectorBatchItem.scheme)
            ).all()
        )
        if not counts:
            raise Refused(
                f"代征批次 {batch_no} 还没有收缴记录，不能生成单据号。", reason="empty_batch"
            )
        other = [s for s in counts if not staff.handles(s)]
        if other:
            raise Refused(
                f"代征批次含有{'、'.join(SCHEME_SHORT[s] for s in other)}，不属于您所在部门经办。",
                reason="other_department",
            )
        total = session.scalar(
            select(func.sum(CollectorBatchItem.amount_fen)).where(
                CollectorBatchItem.batch_id == batch.id
            )
        )
        session.execute(
            update(CollectorBatch)
            .where(CollectorBatch.id == batch.id)
            .values(
                item_count=sum(counts.values()),
                total_fen=total,
                pension_count=counts.get("pension", 0),
                medical_count=counts.get("medical", 0),
            ),
            execution_options={"synchronize_session": False},
        )
        audit.record(
            session,
            actor=staff.name,
            action="collector_batch.closed",
            region_code=batch.county_code,
            target=batch_no,
            detail={
                "declaration_no": number,
                "item_count": sum(counts.values()),
                "total_fen": total,
            },
        )
        return True


def cancel(uow: UnitOfWork, staff: StaffIdentity, batch_no: str) -> bool:
    """Cancel the batch before its declaration and release its registrations; True when this call
    cancelled it, False when it already was. Conflict once declared, or while being declared."""
    now = uow.clock.now()
    with uow as session:
        batch = visible(session, staff, batch_no)
        won = COLLECTOR_BATCHES.apply(
            session,
            "cancel",
            CollectorBatch.id == batch.id,
            # Not while a worker is sending its declaration: the bureau may be accepting it.
            or_(CollectorBatch.lease_until.is_(None), CollectorBatch.lease_until <= now),
            values={"cancelled_by": staff.name, "cancelled_at": now, "updated_at": now},
            audit_note=audit.Note(
                actor=staff.name,
                action="collector_batch.cancelled",
                region_code=batch.county_code,
                target=batch_no,
            ),
            then=lambda session, _ids: release(
                session, batch.id, outcome=ItemOutcome.CANCELLED, now=now
            ),
        )
        if won:
            return True
        status = _status(session, batch.id)
        if status == S.CANCELLED:
            return False
        if status == S.CLOSED:
            raise Conflict(
                f"代征批次 {batch_no} 正在向税务申报，请稍后再试。", reason="being_declared"
            )
        raise Conflict(f"代征批次 {batch_no} 已向税务申报，不能作废。", reason="batch_declared")


def release(
    session: Session,
    batch_id: int,
    *,
    outcome: ItemOutcome,
    now: datetime,
    only=None,
    **values,
) -> int:
    """Give back the registrations the batch's items hold (those `only` selects, else all):
    pending -> unpaid, the items' holds dropped and their outcome set. How many."""
    held = select(CollectorBatchItem.held_registration_id).where(
        CollectorBatchItem.batch_id == batch_id,
        CollectorBatchItem.held_registration_id.is_not(None),
    )
    if only is not None:
        held = held.where(only)
    released = REGISTRATIONS.apply(
        session, "release", Registration.id.in_(held), values={"updated_at": now}
    )
    which = [CollectorBatchItem.batch_id == batch_id]
    if only is not None:
        which.append(only)
    session.execute(
        update(CollectorBatchItem)
        .where(*which)
        .values(held_registration_id=None, outcome=outcome.value, **values),
        execution_options={"synchronize_session": False},
    )
    return len(released)


def _status(session: Session, batch_id: int) -> S:
    """The batch's status as committed now (not the copy loaded before a guarded update)."""
    return S(session.scalar(select(CollectorBatch.status).where(CollectorBatch.id == batch_id)))

"""Reading collector batches: which a person may see, and what the API and the dashboard show.

A collector sees its own unit's batches; other staff those of units inside their region. Outside
that, a batch is not found (the two are not told apart). Names and ID numbers are masked.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from backend.auth.staff import StaffIdentity
from backend.errors import NotFound
from backend.models import (
    CollectingUnit,
    CollectorBatch,
    CollectorBatchItem,
    Enrollee,
    Registration,
)
from backend.states.collectors import STATUS_LABELS, CollectorBatchStatus, ItemOutcome
from backend.values.beijing import day_bounds
from backend.values.masking import mask_id_number, mask_name

OUTCOME_LABELS = {
    ItemOutcome.RECORDED: "已收缴",
    ItemOutcome.ACCEPTED: "税务已受理",
    ItemOutcome.REFUSED: "税务退回",
    ItemOutcome.ENTERED: "已入库",
    ItemOutcome.CANCELLED: "已作废",
}


def visible(session: Session, staff: StaffIdentity, batch_no: str) -> CollectorBatch:
    batch = session.scalar(select(CollectorBatch).where(CollectorBatch.batch_no == batch_no))
    if batch is None or not may_see(session, staff, batch):
        raise NotFound(f"没有代征批次 {batch_no}。", reason="batch_not_found")
    return batch


def may_see(session: Session, staff: StaffIdentity, batch: CollectorBatch) -> bool:
    if staff.role == "collector":
        owner = session.scalar(
            select(CollectingUnit.staff_user_id).where(CollectingUnit.id == batch.unit_id)
        )
        return owner == staff.id
    return staff.sees(batch.region_code)


def listed(staff: StaffIdentity, *, status: str | None = None) -> Select:
    """The batches the person may see, newest first, with their unit."""
    query = select(CollectorBatch, CollectingUnit).join(
        CollectingUnit, CollectingUnit.id == CollectorBatch.unit_id
    )
    if staff.role == "collector":
        query = query.where(CollectingUnit.staff_user_id == staff.id)
    else:
        query = query.where(
            CollectorBatch.region_code.startswith(staff.scope_prefix, autoescape=True)
        )
    if status is not None:
        query = query.where(CollectorBatch.status == status)
    return query.order_by(CollectorBatch.id.desc())


def status_of(session: Session, declaration_no: str) -> str | None:
    return session.scalar(
        select(CollectorBatch.status).where(CollectorBatch.declaration_no == declaration_no)
    )


def batch_view(session: Session, staff: StaffIdentity, batch_no: str) -> dict[str, Any]:
    """The batch and its items (NotFound when the person may not see it)."""
    batch = visible(session, staff, batch_no)
    unit = session.get(CollectingUnit, batch.unit_id)
    rows = session.execute(
        select(CollectorBatchItem, Registration, Enrollee)
        .join(Registration, Registration.id == CollectorBatchItem.registration_id)
        .join(Enrollee, Enrollee.id == Registration.enrollee_id)
        .where(CollectorBatchItem.batch_id == batch.id)
        .order_by(CollectorBatchItem.id)
    ).all()
    items = [_item(*row) for row in rows]
    return {**summary(session, batch, unit), "items": items}


def summary(
    session: Session, batch: CollectorBatch, unit: CollectingUnit | None = None
) -> dict[str, Any]:
    unit = unit or session.get(CollectingUnit, batch.unit_id)
    assert unit is not None
    status = CollectorBatchStatus(batch.status)
    count, total = batch.item_count, batch.total_fen
    if status is CollectorBatchStatus.OPEN:  # still growing: count it now
        count, total = session.execute(
            select(func.count(), func.coalesce(func.sum(CollectorBatchItem.amount_fen), 0)).where(
                CollectorBatchItem.batch_id == batch.id
            )
        ).one()
    return {
        "batch_no": batch.batch_no,
        "declaration_no": batch.declaration_no,
        "status": batch.status,
        "status_label": STATUS_LABELS[status],
        "unit": {"kind": unit.kind, "name": unit.name, "region_code": unit.region_code},
        "county_code": batch.county_code,
        "item_count": count,
        "total_fen": total,
        "pension_count": batch.pension_count,
        "medical_count": batch.medical_count,
        "accepted_count": batch.accepted_count,
        "refused_count": batch.refused_count,
        "attempts": batch.attempts,
        "next_attempt_at": batch.next_attempt_at,
        "last_error": batch.last_error,
        "booking_ref": batch.booking_ref,
        "opened_by": batch.opened_by,
        "created_at": batch.created_at,
        "closed_by": batch.closed_by,
        "closed_at": batch.closed_at,
        "declared_at": batch.declared_at,
        "entered_at": batch.entered_at,
        "booked_at": batch.booked_at,
        "cancelled_by": batch.cancelled_by,
        "cancelled_at": batch.cancelled_at,
    }


def _item(item: CollectorBatchItem, registration: Registration, person: Enrollee) -> dict:
    return {
        "registration_ref": registration.ref,
        "collection_no": item.collection_no,
        "village_code": registration.village_code,
        "name_masked": mask_name(person.name),
        "id_number_masked": mask_id_number(person.id_number),
        "scheme": item.scheme,
        "period_year": item.period_year,
        "grade_yuan": item.grade_yuan,
        "amount_fen": item.amount_fen,
        "gov_paid_fen": item.gov_paid_fen,
        "outcome": item.outcome,
        "outcome_label": OUTCOME_LABELS[ItemOutcome(item.outcome)],
        "refusal_reason": item.refusal_reason,
        "refusal_note": item.refusal_note,
        "tax_receipt_no": item.tax_receipt_no,
        "entered_at": item.entered_at,
        "recorded_by": item.recorded_by,
        "recorded_at": item.recorded_at,
        "registration_status": registration.status,
    }


def entered_on(day: date, *, county: str, scheme: str) -> Select:
    """(item, batch, registration, person) of every registration a collecting unit collected
    and the treasury entered on the Beijing `day`, in the county (6 digits) and scheme: what
    the booking file and the settlement file list."""
    start, end = day_bounds(day)
    return (
        select(CollectorBatchItem, CollectorBatch, Registration, Enrollee)
        .join(CollectorBatch, CollectorBatch.id == CollectorBatchItem.batch_id)
        .join(Registration, Registration.id == CollectorBatchItem.registration_id)
        .join(Enrollee, Enrollee.id == Registration.enrollee_id)
        .where(
            CollectorBatchItem.outcome == ItemOutcome.ENTERED.value,
            CollectorBatchItem.entered_at >= start,
            CollectorBatchItem.entered_at < end,
            CollectorBatchItem.scheme == scheme,
            Registration.village_code.startswith(county[:6], autoescape=True),
        )
    )

"""What staff read of a batch: its figures and, masked, the people it lists."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from backend.auth.staff import StaffIdentity
from backend.government.batches import visible
from backend.government.confirming import SKIP_NOTES
from backend.models import Enrollee, GovernmentBatch, GovernmentBatchItem, Registration
from backend.models.staff import DEPARTMENTS
from backend.values.masking import mask_id_number, mask_name


def batch_view(session: Session, staff: StaffIdentity, batch_no: str) -> dict[str, Any]:
    """The batch and its items (NotFound outside the caller's region)."""
    batch = visible(session, staff, batch_no)
    rows = session.execute(
        select(GovernmentBatchItem, Registration, Enrollee)
        .join(Registration, Registration.id == GovernmentBatchItem.registration_id)
        .join(Enrollee, Enrollee.id == Registration.enrollee_id)
        .where(GovernmentBatchItem.batch_id == batch.id)
        .order_by(GovernmentBatchItem.id)
    ).all()
    return {**summary(batch), "items": [_item(*row) for row in rows]}


def listed(staff: StaffIdentity, **where: Any) -> Select:
    """The batches inside the caller's region, newest first, filtered by the given columns."""
    query = select(GovernmentBatch).where(
        GovernmentBatch.county_code.startswith(staff.scope_prefix, autoescape=True)
    )
    if staff.department is not None:
        query = query.where(GovernmentBatch.scheme == DEPARTMENTS[staff.department])
    for column, value in where.items():
        if value is not None:
            query = query.where(getattr(GovernmentBatch, column) == value)
    return query.order_by(GovernmentBatch.id.desc())


def summary(batch: GovernmentBatch) -> dict[str, Any]:
    return {
        "batch_no": batch.batch_no,
        "county_code": batch.county_code,
        "scheme": batch.scheme,
        "period_year": batch.period_year,
        "status": batch.status,
        "item_count": batch.item_count,
        "total_fen": batch.total_fen,
        "credited_count": batch.credited_count,
        "credited_fen": batch.credited_fen,
        "created_by": batch.created_by,
        "created_at": batch.created_at,
        "confirmed_by": batch.confirmed_by,
        "confirmed_at": batch.confirmed_at,
    }


def _item(item: GovernmentBatchItem, registration: Registration, person: Enrollee) -> dict:
    return {
        "registration_ref": registration.ref,
        "collection_no": registration.collection_no,
        "village_code": registration.village_code,
        "name_masked": mask_name(person.name),
        "id_number_masked": mask_id_number(person.id_number),
        "applied_group": item.applied_group,
        "grade_yuan": item.grade_yuan,
        "gov_paid_fen": item.gov_paid_fen,
        "contribution_subsidy_fen": item.contribution_subsidy_fen,
        "outcome": item.outcome,
        "skip_reason": item.skip_reason,
        "skip_note": SKIP_NOTES.get(item.skip_reason or ""),
        "registration_status": registration.status,
    }

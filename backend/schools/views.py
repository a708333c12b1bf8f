"""What the school (and staff of its county) read of a batch: where it stands and, per student,
each year's amount, registration, tax ledger state and receipt number, and refunds.

A school account sees its own school's batches; other staff see the batches filed in their
region (the county of the batch's first student). Anyone else gets the same NotFound as for a
number that does not exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from backend.auth.staff import StaffIdentity
from backend.errors import NotFound
from backend.models import (
    Enrollee,
    LedgerMessage,
    OrderItem,
    PaymentOrder,
    Refund,
    Registration,
    SchoolBatch,
)
from backend.orders.views import ledger_state
from backend.schools.students import school_of
from backend.states.orders import OrderStatus
from backend.states.refunds import RefundStatus
from backend.values.masking import mask_id_number, mask_name

# A batch's status as the school reads it, from its order's.
AWAITING_PAYMENT, PAID, EXPIRED = "awaiting_payment", "paid", "expired"
STATUSES = (AWAITING_PAYMENT, PAID, EXPIRED, "refund_due", "refunded")


def batch_status(order_status: str, expires_at: datetime, now: datetime) -> str:
    """awaiting_payment (the QR code can be paid), paid, expired (closed unpaid, or past its
    time and about to close), refund_due (paid after it closed while another order had paid
    its registrations: given back automatically) or refunded (every year given back)."""
    status = OrderStatus(order_status)
    if status is OrderStatus.CREATED:
        return AWAITING_PAYMENT if expires_at > now else EXPIRED
    if status is OrderStatus.CLOSED:
        return EXPIRED
    return status.value


def visible(session: Session, staff: StaffIdentity, batch_no: str) -> tuple[SchoolBatch, Any]:
    """The batch and its order, if the caller may see it."""
    row = session.execute(_with_order().where(SchoolBatch.batch_no == batch_no)).first()
    if row is None or not _sees(staff, row.SchoolBatch):
        raise NotFound(f"没有代缴批次 {batch_no}。", reason="batch_not_found")
    return row.SchoolBatch, row


def listed(staff: StaffIdentity) -> Select:
    """The batches the caller may see, newest first (rows: SchoolBatch and its order's columns)."""
    query = _with_order()
    if staff.may("school"):
        query = query.where(SchoolBatch.school_code == school_of(staff))
    else:
        query = query.where(SchoolBatch.county_code.startswith(staff.scope_prefix, autoescape=True))
    return query.order_by(SchoolBatch.id.desc())


def summary(row: Any, now: datetime) -> dict[str, Any]:
    """A batch's figures and status; while it can be paid, the code_url to show as a QR code."""
    batch = row.SchoolBatch
    status = batch_status(row.status, row.expires_at, now)
    return {
        "batch_no": batch.batch_no,
        "school_code": batch.school_code,
        "county_code": batch.county_code,
        "status": status,
        "status_reason": row.status_reason,
        "order_no": row.order_no,
        "total_fen": row.total_fen,
        "student_count": batch.student_count,
        "year_count": batch.year_count,
        "code_url": row.code_url if status == AWAITING_PAYMENT else None,
        "created_by": batch.created_by,
        "created_at": batch.created_at,
        "expires_at": row.expires_at,
        "paid_at": row.paid_at,
        "transaction_id": row.transaction_id,
    }


def batch_view(session: Session, staff: StaffIdentity, batch_no: str, now: datetime) -> dict:
    """The batch with its students, each with their years in order."""
    batch, row = visible(session, staff, batch_no)
    students: dict[int, dict[str, Any]] = {}
    for year in _years(session, batch.order_id):
        person = year.pop("enrollee")
        student = students.get(person.id)
        if student is None:
            student = students[person.id] = {
                "student_ref": year["registration_ref"],  # the year the batch pays from
                "name_masked": mask_name(person.name),
                "id_number_masked": mask_id_number(person.id_number),
                "village_code": year.pop("village_code"),
                "total_fen": 0,
                "years": [],
            }
        else:
            year.pop("village_code")
        student["total_fen"] += year["amount_fen"]
        student["years"].append(year)
    return {**summary(row, now), "students": list(students.values())}


def _with_order() -> Select:
    return select(
        SchoolBatch,
        PaymentOrder.order_no,
        PaymentOrder.status,
        PaymentOrder.status_reason,
        PaymentOrder.total_fen,
        PaymentOrder.code_url,
        PaymentOrder.expires_at,
        PaymentOrder.paid_at,
        PaymentOrder.transaction_id,
    ).join(PaymentOrder, PaymentOrder.id == SchoolBatch.order_id)


def _sees(staff: StaffIdentity, batch: SchoolBatch) -> bool:
    if staff.may("school"):
        return batch.school_code == school_of(staff)
    return staff.sees(batch.county_code)


def _years(session: Session, order_id: int) -> list[dict[str, Any]]:
    """Every year the order pays, by student (first year first) then year."""
    rows = session.execute(
        select(OrderItem, Registration, Enrollee)
        .join(Registration, Registration.id == OrderItem.registration_id)
        .join(Enrollee, Enrollee.id == Registration.enrollee_id)
        .where(OrderItem.order_id == order_id)
        .order_by(OrderItem.id)
    ).all()
    item_ids = [row.OrderItem.id for row in rows]
    ledger = {
        m.order_item_id: m
        for m in session.execute(
            select(
                LedgerMessage.order_item_id, LedgerMessage.status, LedgerMessage.tax_receipt_no
            ).where(LedgerMessage.order_item_id.in_(item_ids), LedgerMessage.kind == "payment")
        )
    }
    refunded = dict(
        session.execute(
            select(Refund.order_item_id, func.sum(Refund.amount_fen))
            .where(
                Refund.order_item_id.in_(item_ids), Refund.status == RefundStatus.SUCCEEDED.value
            )
            .group_by(Refund.order_item_id)
        ).all()
    )
    # The latest refund of each year: a school follows its request here.
    latest = {
        item_id: status
        for item_id, status in session.execute(
            select(Refund.order_item_id, Refund.status)
            .where(Refund.order_item_id.in_(item_ids))
            .order_by(Refund.id)
        )
    }
    return [
        {
            "enrollee": person,
            "village_code": registration.village_code,
            "period_year": item.period_year,
            "registration_ref": registration.ref,
            "collection_no": registration.collection_no,
            "amount_fen": item.amount_fen,
            "gov_paid_fen": item.gov_paid_fen,
            "registration_status": registration.status,
            "ledger_state": ledger_state(ledger.get(item.id)),
            "tax_receipt_no": ledger[item.id].tax_receipt_no if item.id in ledger else None,
            "refunded_fen": refunded.get(item.id, 0),
            "refund_status": latest.get(item.id),
        }
        for item, registration, person in rows
    ]

"""A school's pages (学校代缴): its unpaid students with the years a batch may pay for each, its
batches, and one batch with its QR code while it awaits payment. The reads and the batch itself
are backend.schools'; the dashboard only gathers them for a page and reads the form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from backend.auth.staff import StaffIdentity
from backend.errors import Refused
from backend.fees import PolicyBook
from backend.schools import batches, students, views

SHOWN_STUDENTS = 300
SHOWN_BATCHES = 20
STATUS_LABELS = {
    views.AWAITING_PAYMENT: "待支付",
    views.PAID: "已支付",
    views.EXPIRED: "已过期",
    "refund_due": "重复支付待退款",
    "refunded": "已全额退款",
}
YEARS_FIELD = "years-"  # the form's field per student: years-<student_ref>


def school_page(session: Session, staff: StaffIdentity, book: PolicyBook, now) -> dict[str, Any]:
    rows = session.execute(
        students.of_school(staff, status="unpaid").limit(SHOWN_STUDENTS + 1)
    ).all()
    shown = [students.student_view(book, *row) for row in rows[:SHOWN_STUDENTS]]
    made = session.execute(views.listed(staff).limit(SHOWN_BATCHES)).all()
    return {
        "students": [s for s in shown if s["years_open"]],
        "more_students": len(rows) > SHOWN_STUDENTS,
        "batches": [views.summary(row, now) for row in made],
    }


def asked_students(form: Mapping[str, str]) -> tuple[batches.StudentAsk, ...]:
    """The students the form gives a number of years (0 or empty: not in the batch)."""
    asked = []
    for name, value in form.items():
        if not name.startswith(YEARS_FIELD) or not value.strip() or value.strip() == "0":
            continue
        if not value.strip().isdigit():
            raise Refused(f"缴费年数应为整数：{value}。", reason="bad_years")
        asked.append(batches.StudentAsk(name.removeprefix(YEARS_FIELD), int(value)))
    return tuple(asked)

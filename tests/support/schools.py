"""A school's side over real HTTP, and students written for it (as a student import would)."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from backend.models import Registration
from tests.support.builders import add_person
from tests.support.regions import VILLAGE

BATCHES = "/api/staff/v1/school-batches"
STUDENTS = "/api/staff/v1/school-students"
SCHOOL = "4107210001"  # a school code, as the student import carries it


def add_student(
    session: Session,
    *,
    seq: int,
    years_left: int,
    school_code: str = SCHOOL,
    village: str = VILLAGE,
    birth: str = "20020901",
    groups: tuple[str, ...] = (),
) -> Registration:
    """A full-time student with a 2020 medical registration of `school_code`."""
    _, [registration] = add_person(
        session,
        name="李同学",
        birth=birth,
        seq=f"{seq:03d}",
        village=village,
        schemes=(("medical", 2020),),
        school_code=school_code,
        study_years_left=years_left,
        groups=groups,
    )
    return registration


def make_batch(http, base_url, headers, students, key=None):
    """POST a batch; `students` are (student_ref, years) pairs."""
    return http.post(
        base_url + BATCHES,
        json={"students": [{"student_ref": ref, "years": n} for ref, n in students]},
        headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex},
    )


def batch(http, base_url, headers, batch_no):
    return http.get(f"{base_url}{BATCHES}/{batch_no}", headers=headers)


def refund_years(http, base_url, headers, batch_no, student_ref, from_year, key=None):
    return http.post(
        f"{base_url}{BATCHES}/{batch_no}/refunds",
        json={"student_ref": student_ref, "from_year": from_year},
        headers={**headers, **({"Idempotency-Key": key} if key else {})},
    )


def scan_and_pay(http, wx, code_url, user="school-treasurer"):
    """The school's treasurer scans the batch's QR code and pays it at the fake."""
    answer = http.post(f"{wx.url}/_control/scan", json={"code_url": code_url, "user": user})
    answer.raise_for_status()
    return answer

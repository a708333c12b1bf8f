"""A school's students: the medical registrations the agency imported with the school's code
(and the later years a batch registered), inside the school account's region."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from backend.auth.staff import StaffIdentity
from backend.enrollees.groups import groups_by_year, memberships_of
from backend.errors import NotFound, Refused
from backend.fees import PolicyBook, PolicyNotFound
from backend.models import Enrollee, Registration
from backend.orders.pricing import RegistrationToPrice
from backend.schools.years import StudentToPrice
from backend.values.masking import mask_id_number, mask_name

SCHEME = "medical"  # students pay medical insurance only (the pension does not take them)


def school_of(staff: StaffIdentity) -> str:
    """The school a school account acts for (Refused for any other account)."""
    if not staff.may("school") or staff.school_code is None:
        raise Refused("只有学校账号可以查看学生和为学生代缴。", reason="not_a_school")
    return staff.school_code


def of_school(
    staff: StaffIdentity, *, period_year: int | None = None, status: str | None = None
) -> Select:
    """The school's student registrations with their holders, in the account's region, by
    village and serial; of one year or status when given."""
    query = (
        select(Registration, Enrollee)
        .join(Enrollee, Enrollee.id == Registration.enrollee_id)
        .where(
            Registration.school_code == school_of(staff),
            Registration.scheme == SCHEME,
            Registration.village_code.startswith(staff.scope_prefix, autoescape=True),
        )
        .order_by(Registration.village_code, Registration.collection_no)
    )
    if period_year is not None:
        query = query.where(Registration.period_year == period_year)
    if status is not None:
        query = query.where(Registration.status == status)
    return query


def student_view(book: PolicyBook, registration: Registration, person: Enrollee) -> dict:
    """A student registration as the school reads it: names and ID numbers masked."""
    return {
        "student_ref": registration.ref,
        "collection_no": registration.collection_no,
        "period_year": registration.period_year,
        "study_years_left": registration.study_years_left,
        "years_open": years_open(book, registration),
        "status": registration.status,
        "paid_channel": registration.paid_channel,
        "village_code": registration.village_code,
        "name_masked": mask_name(person.name),
        "id_number_masked": mask_id_number(person.id_number),
    }


def years_open(book: PolicyBook, registration: Registration) -> int | None:
    """How many years a batch may pay from this registration: its remaining study years, at
    most the policy's maximum; None while no policy prices its year."""
    try:
        policy = book.scheme_policy(
            registration.village_code, registration.scheme, registration.period_year
        )
    except PolicyNotFound:
        return None
    return min(registration.study_years_left or 1, policy.max_years)


@dataclass(frozen=True)
class Found:
    """A student a batch starts from, ready to price, and the ids of their later years."""

    student: StudentToPrice
    later: dict[int, tuple[int, str]]  # period_year -> (id, ref) of the later years registered


def to_price(session: Session, staff: StaffIdentity, refs: Iterable[str]) -> dict[str, Found]:
    """The school's student registrations named by `refs`, each with the student's special
    groups and later years; NotFound naming the refs that are not the school's students."""
    refs = list(dict.fromkeys(refs))
    rows = session.execute(
        select(Registration, Enrollee.name, Enrollee.birth_date, memberships_of(Enrollee.id))
        .join(Enrollee, Enrollee.id == Registration.enrollee_id)
        .where(
            Registration.ref.in_(refs),
            Registration.school_code == school_of(staff),
            Registration.scheme == SCHEME,
            Registration.village_code.startswith(staff.scope_prefix, autoescape=True),
        )
    ).all()
    missing = sorted(set(refs) - {row.Registration.ref for row in rows})
    if missing:
        raise NotFound(
            f"本校学生中没有参保登记 {', '.join(missing)}（或不在您的管辖范围内）。",
            reason="unknown_student",
            field="students",
        )
    later: dict[int, dict[int, tuple[int, str, str]]] = {}
    for enrollee_id, year, registration_id, ref, status in session.execute(
        select(
            Registration.enrollee_id,
            Registration.period_year,
            Registration.id,
            Registration.ref,
            Registration.status,
        ).where(
            Registration.enrollee_id.in_({row.Registration.enrollee_id for row in rows}),
            Registration.scheme == SCHEME,
        )
    ):
        later.setdefault(enrollee_id, {})[year] = (registration_id, ref, status)
    found = {}
    for registration, name, birth_date, memberships in rows:
        years = {
            year: entry
            for year, entry in later.get(registration.enrollee_id, {}).items()
            if year > registration.period_year
        }
        found[registration.ref] = Found(
            StudentToPrice(
                registration=RegistrationToPrice(
                    id=registration.id,
                    ref=registration.ref,
                    scheme=registration.scheme,
                    period_year=registration.period_year,
                    status=registration.status,
                    village_code=registration.village_code,
                    is_student=True,
                    enrollee_id=registration.enrollee_id,
                    holder_name=name,
                    birth_date=birth_date,
                    groups_by_year=groups_by_year(memberships),
                ),
                collection_no=registration.collection_no,
                study_years_left=registration.study_years_left or 1,
                later={year: status for year, (_, _, status) in years.items()},
            ),
            later={
                year: (registration_id, ref) for year, (registration_id, ref, _) in years.items()
            },
        )
    return found

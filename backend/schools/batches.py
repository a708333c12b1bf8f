"""Making a school batch: the school's students, each for some years, paid by one QR order.

Three steps, as for a resident's order (backend.orders.creation), none holding a transaction
across the network:

1. Read and price: the students named (the school's, in the account's region), their special
   groups and the registrations of their later years; each student's years priced (years.py).
2. Write, one transaction: the later years nobody registered yet (serials derived from the
   student's, years.later_collection_no), counted as registered in the progress journal and
   pushed to the bureau (backend.ledger.pushes); the order, channel school, whose items hold
   every year's registration (the unique hold: a year cannot be in a resident's order and a
   batch at once); the batch; the audit entry. A race for a registration or for the
   Idempotency-Key is decided by the database's unique constraints; the loser writes nothing.
3. Open the WeChat trade (NATIVE: a code_url the school shows as a QR code) and keep its answer.

The same Idempotency-Key and students answer the batch made first; the same key with other
students is refused. A later year registered for a batch that then expired stays registered and
is used again by the next batch: a student's year is registered once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.auth.staff import StaffIdentity
from backend.errors import Conflict, Refused
from backend.fees import PolicyBook
from backend.infra import audit
from backend.infra.idempotency import replay_of, request_hash
from backend.infra.uow import UnitOfWork
from backend.ledger.pushes import enqueue_pushes
from backend.models import PaymentOrder, Registration, SchoolBatch
from backend.models.registrations import new_ref
from backend.orders.channels import SCHOOL
from backend.orders.creation import IN_USE, open_trade, order_values, write_order
from backend.orders.pricing import PricedItem
from backend.payments.gateway import PaymentGateway
from backend.progress import journal
from backend.schools.students import SCHEME, Found, school_of, to_price
from backend.schools.years import FIELD, StudentYears, later_collection_no, price_student
from backend.states.registrations import RegistrationStatus
from backend.values.beijing import beijing_today
from backend.values.region_codes import county_of

log = logging.getLogger(__name__)

# A bound on one request, not a rule of the channel: a school with more students makes several
# batches (WeChat refunds at most 50 times per order, so smaller batches also keep early leavers'
# refunds possible; see the README).
MAX_STUDENTS = 1000
TRADE_TYPE = "NATIVE"  # the school pays by scanning a QR code


@dataclass(frozen=True)
class StudentAsk:
    student_ref: str  # a registration of the school's student: the batch pays from its year
    years: int


@dataclass(frozen=True)
class BatchAsk:
    idempotency_key: str
    students: tuple[StudentAsk, ...]
    client_ip: str


def payer_of(school_code: str) -> str:
    """The payer an order of the school is made for (orders keep it where a resident's openid
    goes): with the Idempotency-Key it finds a replayed request."""
    return f"school:{school_code}"


def create_batch(
    uow: UnitOfWork,
    gateway: PaymentGateway,
    book: PolicyBook,
    staff: StaffIdentity,
    ask: BatchAsk,
    *,
    now: datetime,
    ttl: timedelta,
    check_after: timedelta,
) -> tuple[str, bool]:
    """(the batch number, replayed). NotFound for a student not the school's; Refused for bad
    years or a reused key; Conflict for a year paid or in another order; Unavailable when
    WeChat cannot open the trade (the order is closed then, its registrations free)."""
    payer = payer_of(school_of(staff))
    digest = request_hash(students=sorted([s.student_ref, s.years] for s in ask.students))
    _check(ask.students)
    with uow as session:
        earlier = _by_key(session, payer, ask.idempotency_key, digest)
        if earlier is not None:
            return earlier, True
        found = to_price(session, staff, (s.student_ref for s in ask.students))
    _check_people(ask.students, found)
    today = beijing_today(now)
    priced = [
        price_student(book, found[s.student_ref].student, s.years, today=today)
        for s in ask.students
    ]
    first = priced[0].first
    order = order_values(
        payer=payer,
        idempotency_key=ask.idempotency_key,
        request_hash=digest,
        trade_type=TRADE_TYPE,
        channel=SCHOOL,
        total_fen=sum(p.total_fen for p in priced),
        description=f"学校代缴城乡居民医疗保险（{len(priced)}人）",
        client_ip=ask.client_ip,
        county_code=county_of(first.village_code),
        now=now,
        ttl=ttl,
        check_after=check_after,
    )
    students = [found[s.student_ref] for s in ask.students]
    try:
        with uow as session:
            batch_no = _write(session, staff, order, students, priced, now=now)
    except IntegrityError:
        # Another request with this key won the race, or another order or batch took one of
        # these registrations (or registered one of these later years) first.
        with uow as session:
            earlier = _by_key(session, payer, ask.idempotency_key, digest)
        if earlier is not None:
            return earlier, True
        raise Conflict(IN_USE, reason="in_use", field=FIELD) from None
    open_trade(uow, gateway, order, now=now)
    log.info("school batch %s: %d students, %d fen", batch_no, len(priced), order["b_total_fen"])
    return batch_no, False


def batch_no_of(order_no: str) -> str:
    """XB and the digits of the batch's order number (SI...)."""
    return "XB" + order_no[2:]


def _check(students: Sequence[StudentAsk]) -> None:
    if not students:
        raise Refused("请至少选择一名学生。", reason="no_students", field=FIELD)
    if len(students) > MAX_STUDENTS:
        raise Refused(
            f"一个批次最多 {MAX_STUDENTS} 名学生，请分批代缴。",
            reason="too_many_students",
            field=FIELD,
        )
    refs = [s.student_ref for s in students]
    if len(set(refs)) != len(refs):
        raise Refused("同一学生在批次中出现了两次。", reason="repeated_student", field=FIELD)


def _check_people(students: Sequence[StudentAsk], found: dict[str, Found]) -> None:
    """Two registrations of one person (two years of the same student) would pay a year twice."""
    people = [found[s.student_ref].student.registration.enrollee_id for s in students]
    if len(set(people)) != len(people):
        raise Refused(
            "同一学生的两个年度的登记都在批次中；请只选一个起始年度，并填写缴费年数。",
            reason="repeated_student",
            field=FIELD,
        )


def _by_key(session: Session, payer: str, key: str, digest: str) -> str | None:
    """The batch made earlier under this key, if any (Refused when for other students)."""
    earlier = session.execute(
        select(SchoolBatch.batch_no, PaymentOrder.request_hash)
        .join(PaymentOrder, PaymentOrder.id == SchoolBatch.order_id)
        .where(PaymentOrder.openid == payer, PaymentOrder.idempotency_key == key)
    ).first()
    if earlier is None:
        return None
    replay_of(earlier.request_hash, digest, what="代缴批次")
    return earlier.batch_no


def _write(
    session: Session,
    staff: StaffIdentity,
    order: dict,
    students: list[Found],
    priced: list[StudentYears],
    *,
    now: datetime,
) -> str:
    connection = session.connection()
    later = _register_later_years(connection, staff, students, priced, now=now)
    items: list[PricedItem] = []
    for n, years in enumerate(priced):
        items.append(years.first)
        items.extend(
            replace(
                years.first,
                registration_id=later[(n, year)][0],
                registration_ref=later[(n, year)][1],
                period_year=year,
            )
            for year in years.later_years
        )
    detail = {
        "school_code": staff.school_code,
        "students": len(priced),
        "registrations": len(items),
        "total_fen": order["b_total_fen"],
        "trade_type": TRADE_TYPE,
    }
    write_order(connection, order, items, actor=staff.name, detail=detail)
    batch = SchoolBatch(
        batch_no=batch_no_of(order["b_order_no"]),
        school_code=staff.school_code,
        county_code=order["b_county_code"],
        order_id=order["id"],
        student_count=len(priced),
        year_count=len(items),
        created_by=staff.name,
        created_at=now,
    )
    session.add(batch)
    audit.write(
        session,
        audit.Note(
            actor=staff.name,
            action="school_batch.created",
            region_code=batch.county_code,
            target=batch.batch_no,
            detail={**detail, "order_no": order["b_order_no"]},
        ),
    )
    session.flush()
    return batch.batch_no


def _register_later_years(
    connection: Connection,
    staff: StaffIdentity,
    students: list[Found],
    priced: list[StudentYears],
    *,
    now: datetime,
) -> dict[tuple[int, int], tuple[int, str]]:
    """(id, ref) of every later year by (student's position, year), registering the missing
    ones: counted as registered in the progress journal and pushed to the bureau."""
    later: dict[tuple[int, int], tuple[int, str]] = {}
    new: dict[tuple[int, int], dict] = {}
    for n, (found, years) in enumerate(zip(students, priced, strict=True)):
        start = found.student.registration
        for year in years.later_years:
            if year in found.later:
                later[(n, year)] = found.later[year]
                continue
            new[(n, year)] = {
                "ref": new_ref(),
                "enrollee_id": start.enrollee_id,
                "scheme": SCHEME,
                "period_year": year,
                "collection_no": later_collection_no(found.student.collection_no, year),
                "village_code": start.village_code,
                "status": RegistrationStatus.UNPAID.value,
                "school_code": staff.school_code,
                "study_years_left": found.student.study_years_left - (year - start.period_year),
                "created_at": now,
                "updated_at": now,
            }
    if not new:
        return later
    connection.execute(insert(Registration.__table__), list(new.values()))
    by_ref = dict(
        connection.execute(
            select(Registration.ref, Registration.id).where(
                Registration.ref.in_([row["ref"] for row in new.values()])
            )
        ).all()
    )
    later.update({key: (by_ref[row["ref"]], row["ref"]) for key, row in new.items()})
    journal.registered(
        connection,
        day=journal.day_of(now),
        added=[(row["village_code"], SCHEME, row["period_year"]) for row in new.values()],
    )
    enqueue_pushes(connection, list(by_ref.values()), now=now)
    return later

"""Giving back a student's unused years: a student whose study ends early (graduates, leaves,
transfers) gets back the years of a paid batch from the first one they will not study.

Who may ask: the school, for its own batches (it knows first when a student leaves), and
reconciliation staff of the batch's county (who refund any payment). Agency and viewer accounts
may not.

The refunds are the ordinary ones (backend.refunds.service), one per year (order item), in full,
recorded together in one transaction (all or none), then sent to WeChat as partial refunds of
the batch's order. Each one, once WeChat gives the money back, frees its registration (unpaid)
and writes its reversal message to the bureau; the student's earlier years and the other
students stay paid. Years already given back are left out; a year whose refund is still in
progress stops the request (Conflict), as for any refund.

The same Idempotency-Key and request answer the refunds made first: each refund carries the key
with its year ('<key>/<year>') and the request's hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.auth.staff import StaffIdentity
from backend.errors import Conflict, NotFound
from backend.infra.idempotency import replay_of, request_hash
from backend.infra.uow import UnitOfWork
from backend.models import OrderItem, Refund, Registration
from backend.refunds import service as refunds
from backend.refunds.rules import GIVEN_BACK, ONE_AT_A_TIME
from backend.schools.views import visible
from backend.states.refunds import IN_PROGRESS

REASON = "other"  # the refund reasons are the refund service's; the note says why
NOTE = "学业提前结束，退还{year}年度起未使用学年的医疗保险费"
KEY_SUFFIX = len("/2020")  # what each refund adds to the request's Idempotency-Key


@dataclass(frozen=True)
class YearsRefundAsk:
    batch_no: str
    student_ref: str  # any of the student's registrations in the batch
    from_year: int  # the first year the student will not study
    note: str | None = None
    idempotency_key: str | None = None

    def digest(self) -> str:
        return request_hash(
            batch_no=self.batch_no, student_ref=self.student_ref, from_year=self.from_year
        )


def refund_unused_years(
    uow: UnitOfWork, staff: StaffIdentity, ask: YearsRefundAsk, *, now: datetime
) -> tuple[list[str], bool]:
    """Record the refunds of the student's years from `from_year` on: (their numbers, oldest year
    first; replayed). NotFound: no such batch for the caller, or no such student in it; Conflict:
    the batch is not paid, those years are given back already, or a refund of one is in progress;
    Refused: a reused key. The caller sends them (refunds.submit)."""
    actor = f"staff:{staff.name}"
    digest = ask.digest()
    try:
        with uow as session:
            earlier = _replay(session, actor, ask, digest)
            if earlier:
                return earlier, True
            return _record(session, staff, ask, digest, actor=actor, now=now), False
    except IntegrityError:
        # The same key twice at once, or another request for one of these years won the race.
        with uow as session:
            earlier = _replay(session, actor, ask, digest)
        if earlier:
            return earlier, True
        raise Conflict(ONE_AT_A_TIME, reason="refund_in_progress") from None


def _replay(session: Session, actor: str, ask: YearsRefundAsk, digest: str) -> list[str]:
    if not ask.idempotency_key:
        return []
    made = session.execute(
        select(Refund.refund_no, Refund.request_hash)
        .where(
            Refund.requested_by == actor,
            Refund.idempotency_key.startswith(f"{ask.idempotency_key}/", autoescape=True),
        )
        .order_by(Refund.id)
    ).all()
    for _, stored in made:
        replay_of(stored, digest, what="退款申请")
    return [refund_no for refund_no, _ in made]


def _record(
    session: Session,
    staff: StaffIdentity,
    ask: YearsRefundAsk,
    digest: str,
    *,
    actor: str,
    now: datetime,
) -> list[str]:
    batch, order = visible(session, staff, ask.batch_no)
    student = session.scalar(
        select(Registration.enrollee_id)
        .join(OrderItem, OrderItem.registration_id == Registration.id)
        .where(OrderItem.order_id == batch.order_id, Registration.ref == ask.student_ref)
    )
    if student is None:
        raise NotFound(
            f"代缴批次 {batch.batch_no} 中没有学生 {ask.student_ref}。",
            reason="unknown_student",
            field="student_ref",
        )
    years = session.execute(
        select(OrderItem.id, OrderItem.amount_fen, OrderItem.period_year, Registration.ref)
        .join(Registration, Registration.id == OrderItem.registration_id)
        .where(
            OrderItem.order_id == batch.order_id,
            Registration.enrollee_id == student,
            OrderItem.period_year >= ask.from_year,
        )
        .order_by(OrderItem.period_year)
    ).all()
    if not years:
        raise NotFound(
            f"该学生在代缴批次 {batch.batch_no} 中没有{ask.from_year}年度及以后的学年。",
            reason="no_such_years",
            field="from_year",
        )
    taken = _taken(session, [year.id for year in years])
    if any(in_progress for _, in_progress in taken.values()):
        raise Conflict(ONE_AT_A_TIME, reason="refund_in_progress")
    left = [year for year in years if year.amount_fen > taken.get(year.id, (0, False))[0]]
    if not left:
        raise Conflict(f"该学生{ask.from_year}年度起的学年已全部退款。", reason="fully_refunded")
    note = ask.note or NOTE.format(year=ask.from_year)
    return [
        refunds.record_request(
            session,
            refunds.RefundAsk(
                order_no=order.order_no,
                registration_ref=year.ref,
                reason=REASON,
                note=note,
                idempotency_key=(
                    f"{ask.idempotency_key}/{year.period_year}" if ask.idempotency_key else None
                ),
            ),
            actor=actor,
            now=now,
            digest=digest,
        )
        for year in left
    ]


def _taken(session: Session, item_ids: list[int]) -> dict[int, tuple[int, bool]]:
    """Per order item: fen given back or on its way, and whether a refund is in progress."""
    found: dict[int, tuple[int, bool]] = {}
    for item_id, status, fen in session.execute(
        select(Refund.order_item_id, Refund.status, func.sum(Refund.amount_fen))
        .where(
            Refund.order_item_id.in_(item_ids),
            Refund.status.in_([s.value for s in GIVEN_BACK]),
        )
        .group_by(Refund.order_item_id, Refund.status)
    ):
        fen_before, busy = found.get(item_id, (0, False))
        found[item_id] = (fen_before + fen, busy or status in {s.value for s in IN_PROGRESS})
    return found


def refund_views(session: Session, numbers: list[str]) -> list[dict[str, Any]]:
    """The refunds numbered, oldest year first, with their year and where each stands."""
    rows = session.execute(
        select(Refund, Registration.ref, OrderItem.period_year)
        .join(OrderItem, OrderItem.id == Refund.order_item_id)
        .join(Registration, Registration.id == OrderItem.registration_id)
        .where(Refund.refund_no.in_(numbers))
        .order_by(OrderItem.period_year)
    ).all()
    return [
        {
            "refund_no": refund.refund_no,
            "registration_ref": ref,
            "period_year": year,
            "amount_fen": refund.amount_fen,
            "status": refund.status,
        }
        for refund, ref, year in rows
    ]

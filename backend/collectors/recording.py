"""Recording what a collecting unit collected: its open batch, one registration at a time.

Each recorded registration is priced by the fee engine (a pension grade the person chose, the
lowest open to them by default) and held, exactly as an order holds it: the registration's guarded
`hold` move (unpaid -> pending) and the item's held_registration_id, unique. Whoever moved the
registration first wins: a registration paid or being paid in WeChat cannot be recorded, and one
recorded cannot be ordered in WeChat. The batch row is locked while an item is added or removed,
so closing the batch waits for it and never misses or half-counts one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.auth.staff import StaffIdentity
from backend.collectors.units import scope_of, unit_of
from backend.enrollees.groups import groups_by_year
from backend.errors import Conflict, DomainError, NotFound, Refused
from backend.fees import PolicyBook
from backend.government.eligible import candidates
from backend.infra import audit
from backend.infra.uow import UnitOfWork
from backend.models import CollectingUnit, CollectorBatch, CollectorBatchItem, Registration
from backend.orders.pricing import RegistrationToPrice, price_item
from backend.states.collectors import CollectorBatchStatus
from backend.states.registrations import PAID_UP, RegistrationStatus
from backend.states.transitions import REGISTRATIONS
from backend.values.beijing import beijing_today
from backend.values.labels import registration_label
from backend.values.masking import mask_name


@dataclass(frozen=True)
class Collected:
    """A payment the unit took: whose (a registration ref or its collection_no) and, for the
    pension, the grade in yuan (None: the lowest grade open to the person)."""

    registration_ref: str | None = None
    collection_no: str | None = None
    grade_yuan: int | None = None

    @property
    def key(self) -> str:
        return self.registration_ref or self.collection_no or ""


def open_batch(uow: UnitOfWork, staff: StaffIdentity) -> tuple[str, bool]:
    """The unit's open batch, made when it has none; (batch_no, made now)."""
    now = uow.clock.now()
    with uow as session:
        unit = unit_of(session, staff)
        batch, made = current_batch(session, staff, unit, now=now)
        return batch.batch_no, made


def current_batch(
    session: Session, staff: StaffIdentity, unit: CollectingUnit, *, now: datetime
) -> tuple[CollectorBatch, bool]:
    found = _open_of(session, unit)
    if found is not None:
        return found, False
    serial = session.scalar(
        select(func.count()).select_from(CollectorBatch).where(CollectorBatch.unit_id == unit.id)
    )
    batch = CollectorBatch(
        # County, unit, the unit's serial: unique however many units and batches there are.
        batch_no=f"C{unit.county_code[:6]}-{unit.id}-{serial + 1}",
        unit_id=unit.id,
        region_code=unit.region_code,
        county_code=unit.county_code,
        status=CollectorBatchStatus.OPEN.value,
        opened_by=staff.name,
    )
    try:
        with session.begin_nested():  # two first records at once: the unique index lets one in
            session.add(batch)
    except IntegrityError:
        found = _open_of(session, unit)
        assert found is not None
        return found, False
    audit.record(
        session,
        actor=staff.name,
        action="collector_batch.opened",
        region_code=unit.county_code,
        target=batch.batch_no,
        detail={"unit": unit.name, "kind": unit.kind},
    )
    return batch, True


def add(
    uow: UnitOfWork, book: PolicyBook, staff: StaffIdentity, batch_no: str, collected: Collected
) -> dict[str, Any]:
    """Record one payment in the unit's open batch; what was recorded."""
    now = uow.clock.now()
    with uow as session:
        unit = unit_of(session, staff)
        batch = writable(session, unit, batch_no)
        item = record(
            session, book, staff=staff, unit=unit, batch=batch, collected=collected, now=now
        )
        audit.record(
            session,
            actor=staff.name,
            action="collector_batch.recorded",
            region_code=batch.county_code,
            target=batch.batch_no,
            detail={
                "collection_no": item.collection_no,
                "grade_yuan": item.grade_yuan,
                "amount_fen": item.amount_fen,
            },
        )
        return {
            "batch_no": batch.batch_no,
            "collection_no": item.collection_no,
            "scheme": item.scheme,
            "period_year": item.period_year,
            "grade_yuan": item.grade_yuan,
            "amount_fen": item.amount_fen,
            "gov_paid_fen": item.gov_paid_fen,
        }


def remove(uow: UnitOfWork, staff: StaffIdentity, batch_no: str, collection_no: str) -> None:
    """Take a registration out of the unit's open batch (recorded by mistake): released."""
    now = uow.clock.now()
    with uow as session:
        unit = unit_of(session, staff)
        batch = writable(session, unit, batch_no)
        item = session.scalar(
            select(CollectorBatchItem).where(
                CollectorBatchItem.batch_id == batch.id,
                CollectorBatchItem.collection_no == collection_no,
            )
        )
        if item is None:
            raise NotFound(
                f"批次 {batch_no} 中没有征集流水号 {collection_no}。", reason="not_in_batch"
            )
        REGISTRATIONS.apply(
            session,
            "release",
            Registration.id == item.held_registration_id,
            values={"updated_at": now},
        )
        session.execute(delete(CollectorBatchItem).where(CollectorBatchItem.id == item.id))
        audit.record(
            session,
            actor=staff.name,
            action="collector_batch.removed",
            region_code=batch.county_code,
            target=batch.batch_no,
            detail={"collection_no": collection_no, "amount_fen": item.amount_fen},
        )


def writable(session: Session, unit: CollectingUnit, batch_no: str) -> CollectorBatch:
    """The unit's batch, locked, if it is still open (NotFound for another unit's)."""
    batch = session.scalar(
        select(CollectorBatch)
        .where(CollectorBatch.batch_no == batch_no, CollectorBatch.unit_id == unit.id)
        .with_for_update()
    )
    if batch is None:
        raise NotFound(f"没有代征批次 {batch_no}。", reason="batch_not_found")
    if batch.status != CollectorBatchStatus.OPEN.value:
        raise Conflict(
            f"代征批次 {batch_no} 已{'作废' if batch.status == 'cancelled' else '生成单据号'}，"
            "不能再增减收缴记录；新的收缴请记入新批次。",
            reason="batch_not_open",
        )
    return batch


def record(
    session: Session,
    book: PolicyBook,
    *,
    staff: StaffIdentity,
    unit: CollectingUnit,
    batch: CollectorBatch,
    collected: Collected,
    now: datetime,
) -> CollectorBatchItem:
    """Price and hold one registration in `batch` (open, locked by the caller), in the caller's
    transaction; nothing is written when it raises."""
    row = _find(session, unit, collected)
    if row is None or not staff.handles(row.scheme):
        raise NotFound(
            f"在本单位收缴范围内找不到参保登记 {collected.key}。", reason="registration_not_found"
        )
    label = f"{mask_name(row.name)}的{registration_label(row.scheme, row.period_year)}"
    _check_free(session, batch, row, label)
    try:
        priced = price_item(
            book,
            RegistrationToPrice(
                id=row.id,
                ref=row.ref,
                scheme=row.scheme,
                period_year=row.period_year,
                status=RegistrationStatus.UNPAID.value,
                village_code=row.village_code,
                is_student=row.school_code is not None,
                enrollee_id=row.enrollee_id,
                holder_name=row.name,
                birth_date=row.birth_date,
                groups_by_year=groups_by_year(row.memberships),
            ),
            grade_yuan=collected.grade_yuan,
            today=beijing_today(now),
        )
    except DomainError as exc:  # the same refusal, without the order form's field
        raise type(exc)(exc.message, reason=exc.reason) from None
    if not REGISTRATIONS.apply(
        session, "hold", Registration.id == row.id, values={"updated_at": now}
    ):
        raise Conflict(f"{label}刚刚已被缴费或收缴，请刷新后再试。", reason="in_use")
    item = CollectorBatchItem(
        batch_id=batch.id,
        registration_id=row.id,
        held_registration_id=row.id,
        collection_no=row.collection_no,
        scheme=row.scheme,
        period_year=row.period_year,
        grade_yuan=priced.grade_yuan,
        amount_fen=priced.amount_fen,
        gov_paid_fen=priced.gov_paid_fen,
        contribution_subsidy_fen=priced.contribution_subsidy_fen,
        recorded_by=staff.name,
        recorded_at=now,
    )
    session.add(item)
    session.flush()
    return item


def _find(session: Session, unit: CollectingUnit, collected: Collected):
    if not collected.registration_ref and not collected.collection_no:
        raise Refused("请给出参保登记编号或征集流水号。", reason="no_registration")
    wanted = or_(
        *([Registration.ref == collected.registration_ref] if collected.registration_ref else []),
        *(
            [Registration.collection_no == collected.collection_no]
            if collected.collection_no
            else []
        ),
    )
    return session.execute(
        candidates()
        .add_columns(Registration.enrollee_id)
        .where(
            wanted,
            Registration.village_code.startswith(scope_of(unit), autoescape=True),
        )
        .limit(1)
    ).first()


def _check_free(session: Session, batch: CollectorBatch, row, label: str) -> None:
    """Conflict, saying why, unless the registration is unpaid."""
    status = RegistrationStatus(row.status)
    if status in PAID_UP:
        raise Conflict(f"{label}已缴费，无需收缴。", reason="already_paid")
    if status is RegistrationStatus.PENDING:
        holder = session.scalar(
            select(CollectorBatchItem.batch_id).where(
                CollectorBatchItem.held_registration_id == row.id
            )
        )
        if holder == batch.id:
            raise Conflict(f"{label}已在本批次中。", reason="already_recorded")
        if holder is not None:
            raise Conflict(f"{label}已由代征单位登记收缴。", reason="in_collector_batch")
        raise Conflict(
            f"{label}正在微信缴费中，请等待其完成或关闭后再收缴。", reason="in_wechat_order"
        )


def _open_of(session: Session, unit: CollectingUnit) -> CollectorBatch | None:
    return session.scalar(
        select(CollectorBatch).where(
            CollectorBatch.unit_id == unit.id,
            CollectorBatch.status == CollectorBatchStatus.OPEN.value,
        )
    )

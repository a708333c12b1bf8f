"""Drafting, reading and cancelling government-paid batches.

One draft at a time per county × scheme × period_year: checked here to give a clear message, and
guaranteed by a unique partial index, so two clerks drafting at once cannot both succeed.
Every read and write is limited to the caller's region; a batch outside it is not found.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.auth.staff import StaffIdentity
from backend.errors import Conflict, NotFound, Refused
from backend.fees import PolicyBook
from backend.government.eligible import candidates, government_quote
from backend.infra import audit
from backend.infra.uow import UnitOfWork
from backend.models import GovernmentBatch, GovernmentBatchItem, Region, Registration
from backend.states.government import BatchStatus
from backend.states.registrations import RegistrationStatus
from backend.states.transitions import GOVERNMENT_BATCHES
from backend.values.labels import registration_label

SCHEME_LETTER = {"pension": "P", "medical": "M"}


@dataclass(frozen=True)
class BatchKey:
    county: str  # 12 digits
    scheme: str
    period_year: int

    def where(self):
        return (
            GovernmentBatch.county_code == self.county,
            GovernmentBatch.scheme == self.scheme,
            GovernmentBatch.period_year == self.period_year,
        )


def draft(uow: UnitOfWork, book: PolicyBook, staff: StaffIdentity, key: BatchKey) -> str:
    """List the county's unpaid registrations the government pays in full; the new batch_no.

    NotFound outside the caller's region, Conflict while another draft of the key exists,
    Refused when there is nobody to list.
    """
    label = registration_label(key.scheme, key.period_year)
    with uow as session:
        county = session.get(Region, key.county)
        if county is None or county.level != "county" or not staff.sees(key.county):
            raise NotFound("该区县不存在或不在您的管辖范围内。", reason="county_not_found")
        if not staff.handles(key.scheme):
            raise Refused(f"您所在部门不经办{label}。", reason="other_department")
        pending = session.scalar(
            select(GovernmentBatch.batch_no).where(
                *key.where(), GovernmentBatch.status == BatchStatus.DRAFT.value
            )
        )
        if pending is not None:
            raise Conflict(
                f"{county.name}{label}已有待确认的代缴批次 {pending}，请先确认或作废它。",
                reason="draft_exists",
            )
        rows = session.execute(
            candidates()
            .where(
                Registration.village_code.startswith(key.county[:6], autoescape=True),
                Registration.scheme == key.scheme,
                Registration.period_year == key.period_year,
                Registration.status == RegistrationStatus.UNPAID.value,
            )
            .order_by(Registration.village_code, Registration.collection_no)
        ).all()
        priced = [(row, q) for row in rows if (q := government_quote(book, row)) is not None]
        if not priced:
            raise Refused(
                f"{county.name}{label}没有需要政府全额代缴的未缴费参保登记。",
                reason="nothing_to_pay",
            )
        batch = GovernmentBatch(
            batch_no=_batch_no(session, key),
            county_code=key.county,
            scheme=key.scheme,
            period_year=key.period_year,
            status=BatchStatus.DRAFT.value,
            item_count=len(priced),
            total_fen=sum(q.gov_paid_fen for _, q in priced),
            created_by=staff.name,
        )
        session.add(batch)
        _flush_or_conflict(session, f"{county.name}{label}已有待确认的代缴批次，请刷新后查看。")
        session.execute(
            insert(GovernmentBatchItem),
            [
                {
                    "batch_id": batch.id,
                    "registration_id": row.id,
                    "applied_group": q.applied_group,
                    "grade_yuan": q.grade_yuan,
                    "gov_paid_fen": q.gov_paid_fen,
                    "contribution_subsidy_fen": q.contribution_subsidy_fen,
                    "outcome": "listed",
                }
                for row, q in priced
            ],
        )
        audit.write(
            session,
            audit.Note(
                actor=staff.name,
                action="government_batch.drafted",
                region_code=key.county,
                target=batch.batch_no,
                detail={"item_count": batch.item_count, "total_fen": batch.total_fen},
            ),
        )
        return batch.batch_no


def cancel(uow: UnitOfWork, staff: StaffIdentity, batch_no: str) -> None:
    """Cancel a draft (Conflict once confirmed; cancelling twice changes nothing)."""
    now = uow.clock.now()
    with uow as session:
        batch = visible(session, staff, batch_no)
        moved = GOVERNMENT_BATCHES.apply(
            session,
            "cancel",
            GovernmentBatch.id == batch.id,
            values={"updated_at": now},
            audit_note=audit.Note(
                actor=staff.name,
                action="government_batch.cancelled",
                region_code=batch.county_code,
                target=batch_no,
            ),
        )
        if not moved and _status(session, batch.id) == BatchStatus.CONFIRMED.value:
            raise Conflict(f"代缴批次 {batch_no} 已确认，不能作废。", reason="batch_confirmed")


def visible(session: Session, staff: StaffIdentity, batch_no: str) -> GovernmentBatch:
    batch = session.scalar(select(GovernmentBatch).where(GovernmentBatch.batch_no == batch_no))
    # Another department's batch (人社 pension, 医保 medical) is as invisible as another region's.
    if batch is None or not staff.sees(batch.county_code) or not staff.handles(batch.scheme):
        raise NotFound(f"没有代缴批次 {batch_no}。", reason="batch_not_found")
    return batch


def _status(session: Session, batch_id: int) -> str:
    """The batch's status as committed now (not the copy loaded before a guarded update)."""
    return session.scalar(select(GovernmentBatch.status).where(GovernmentBatch.id == batch_id))


def _batch_no(session: Session, key: BatchKey) -> str:
    """G + county (6) + year + P/M + the key's serial: G4107212019P0001."""
    serial = session.scalar(select(func.count()).select_from(GovernmentBatch).where(*key.where()))
    return f"G{key.county[:6]}{key.period_year}{SCHEME_LETTER[key.scheme]}{serial + 1:04d}"


def _flush_or_conflict(session: Session, message: str) -> None:
    # Two drafts of one key racing past the check above: the unique index lets one through.
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(message, reason="draft_exists") from exc

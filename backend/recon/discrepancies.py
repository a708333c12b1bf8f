"""What reconciliation staff do with discrepancies: list them, look at one, resolve an open one.

Reconciliation writes the rows (backend/recon/reconcile.py); a person resolves what it left open,
with a reason, recorded with who did it and when (design.md section 9).

Region scope. A discrepancy belongs to a county (its order's registrations), or to no county when
the order is not ours (a payment on our merchant account we know nothing of). Staff see a row when
the whole county lies inside their region: city staff see every county, county staff their own,
township and village staff none (a county's money is not theirs to reconcile). Rows with no county
concern the whole merchant account: only staff whose region is the whole city see them. In prefix
terms (`regions.scope_prefix`): a county row is visible when its county starts with the prefix and
the prefix is at most 6 digits; a row without county when the prefix is at most 4 digits. The
empty prefix (the command line) sees everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, false, func, or_, select, update
from sqlalchemy.orm import Session

from backend import errors
from backend.infra import audit
from backend.infra.uow import UnitOfWork
from backend.models import ReconDiscrepancy
from backend.values.beijing import beijing_text

REASON_MAX = 255
CITY_DIGITS = 4
COUNTY_DIGITS = 6

HELD = (
    "该差异（本方有支付而微信对账单暂缺）正在等待之后的对账单：跨零点的支付最多等待 2 天，"
    "期满仍未出现才转为待处理。"
)


class NotFound(errors.NotFound):
    """No such discrepancy inside the caller's region."""


class NotResolvable(errors.Conflict):
    """The discrepancy is not open: resolved already, or not waiting for a person."""


class InvalidReason(errors.Refused):
    """The reason is blank or too long."""


@dataclass(frozen=True)
class Page:
    items: list[ReconDiscrepancy]
    total: int  # rows matching the filters, over all pages


def visible(scope_prefix: str) -> ColumnElement[bool]:
    """The rows staff with this region prefix may see (the rule in the module docstring)."""
    conditions: list[ColumnElement[bool]] = []
    if len(scope_prefix) <= COUNTY_DIGITS:
        conditions.append(ReconDiscrepancy.county.startswith(scope_prefix, autoescape=True))
    if len(scope_prefix) <= CITY_DIGITS:
        conditions.append(ReconDiscrepancy.county.is_(None))
    return or_(*conditions) if conditions else false()


def list_discrepancies(
    session: Session,
    *,
    scope_prefix: str,
    bill_date: date | None = None,
    status: str | None = None,
    kind: str | None = None,
    county: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page:
    """Discrepancies inside the region, newest bill day first, then as reconciliation found them.

    `county`: 6 digits; a county outside the region yields nothing, as if it had no rows.
    """
    query = select(ReconDiscrepancy).where(visible(scope_prefix))
    if bill_date is not None:
        query = query.where(ReconDiscrepancy.bill_date == bill_date)
    if status is not None:
        query = query.where(ReconDiscrepancy.status == status)
    if kind is not None:
        query = query.where(ReconDiscrepancy.kind == kind)
    if county is not None:
        query = query.where(ReconDiscrepancy.county == county)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = session.scalars(
        query.order_by(ReconDiscrepancy.bill_date.desc(), ReconDiscrepancy.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return Page(items=list(items), total=total)


def get(session: Session, discrepancy_id: int, *, scope_prefix: str) -> ReconDiscrepancy:
    found = session.scalar(
        select(ReconDiscrepancy).where(ReconDiscrepancy.id == discrepancy_id, visible(scope_prefix))
    )
    if found is None:
        raise NotFound("没有找到该差异记录，或它不在您的管辖范围内。")
    return found


def resolve(
    uow: UnitOfWork,
    discrepancy_id: int,
    *,
    reason: str,
    actor: str,
    now: datetime,
    scope_prefix: str,
    city_code: str | None = None,
) -> ReconDiscrepancy:
    """Mark an open discrepancy resolved by `actor` (a person's name) with `reason`, and audit it.

    `city_code`: where the entry of a discrepancy of no county is filed when the caller sees
    every region (the command line).

    The row is locked while it is checked and written, and the write only lands on a row still
    open, so two clerks resolving at once cannot both succeed: the second gets NotResolvable.
    """
    reason = (reason or "").strip()
    if not reason:
        raise InvalidReason("请填写处理原因。", field="reason")
    if len(reason) > REASON_MAX:
        raise InvalidReason(f"处理原因不能超过 {REASON_MAX} 个字。", field="reason")
    with uow as session:
        found = session.scalar(
            select(ReconDiscrepancy)
            .where(ReconDiscrepancy.id == discrepancy_id, visible(scope_prefix))
            .with_for_update()
        )
        if found is None:
            raise NotFound("没有找到该差异记录，或它不在您的管辖范围内。")
        if found.status != "open":
            raise NotResolvable(why_not_resolvable(found))
        moved = session.execute(
            update(ReconDiscrepancy)
            .where(ReconDiscrepancy.id == found.id, ReconDiscrepancy.status == "open")
            .values(status="resolved", resolution=reason, resolved_by=actor, resolved_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if moved != 1:  # another clerk got there first (SQLite has no row locks)
            session.expire(found)
            raise NotResolvable(why_not_resolvable(found))
        audit.record(
            session,
            actor=actor,
            action="discrepancy.resolved",
            target=found.order_no,
            region_code=_audit_region(found.county, scope_prefix) or city_code,
            detail={
                "discrepancy_id": found.id,
                "bill_date": found.bill_date.isoformat(),
                "kind": found.kind,
                "order_no": found.order_no,
                "refund_no": found.refund_no,
                "reason": reason,
            },
        )
        session.flush()
        session.refresh(found)
        return found


def why_not_resolvable(found: ReconDiscrepancy) -> str:
    """The clerk's answer when a discrepancy is not open."""
    if found.status == "resolved":
        at = beijing_text(found.resolved_at) if found.resolved_at else ""
        return f"该差异已由 {found.resolved_by} 于 {at} 处理，不能重复处理。"
    if found.status == "held":
        return HELD
    if found.status == "fixed":
        done = f"（{found.fix}）" if found.fix else ""
        return f"该差异已由系统自动处理{done}，无需人工处理。"
    if found.status == "cleared":
        return "该差异在之后的对账中已不存在，无需处理。"
    return f"该差异状态为 {found.status}，不能人工处理。"


def _audit_region(county: str | None, scope_prefix: str) -> str | None:
    """The region the audit entry is filed under, so the staff who see the row see the entry."""
    if county:
        return county.ljust(12, "0")
    return scope_prefix.ljust(12, "0") if scope_prefix else None

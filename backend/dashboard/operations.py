"""What the operations page shows, each part to the roles that may see it, inside the viewer's
region: the money watch's broken days (city accounts: the money is the merchant account's), open
reconciliation discrepancies and today's settlement totals (recon), the tax ledger outbox with
its dead letters (admin).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from backend.auth.staff import StaffIdentity
from backend.models import LedgerMessage, MoneyCheck, ReconDiscrepancy, Region, Registration
from backend.models.registrations import SCHEMES
from backend.money import watch
from backend.recon import discrepancies, settlement
from backend.states.ledger import MessageStatus

SHOWN = 50  # rows of a list on the page; the total is always given
CITY_DIGITS = 4  # a scope prefix this short is the whole city's
KIND_LABELS = {
    "missing_in_ours": "本方缺失（微信有、本方无）",
    "missing_in_bill": "账单缺失（本方有、微信无）",
    "amount_mismatch": "金额不符",
    "status_mismatch": "状态不符",
    "duplicate_payment": "重复支付",
}


@dataclass(frozen=True)
class SettlementLine:
    county_code: str
    county: str
    scheme: str
    payments: int  # rows of payments (duplicates included)
    paid_fen: int
    refunded_fen: int
    net_fen: int


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    kind: str
    attempts: int
    last_error: str | None
    created_at: datetime


@dataclass(frozen=True)
class Outbox:
    counts: dict[str, int]
    dead: list[DeadLetter]


@dataclass(frozen=True)
class Operations:
    open_discrepancies: list[ReconDiscrepancy]
    open_total: int
    settlement: list[SettlementLine]
    outbox: Outbox | None  # admins only
    money_broken: list[MoneyCheck]  # days the money does not add up (city accounts only)
    # City accounts: every day checked added up, and the newest of them (None: never checked).
    money_total: watch.Total | None = None
    money_newest: MoneyCheck | None = None


def operations(session: Session, *, staff: StaffIdentity, today: date) -> Operations:
    city = len(staff.scope_prefix) <= CITY_DIGITS  # the money is the merchant account's
    found = discrepancies.list_discrepancies(
        session, scope_prefix=staff.scope_prefix, status="open", limit=SHOWN
    )
    return Operations(
        open_discrepancies=found.items,
        open_total=found.total,
        settlement=settlement_today(session, staff=staff, today=today),
        outbox=outbox(session, staff=staff) if staff.may("admin") else None,
        money_broken=watch.broken(session) if city else [],
        money_total=watch.total_of(session) if city else None,
        money_newest=watch.newest(session) if city else None,
    )


def settlement_today(
    session: Session, *, staff: StaffIdentity, today: date
) -> list[SettlementLine]:
    """Per county of the region and scheme handled: what WeChat moved today (settlement files'
    totals). A region below a county has no settlement of its own: nothing."""
    if len(staff.scope_prefix) > 6:
        return []
    counties = session.execute(
        select(Region.code, Region.name)
        .where(
            Region.level == "county",
            Region.code.startswith(staff.scope_prefix, autoescape=True),
        )
        .order_by(Region.code)
    ).all()
    lines = []
    for county in counties:
        for scheme in SCHEMES:
            if not staff.handles(scheme):
                continue
            records = list(settlement.rows(session, day=today, county=county.code, scheme=scheme))
            if not records:
                continue
            paid, refunded, net = settlement.totals(records)
            payments = sum(1 for r in records if r["kind"] != settlement.REFUND)
            lines.append(
                SettlementLine(county.code, county.name, scheme, payments, paid, refunded, net)
            )
    return lines


def outbox(session: Session, *, staff: StaffIdentity) -> Outbox:
    """The region's tax ledger messages (of the schemes the staff member handles) by status, and
    its latest dead letters."""
    inside = and_(
        Registration.village_code.startswith(staff.scope_prefix, autoescape=True),
        Registration.scheme.in_([s for s in SCHEMES if staff.handles(s)]),
    )
    counted = session.execute(
        select(LedgerMessage.status, func.count())
        .join(Registration, Registration.id == LedgerMessage.registration_id)
        .where(inside)
        .group_by(LedgerMessage.status)
    ).all()
    dead = session.execute(
        select(
            LedgerMessage.message_id,
            LedgerMessage.kind,
            LedgerMessage.attempts,
            LedgerMessage.last_error,
            LedgerMessage.created_at,
        )
        .join(Registration, Registration.id == LedgerMessage.registration_id)
        .where(inside, LedgerMessage.status == MessageStatus.DEAD.value)
        .order_by(LedgerMessage.id.desc())
        .limit(SHOWN)
    ).all()
    return Outbox(
        counts={**{s.value: 0 for s in MessageStatus}, **dict(counted)},  # type: ignore[arg-type]
        dead=[DeadLetter(*row) for row in dead],
    )

"""The money watch: every Beijing day, the money WeChat took must add up, to the fen, to the
money we credited, the money given back and the money held in open discrepancies; and every
registration credited must have exactly one payment message to the tax ledger.

The equation, per Beijing day D, integer fen:

    took(D) = credited(D) + refunded(D) + in_discrepancies(D)

The day of a payment is the day WeChat took it: `payment_order.billed_on` when reconciliation
found it in a neighbouring day's bill (a payment near midnight), else the Beijing date of its
`paid_at`. Only WeChat money takes part: every payment_order is a WeChat Pay trade (the
mini-program's JSAPI orders, the village QR code's and the schools' NATIVE orders); collector
and government money never makes a payment_order and never passes through WeChat, so it is
left out (and so are government payment messages, which carry no order item).

- took(D): WeChat's own figure, the payment total of its bill of D (`wechat_bill.settlement_fen`;
  0 for a day WeChat says has no bill). Before a readable bill is stored (the day has not ended,
  the bill is not pulled yet, or it could not be read): the trades we know as paid, the sum of
  `paid_fen` of our orders where money was taken (paid, refund_due, refunded) on D.
- credited(D): what we told the tax ledger we received, for D's payments: the amount of the
  order item of every payment message, minus the refund amount of every reversal message (a
  refund of a credited payment). A registration credited twice counts twice.
- refunded(D): money given back for D's payments: refunds that succeeded (on whatever day).
- in_discrepancies(D): money reconciliation found but could not put on our books, for D:
  the duplicate payments still due back (refund_due orders: paid_fen less their succeeded
  refunds), plus bill_fen - ours_fen of each payment discrepancy of bill day D that is open,
  held or resolved by a person (missing_in_ours: WeChat's money we never credited; missing_in_bill:
  minus ours, credited money WeChat's bill lacks; amount_mismatch: the difference). Fixed ones
  are on the books already (credited after orderquery, or refunded); cleared ones are gone.

The ledger check: every order item of a paid order has exactly one payment message, and no
item has more than one (`ledger_mismatches` counts the items that break it).

A day is ok when the difference took - (credited + refunded + in_discrepancies) is 0 and no
item breaks the ledger check. Each day's result is kept in money_check (written over on every
check). A broken day is logged as an alert on the 'money.alert' logger (ERROR), with the
figures only: never an order, a name or an ID number. The total over every stored day is
checked the same way.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Date, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from backend.infra.uow import UnitOfWork
from backend.models import (
    LedgerMessage,
    MoneyCheck,
    OrderItem,
    PaymentOrder,
    ReconDiscrepancy,
    Refund,
    WeChatBill,
)
from backend.states.orders import MONEY_TAKEN, OrderStatus
from backend.states.refunds import RefundStatus
from backend.values.beijing import beijing_today, day_bounds

alert = logging.getLogger("money.alert")
log = logging.getLogger(__name__)

TAKEN = tuple(sorted(status.value for status in MONEY_TAKEN))
# Discrepancies whose money is not on our books: waiting, or accepted by a person with a reason.
UNBOOKED = ("open", "held", "resolved")
# The worker checks the days of this window, back from today, on every round it checks.
WINDOW_DAYS = 40
# ... and checks no more often than this (every day is summed again each time).
EVERY = timedelta(minutes=10)

_orders = PaymentOrder.__table__
_items = OrderItem.__table__
_messages = LedgerMessage.__table__
_refunds = Refund.__table__


@dataclass(frozen=True)
class Total:
    took: int
    credited: int
    refunded: int
    in_discrepancies: int
    ledger_mismatches: int
    days: int
    broken_days: int

    @property
    def difference(self) -> int:
        return self.took - self.credited - self.refunded - self.in_discrepancies

    @property
    def ok(self) -> bool:
        return self.difference == 0 and self.ledger_mismatches == 0 and self.broken_days == 0


def check_days(
    uow: UnitOfWork, *, now: datetime, since: date | None = None, until: date | None = None
) -> list[MoneyCheck]:
    """Check every day from `since` (None: the first day with money) to `until` (default
    today, Beijing) that has money or a stored result; store the results, log the broken ones.
    Returns the days checked, oldest first."""
    until = until or beijing_today(now)
    with uow as session:
        figures = _figures(session, since)
        stored = session.scalars(
            select(MoneyCheck).where(*_between(MoneyCheck.day, since, until))
        ).all()
        days = {d for d in figures if (since is None or d >= since) and d <= until}
        days |= {row.day for row in stored}
        rows = {row.day: row for row in stored}
        checked = []
        for day in sorted(days):
            f = figures.get(day) or _Figures()
            row = rows.get(day) or MoneyCheck(day=day)
            if day not in rows:
                session.add(row)
            row.source = "bill" if f.bill_fen is not None else "ours"
            row.took = f.bill_fen if f.bill_fen is not None else f.ours_fen
            row.credited = f.credited
            row.refunded = f.refunded
            row.in_discrepancies = f.in_discrepancies
            row.ledger_mismatches = f.ledger_mismatches
            row.ok = row.difference == 0 and row.ledger_mismatches == 0
            row.checked_at = now
            checked.append(row)
        session.flush()
        for row in checked:
            if not row.ok:
                _alert(row)
        total = total_of(session)
        if not total.ok:
            alert.error(
                "money check total: took %d fen, credited %d, refunded %d, in discrepancies %d, "
                "difference %d, ledger mismatches %d, broken days %d",
                total.took,
                total.credited,
                total.refunded,
                total.in_discrepancies,
                total.difference,
                total.ledger_mismatches,
                total.broken_days,
            )
        return checked


def check_if_due(uow: UnitOfWork, *, now: datetime, every: timedelta = EVERY) -> list[MoneyCheck]:
    """The worker's round: the window's days, unless they were checked within `every`."""
    with uow as session:
        last = session.scalar(select(func.max(MoneyCheck.checked_at)))
    if last is not None and now - last < every:
        return []
    return check_days(uow, now=now, since=beijing_today(now) - timedelta(days=WINDOW_DAYS))


def total_of(session: Session) -> Total:
    """Every stored day added up."""
    row = session.execute(
        select(
            func.coalesce(func.sum(MoneyCheck.took), 0),
            func.coalesce(func.sum(MoneyCheck.credited), 0),
            func.coalesce(func.sum(MoneyCheck.refunded), 0),
            func.coalesce(func.sum(MoneyCheck.in_discrepancies), 0),
            func.coalesce(func.sum(MoneyCheck.ledger_mismatches), 0),
            func.count(),
            func.count().filter(MoneyCheck.ok.is_(False)),
        )
    ).one()
    return Total(*(int(value) for value in row))


def newest(session: Session) -> MoneyCheck | None:
    """The newest day checked (the operations page says how far the money is known to add up)."""
    return session.scalars(select(MoneyCheck).order_by(MoneyCheck.day.desc()).limit(1)).first()


def broken(session: Session, *, limit: int = 50) -> list[MoneyCheck]:
    """The broken days, newest first."""
    return list(
        session.scalars(
            select(MoneyCheck)
            .where(MoneyCheck.ok.is_(False))
            .order_by(MoneyCheck.day.desc())
            .limit(limit)
        )
    )


def _alert(row: MoneyCheck) -> None:
    alert.error(
        "money check %s broken: took %d fen (%s), credited %d, refunded %d, in discrepancies %d, "
        "difference %d, ledger mismatches %d",
        row.day.isoformat(),
        row.took,
        row.source,
        row.credited,
        row.refunded,
        row.in_discrepancies,
        row.difference,
        row.ledger_mismatches,
    )


# -- the figures -------------------------------------------------------------------------------


@dataclass
class _Figures:
    bill_fen: int | None = None  # None: no readable bill of the day
    ours_fen: int = 0
    credited: int = 0
    refunded: int = 0
    in_discrepancies: int = 0
    ledger_mismatches: int = 0


def _figures(session: Session, since: date | None) -> dict[date, _Figures]:
    """Every term of the equation by day, each one GROUP BY query over the window."""
    figures: dict[date, _Figures] = defaultdict(_Figures)
    dialect = session.get_bind().dialect.name
    day = _payment_day(dialect)
    # billed_on moves a payment at most a day or two: read a little before `since`.
    recent = (
        [_orders.c.paid_at >= day_bounds(since - timedelta(days=3))[0]] if since is not None else []
    )

    def by_day(query) -> list[tuple[date, int]]:
        rows = session.execute(query.group_by(day))
        return [(_as_date(d), int(v or 0)) for d, v in rows if d is not None]

    for d, fen in by_day(
        select(day, func.sum(_orders.c.paid_fen)).where(_orders.c.status.in_(TAKEN), *recent)
    ):
        figures[d].ours_fen = fen
    for d, fen in by_day(
        select(day, func.sum(_items.c.amount_fen))
        .select_from(
            _messages.join(_items, _items.c.id == _messages.c.order_item_id).join(
                _orders, _orders.c.id == _items.c.order_id
            )
        )
        .where(_messages.c.kind == "payment", *recent)
    ):
        figures[d].credited += fen
    for d, fen in by_day(
        select(day, func.sum(_refunds.c.amount_fen))
        .select_from(
            _messages.join(_refunds, _refunds.c.id == _messages.c.refund_id).join(
                _orders, _orders.c.id == _refunds.c.order_id
            )
        )
        .where(_messages.c.kind == "reversal", *recent)
    ):
        figures[d].credited -= fen
    succeeded = _refunds.c.status == RefundStatus.SUCCEEDED.value
    for d, fen in by_day(
        select(day, func.sum(_refunds.c.amount_fen))
        .select_from(_refunds.join(_orders, _orders.c.id == _refunds.c.order_id))
        .where(succeeded, *recent)
    ):
        figures[d].refunded = fen
    given_back = (
        select(func.coalesce(func.sum(_refunds.c.amount_fen), 0))
        .where(_refunds.c.order_id == _orders.c.id, succeeded)
        .scalar_subquery()
    )
    for d, fen in by_day(
        select(day, func.sum(_orders.c.paid_fen - given_back)).where(
            _orders.c.status == OrderStatus.REFUND_DUE.value, *recent
        )
    ):
        figures[d].in_discrepancies += fen
    d_table = ReconDiscrepancy.__table__
    for d, fen in session.execute(
        select(
            d_table.c.bill_date,
            func.sum(func.coalesce(d_table.c.bill_fen, 0) - func.coalesce(d_table.c.ours_fen, 0)),
        )
        .where(
            d_table.c.status.in_(UNBOOKED),
            d_table.c.refund_no == "",
            *_between(d_table.c.bill_date, since, None),
        )
        .group_by(d_table.c.bill_date)
    ):
        figures[_as_date(d)].in_discrepancies += int(fen or 0)
    for d, status, fen in session.execute(
        select(WeChatBill.bill_date, WeChatBill.status, WeChatBill.settlement_fen).where(
            WeChatBill.status.in_(("ok", "empty")), *_between(WeChatBill.bill_date, since, None)
        )
    ):
        figures[_as_date(d)].bill_fen = int(fen) if status == "ok" else 0
    messages = (
        select(_messages.c.order_item_id, func.count().label("n"))
        .where(_messages.c.kind == "payment", _messages.c.order_item_id.is_not(None))
        .group_by(_messages.c.order_item_id)
        .subquery()
    )
    n = func.coalesce(messages.c.n, 0)
    for d, count in by_day(
        select(day, func.count())
        .select_from(
            _items.join(_orders, _orders.c.id == _items.c.order_id).outerjoin(
                messages, messages.c.order_item_id == _items.c.id
            )
        )
        .where(
            _orders.c.status.in_(TAKEN),
            or_(and_(_orders.c.status == OrderStatus.PAID.value, n != 1), n > 1),
            *recent,
        )
    ):
        figures[d].ledger_mismatches = count
    return figures


def _payment_day(dialect: str):
    """The day WeChat took an order's money, in SQL: billed_on, else paid_at's Beijing date."""
    if dialect == "postgresql":
        local = cast(func.timezone("Asia/Shanghai", _orders.c.paid_at), Date)
    else:  # SQLite keeps UTC text
        local = func.date(_orders.c.paid_at, "+8 hours")
    return func.coalesce(_orders.c.billed_on, local)


def _between(column, since: date | None, until: date | None) -> list:
    conditions = []
    if since is not None:
        conditions.append(column >= since)
    if until is not None:
        conditions.append(column <= until)
    return conditions


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))

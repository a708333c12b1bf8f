"""Writing the progress journal, in the transaction of each change it counts.

One row per change and village: a registration imported (registered), credited (paid, with the
resident's and the government's amounts, under the paying channel), given back (the same,
negative) or entered in the treasury (entered). The day is the business clock's Beijing day when
the change was recorded, so a closed day's rollup never changes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import ColumnElement, Connection, Table, case, func, insert, literal, select
from sqlalchemy.orm import Session

from backend.models import (
    CollectorBatchItem,
    GovernmentBatchItem,
    OrderItem,
    PaymentOrder,
    ProgressChange,
    Registration,
)
from backend.models.progress import NO_CHANNEL
from backend.orders.channels import CHANNELS, COLLECTOR, GOVERNMENT
from backend.values.beijing import beijing_today

_journal = ProgressChange.__table__
_items = OrderItem.__table__
_orders = PaymentOrder.__table__
_registrations = Registration.__table__
_COLUMNS = (
    "day",
    "village_code",
    "scheme",
    "period_year",
    "channel",
    "registered",
    "paid",
    "paid_fen",
    "gov_paid_fen",
    "entered",
)


def day_of(now: datetime) -> date:
    return beijing_today(now)


def channel_of(orders: Table) -> ColumnElement[str]:
    """The collection channel of an order (a row of `orders`), in SQL: orders.channels'
    order_channel, its own channel or else its trade type's. A column expression, so the
    statements built once with it stay compiled."""
    return func.coalesce(
        orders.c.channel,
        case(*((orders.c.trade_type == kind, name) for kind, name in CHANNELS.items())),
    )


def order_paid(order_id: ColumnElement[int], day: ColumnElement[date]):
    """INSERT … SELECT: the registrations an order pays, one `paid` row each.

    The order's held registrations are the ones crediting moves (a hold is taken with the order
    and kept while it is paid), so this counts exactly what the credit statement credits.
    """
    return insert(_journal).from_select(
        list(_COLUMNS),
        select(
            day,
            _registrations.c.village_code,
            _registrations.c.scheme,
            _registrations.c.period_year,
            channel_of(_orders),
            literal(0),
            literal(1),
            _items.c.amount_fen,
            _items.c.gov_paid_fen,
            literal(0),
        )
        .select_from(_items)
        .join(_registrations, _registrations.c.id == _items.c.held_registration_id)
        .join(_orders, _orders.c.id == _items.c.order_id)
        .where(_items.c.order_id == order_id),
    )


def government_paid(session: Session, batch_id: int, day: date) -> None:
    """One `paid` row per registration a government batch credited."""
    items = GovernmentBatchItem.__table__
    session.execute(
        insert(_journal).from_select(
            list(_COLUMNS),
            select(
                literal(day),
                _registrations.c.village_code,
                _registrations.c.scheme,
                _registrations.c.period_year,
                literal(GOVERNMENT),
                literal(0),
                literal(1),
                literal(0),
                items.c.gov_paid_fen,
                literal(0),
            )
            .select_from(items)
            .join(_registrations, _registrations.c.id == items.c.credited_registration_id)
            .where(items.c.batch_id == batch_id),
        )
    )


def collector_entered(session: Session, item_ids: list[int], day: date) -> None:
    """Registrations a collecting unit collected, credited when the bureau confirmed their treasury
    entry: one row each, paid and entered at once (the resident's amount, the government's share)."""
    items = CollectorBatchItem.__table__
    session.execute(
        insert(_journal).from_select(
            list(_COLUMNS),
            select(
                literal(day),
                _registrations.c.village_code,
                _registrations.c.scheme,
                _registrations.c.period_year,
                literal(COLLECTOR),
                literal(0),
                literal(1),
                items.c.amount_fen,
                items.c.gov_paid_fen,
                literal(1),
            )
            .select_from(items)
            .join(_registrations, _registrations.c.id == items.c.held_registration_id)
            .where(items.c.id.in_(item_ids)),
        )
    )


def given_back(
    session: Session,
    *,
    day: date,
    registration: Registration,
    channel: str | None,
    was_entered: bool,
    paid_fen: int,
    gov_paid_fen: int,
) -> None:
    """A registration whose payment was given back in full: paid (and entered) go down."""
    session.execute(
        insert(_journal),
        [
            {
                "day": day,
                "village_code": registration.village_code,
                "scheme": registration.scheme,
                "period_year": registration.period_year,
                "channel": channel or NO_CHANNEL,
                "registered": 0,
                "paid": -1,
                "paid_fen": -paid_fen,
                "gov_paid_fen": -gov_paid_fen,
                "entered": -1 if was_entered else 0,
            }
        ],
    )


def entered(session: Session, *, day: date, registration_id: int) -> None:
    """A registration the bureau confirmed entered in the treasury."""
    session.execute(
        insert(_journal).from_select(
            list(_COLUMNS),
            select(
                literal(day),
                _registrations.c.village_code,
                _registrations.c.scheme,
                _registrations.c.period_year,
                _registrations.c.paid_channel,
                literal(0),
                literal(0),
                literal(0),
                literal(0),
                literal(1),
            ).where(_registrations.c.id == registration_id),
        )
    )


def registered(
    connection: Connection,
    *,
    day: date,
    added: Iterable[tuple[str, str, int]],
    removed: Iterable[tuple[str, str, int]] = (),
) -> None:
    """Registrations imported (added) or moved away from a village (removed), counted per
    (village_code, scheme, period_year): one row per village however large the import."""
    counts: Counter[tuple[str, str, int]] = Counter(added)
    counts.subtract(removed)
    rows = [
        {
            "day": day,
            "village_code": village,
            "scheme": scheme,
            "period_year": year,
            "channel": NO_CHANNEL,
            "registered": n,
            "paid": 0,
            "paid_fen": 0,
            "gov_paid_fen": 0,
            "entered": 0,
        }
        for (village, scheme, year), n in sorted(counts.items())
        if n
    ]
    if rows:
        connection.execute(insert(_journal), rows)

"""The agencies' booking file: one day's treasury-confirmed registrations of a county and scheme.

The day is the Beijing date of the bureau's entered_at. WeChat payments, registrations a
government batch paid (channel 财政代缴: the batch number stands for the order number, no WeChat
transaction) and those a collecting unit collected (channel 代征单位: the 单据号 stands for the
order number, paid at the bureau under it) are listed alike, each with its channel. Amounts are fen and, for people reading the
sheet, yuan as text with two decimals (never a float).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.collectors.views import entered_on
from backend.infra.spreadsheets import Table
from backend.models import (
    Enrollee,
    GovernmentBatch,
    GovernmentBatchItem,
    LedgerMessage,
    OrderItem,
    PaymentOrder,
    Registration,
)
from backend.orders.channels import COLLECTOR, GOVERNMENT, order_channel
from backend.values.beijing import beijing_text, day_bounds
from backend.values.labels import CHANNEL_NAMES
from backend.values.masking import mask_id_number, mask_name
from backend.values.money import yuan_text

COLUMNS = (
    ("collection_no", "征集流水号"),
    ("tax_receipt_no", "电子税票号码"),
    ("entered_at", "入库时间"),
    ("scheme", "险种"),
    ("period_year", "缴费年度"),
    ("village_code", "参保地"),
    ("name_masked", "姓名"),
    ("id_number_masked", "身份证号"),
    ("amount_fen", "金额（分）"),
    ("amount_yuan", "金额（元）"),
    ("paid_at", "缴费时间"),
    ("order_no", "商户订单号"),
    ("transaction_id", "微信支付订单号"),
    ("ledger_ref", "税务台账号"),
    ("channel", "渠道"),
)


WIDTHS = {
    "collection_no": 20,
    "tax_receipt_no": 24,
    "entered_at": 20,
    "id_number_masked": 21,
    "paid_at": 20,
    "order_no": 30,
    "transaction_id": 31,
    "ledger_ref": 24,
}


TABLE = Table(COLUMNS, amount_key="amount_fen", widths=WIDTHS)


def rows(session: Session, *, day: date, county: str, scheme: str) -> Iterator[dict[str, Any]]:
    found = [
        *_ledger_rows(session, day, county, scheme),
        *_collector_rows(session, day, county, scheme),
    ]
    found.sort(key=lambda row: (row["village_code"], row["collection_no"]))
    yield from found


def _ledger_rows(session: Session, day: date, county: str, scheme: str) -> Iterator[dict[str, Any]]:
    start, end = day_bounds(day)
    query = (
        select(
            LedgerMessage,
            Registration,
            Enrollee,
            OrderItem,
            PaymentOrder,
            GovernmentBatchItem,
            GovernmentBatch,
        )
        .join(Registration, Registration.id == LedgerMessage.registration_id)
        .join(Enrollee, Enrollee.id == Registration.enrollee_id)
        .outerjoin(OrderItem, OrderItem.id == LedgerMessage.order_item_id)
        .outerjoin(PaymentOrder, PaymentOrder.id == OrderItem.order_id)
        .outerjoin(GovernmentBatchItem, GovernmentBatchItem.id == LedgerMessage.government_item_id)
        .outerjoin(GovernmentBatch, GovernmentBatch.id == GovernmentBatchItem.batch_id)
        .where(
            LedgerMessage.kind == "payment",
            LedgerMessage.entered_at >= start,
            LedgerMessage.entered_at < end,
            Registration.scheme == scheme,
            Registration.village_code.startswith(county[:6], autoescape=True),
        )
        .order_by(Registration.village_code, Registration.collection_no)
    )
    for message, registration, person, item, order, gov_item, batch in session.execute(query):
        if gov_item is not None:
            yield {
                **_entry(message, registration, person, gov_item.gov_paid_fen),
                "paid_at": beijing_text(batch.confirmed_at) if batch.confirmed_at else "",
                "order_no": batch.batch_no,
                "transaction_id": "",
                "channel": CHANNEL_NAMES[GOVERNMENT],
            }
        else:
            yield {
                **_entry(message, registration, person, item.amount_fen),
                "paid_at": beijing_text(order.paid_at) if order.paid_at else "",
                "order_no": order.order_no,
                "transaction_id": order.transaction_id,
                "channel": CHANNEL_NAMES[order_channel(order.channel, order.trade_type)],
            }


def _collector_rows(
    session: Session, day: date, county: str, scheme: str
) -> Iterator[dict[str, Any]]:
    """Registrations a collecting unit's batch paid, entered that day (no ledger message: the
    bureau took the money under the batch's 单据号)."""
    query = entered_on(day, county=county, scheme=scheme)
    for item, batch, registration, person in session.execute(query):
        yield {
            "collection_no": registration.collection_no,
            "tax_receipt_no": item.tax_receipt_no,
            "entered_at": beijing_text(item.entered_at),
            "scheme": registration.scheme,
            "period_year": registration.period_year,
            "village_code": registration.village_code,
            "name_masked": mask_name(person.name),
            "id_number_masked": mask_id_number(person.id_number),
            "amount_fen": item.amount_fen,
            "amount_yuan": yuan_text(item.amount_fen),
            "paid_at": beijing_text(batch.declared_at) if batch.declared_at else "",
            "order_no": batch.declaration_no,
            "transaction_id": "",
            "ledger_ref": batch.declaration_ref or "",
            "channel": CHANNEL_NAMES[COLLECTOR],
        }


def _entry(
    message: LedgerMessage, registration: Registration, person: Enrollee, amount_fen: int
) -> dict[str, Any]:
    return {
        "collection_no": registration.collection_no,
        "tax_receipt_no": message.tax_receipt_no,
        "entered_at": beijing_text(message.entered_at),
        "scheme": registration.scheme,
        "period_year": registration.period_year,
        "village_code": registration.village_code,
        "name_masked": mask_name(person.name),
        "id_number_masked": mask_id_number(person.id_number),
        "amount_fen": amount_fen,
        "amount_yuan": yuan_text(amount_fen),
        "ledger_ref": message.ledger_ref,
    }

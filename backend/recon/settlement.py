"""Daily settlement files: per county and scheme, every money movement WeChat completed that day.

A day is cut at midnight Beijing time on WeChat's success times, as WeChat's own bill is: a payment
belongs to the day of its payment-success time (time_end, our paid_at), a refund to the day of its
refund-success time (our succeeded_at). One row per registration paid or refunded (an order may pay
several, in several counties and schemes). The file follows the money WeChat moved, so it lists:

- 支付: a payment credited to its registrations (the order is paid, or was refunded later: the
  payment still happened that day; its refund shows on the refund's day);
- 重复支付: a payment WeChat took for registrations another order had already paid. It was not
  credited and is due back in full; its refund shows on the refund's day;
- 退款: a refund that succeeded that day, as a negative amount;
- 财政代缴: a registration the government paid in full, credited by a government batch confirmed
  that day, at its government-paid amount. No WeChat money moved: finance paid it.
- 代征单位: a registration a collecting unit collected locally, entered in the treasury that day
  under its batch's 单据号, at what the person paid. No WeChat money moved: the unit paid it at
  the bureau.

Each row names its channel (渠道: 微信小程序, 微信扫码, 学校代缴 for a school's batch paid by one
QR code, 财政代缴, 代征单位). Below the rows, the total lines: 支付合计 (payments, duplicates
included: WeChat took them), 退款合计 (refunds, negative), when there are any 财政代缴合计 and
代征单位合计, and 净额 (the day's net movement of WeChat money). 支付合计, 退款合计 and 净额 are
about WeChat's money only, so they still match WeChat's bill of the day; the government-paid and
the collected rows are added up on their own lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.collectors.views import entered_on
from backend.infra.spreadsheets import Subtotal, Table
from backend.models import (
    Enrollee,
    GovernmentBatch,
    GovernmentBatchItem,
    OrderItem,
    PaymentOrder,
    Refund,
    Registration,
)
from backend.orders.channels import COLLECTOR, GOVERNMENT, order_channel
from backend.states.government import BatchStatus
from backend.states.orders import MONEY_TAKEN
from backend.states.refunds import RefundStatus
from backend.values.beijing import beijing_text, day_bounds
from backend.values.labels import CHANNEL_NAMES
from backend.values.masking import mask_id_number, mask_name
from backend.values.money import yuan_text

PAYMENT = "支付"
DUPLICATE_PAYMENT = "重复支付"
REFUND = "退款"
GOVERNMENT_PAID = "财政代缴"
COLLECTED = "代征单位"
WECHAT_KINDS = (PAYMENT, DUPLICATE_PAYMENT, REFUND)

# Order statuses of a payment WeChat took: credited (paid, later perhaps refunded) or due back.
TAKEN = tuple(sorted(MONEY_TAKEN))
DUPLICATE = "duplicate_payment"  # PaymentOrder.status_reason of a payment not credited

DUPLICATE_NOTE = "参保登记已由其他订单缴费，本笔未入账，应全额退款"
REFUND_NOTES = {  # by Refund.reason
    "duplicate_payment": "退还重复支付",
    "wrong_grade": "缴费档次有误退款",
    "other": "其他原因退款",
}

TABLE = Table(
    columns=(
        ("kind", "类型"),
        ("done_at", "支付或退款成功时间"),
        ("order_no", "商户订单号"),
        ("transaction_id", "微信支付订单号"),
        ("refund_no", "商户退款单号"),
        ("collection_no", "征集流水号"),
        ("village_code", "参保地"),
        ("name_masked", "姓名"),
        ("id_number_masked", "身份证号"),
        ("amount_fen", "金额（分）"),
        ("amount_yuan", "金额（元）"),
        ("period_year", "缴费年度"),
        ("grade_yuan", "缴费档次（元）"),
        ("note", "备注"),
        ("channel", "渠道"),
    ),
    amount_key="amount_fen",
    widths={
        "kind": 10,
        "done_at": 20,
        "order_no": 30,
        "transaction_id": 31,
        "refund_no": 30,
        "collection_no": 20,
        "id_number_masked": 21,
        "note": 40,
    },
    subtotals=(
        Subtotal("支付合计", lambda record: record["kind"] in (PAYMENT, DUPLICATE_PAYMENT)),
        Subtotal("退款合计", lambda record: record["kind"] == REFUND),
        Subtotal(
            "财政代缴合计", lambda record: record["kind"] == GOVERNMENT_PAID, omit_when_empty=True
        ),
        Subtotal("代征单位合计", lambda record: record["kind"] == COLLECTED, omit_when_empty=True),
    ),
    total_title="净额",
    total_includes=lambda record: record["kind"] in WECHAT_KINDS,
)


def rows(session: Session, *, day: date, county: str, scheme: str) -> Iterator[dict[str, Any]]:
    """The day's payment and refund rows of a county (6 digits) and scheme, in time order."""
    records = [
        *_payments(session, day, county, scheme),
        *_refunds(session, day, county, scheme),
        *_government(session, day, county, scheme),
        *_collected(session, day, county, scheme),
    ]
    records.sort(key=lambda pair: pair[0])
    for _, record in records:
        yield record


SortKey = tuple[datetime, str, str, int]


def _payments(
    session: Session, day: date, county: str, scheme: str
) -> Iterator[tuple[SortKey, dict[str, Any]]]:
    start, end = day_bounds(day)
    query = (
        select(OrderItem, PaymentOrder, Registration, Enrollee)
        .join(PaymentOrder, PaymentOrder.id == OrderItem.order_id)
        .join(Registration, Registration.id == OrderItem.registration_id)
        .join(Enrollee, Enrollee.id == Registration.enrollee_id)
        .where(
            PaymentOrder.status.in_(TAKEN),
            PaymentOrder.paid_at >= start,
            PaymentOrder.paid_at < end,
            OrderItem.scheme == scheme,
            Registration.village_code.startswith(county[:6], autoescape=True),
        )
    )
    for item, order, registration, person in session.execute(query):
        kind = DUPLICATE_PAYMENT if order.status_reason == DUPLICATE else PAYMENT
        record = _record(kind, order.paid_at, order, item, registration, person, item.amount_fen)
        if kind == DUPLICATE_PAYMENT:
            record["note"] = DUPLICATE_NOTE
        yield (order.paid_at, order.order_no, "", item.id), record


def _refunds(
    session: Session, day: date, county: str, scheme: str
) -> Iterator[tuple[SortKey, dict[str, Any]]]:
    start, end = day_bounds(day)
    query = (
        select(Refund, OrderItem, PaymentOrder, Registration, Enrollee)
        .join(OrderItem, OrderItem.id == Refund.order_item_id)
        .join(PaymentOrder, PaymentOrder.id == Refund.order_id)
        .join(Registration, Registration.id == OrderItem.registration_id)
        .join(Enrollee, Enrollee.id == Registration.enrollee_id)
        .where(
            Refund.status == RefundStatus.SUCCEEDED.value,
            Refund.succeeded_at >= start,
            Refund.succeeded_at < end,
            OrderItem.scheme == scheme,
            Registration.village_code.startswith(county[:6], autoescape=True),
        )
    )
    for refund, item, order, registration, person in session.execute(query):
        at = refund.succeeded_at  # set on every succeeded refund
        record = _record(REFUND, at, order, item, registration, person, -refund.amount_fen)
        record["refund_no"] = refund.refund_no
        record["note"] = REFUND_NOTES.get(refund.reason, "")
        yield (at, order.order_no, refund.refund_no, item.id), record


def _government(
    session: Session, day: date, county: str, scheme: str
) -> Iterator[tuple[SortKey, dict[str, Any]]]:
    """Registrations the government paid, credited by batches confirmed that day."""
    start, end = day_bounds(day)
    query = (
        select(GovernmentBatchItem, GovernmentBatch, Registration, Enrollee)
        .join(GovernmentBatch, GovernmentBatch.id == GovernmentBatchItem.batch_id)
        .join(Registration, Registration.id == GovernmentBatchItem.credited_registration_id)
        .join(Enrollee, Enrollee.id == Registration.enrollee_id)
        .where(
            GovernmentBatch.status == BatchStatus.CONFIRMED.value,
            GovernmentBatch.confirmed_at >= start,
            GovernmentBatch.confirmed_at < end,
            GovernmentBatch.scheme == scheme,
            Registration.village_code.startswith(county[:6], autoescape=True),
        )
    )
    for item, batch, registration, person in session.execute(query):
        at = batch.confirmed_at  # set on every confirmed batch
        amount = item.gov_paid_fen
        record = {
            **_person(registration, person),
            "kind": GOVERNMENT_PAID,
            "done_at": beijing_text(at),
            "order_no": batch.batch_no,
            "transaction_id": "",
            "refund_no": "",
            "amount_fen": amount,
            "amount_yuan": yuan_text(amount),
            "period_year": registration.period_year,
            "grade_yuan": item.grade_yuan,
            "note": "政府全额代缴，财政资金，不经微信支付",
            "channel": CHANNEL_NAMES[GOVERNMENT],
        }
        yield (at, batch.batch_no, "", item.id), record


def _collected(
    session: Session, day: date, county: str, scheme: str
) -> Iterator[tuple[SortKey, dict[str, Any]]]:
    """Registrations collecting units collected, entered in the treasury that day."""
    query = entered_on(day, county=county, scheme=scheme)
    for item, batch, registration, person in session.execute(query):
        at = item.entered_at  # set on every entered item
        record = {
            **_person(registration, person),
            "kind": COLLECTED,
            "done_at": beijing_text(at),
            "order_no": batch.declaration_no,
            "transaction_id": "",
            "refund_no": "",
            "amount_fen": item.amount_fen,
            "amount_yuan": yuan_text(item.amount_fen),
            "period_year": registration.period_year,
            "grade_yuan": item.grade_yuan,
            "note": f"代征单位收缴，税务入库，电子税票号码 {item.tax_receipt_no}，不经微信支付",
            "channel": CHANNEL_NAMES[COLLECTOR],
        }
        yield (at, batch.declaration_no or "", "", item.id), record


def _person(registration: Registration, person: Enrollee) -> dict[str, Any]:
    return {
        "collection_no": registration.collection_no,
        "village_code": registration.village_code,
        "name_masked": mask_name(person.name),
        "id_number_masked": mask_id_number(person.id_number),
    }


def _record(
    kind: str,
    at: datetime,
    order: PaymentOrder,
    item: OrderItem,
    registration: Registration,
    person: Enrollee,
    amount_fen: int,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "done_at": beijing_text(at),
        "order_no": order.order_no,
        "transaction_id": order.transaction_id,
        "refund_no": "",
        **_person(registration, person),
        "amount_fen": amount_fen,
        "amount_yuan": yuan_text(amount_fen),
        "period_year": item.period_year,
        "grade_yuan": item.grade_yuan,
        "note": "",
        "channel": CHANNEL_NAMES[order_channel(order.channel, order.trade_type)],
    }


def totals(records: list[dict[str, Any]]) -> tuple[int, int, int]:
    """(payments, refunds, net) of WeChat's money in fen; refunds as a positive number."""
    paid = sum(r["amount_fen"] for r in records if r["kind"] in (PAYMENT, DUPLICATE_PAYMENT))
    refunded = -sum(r["amount_fen"] for r in records if r["kind"] == REFUND)
    return paid, refunded, paid - refunded


def file_stem(day: date, county: str, scheme: str) -> str:
    """The file's name without its extension (.csv, .xlsx)."""
    return f"settlement-{county[:6]}-{scheme}-{day:%Y%m%d}"

"""Daily settlement files: per county and scheme, every payment WeChat completed that day.

The day is cut at midnight Beijing time on WeChat's payment-success time (time_end, our paid_at),
as WeChat's own bill is. One row per paid registration (an order may pay several, in several
counties and schemes). Refund rows join these files with the refund workflow.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.beijing import beijing_text, day_bounds
from backend.masking import mask_id_number, mask_name
from backend.models import Enrollee, OrderItem, PaymentOrder, Registration
from backend.spreadsheets import Table, yuan_text

CREDITED = ("paid",)  # order statuses whose payment was credited to registrations

TABLE = Table(
    columns=(
        ("kind", "类型"),
        ("paid_at", "支付完成时间"),
        ("order_no", "商户订单号"),
        ("transaction_id", "微信支付订单号"),
        ("collection_no", "征集流水号"),
        ("village_code", "参保地"),
        ("name_masked", "姓名"),
        ("id_number_masked", "身份证号"),
        ("amount_fen", "金额（分）"),
        ("amount_yuan", "金额（元）"),
        ("period_year", "缴费年度"),
        ("grade_yuan", "缴费档次（元）"),
    ),
    amount_key="amount_fen",
    widths={
        "paid_at": 20,
        "order_no": 30,
        "transaction_id": 31,
        "collection_no": 20,
        "id_number_masked": 21,
    },
)


def rows(session: Session, *, day: date, county: str, scheme: str) -> Iterator[dict[str, Any]]:
    start, end = day_bounds(day)
    query = (
        select(OrderItem, PaymentOrder, Registration, Enrollee)
        .join(PaymentOrder, PaymentOrder.id == OrderItem.order_id)
        .join(Registration, Registration.id == OrderItem.registration_id)
        .join(Enrollee, Enrollee.id == Registration.enrollee_id)
        .where(
            PaymentOrder.status.in_(CREDITED),
            PaymentOrder.paid_at >= start,
            PaymentOrder.paid_at < end,
            OrderItem.scheme == scheme,
            Registration.village_code.startswith(county[:6], autoescape=True),
        )
        .order_by(PaymentOrder.paid_at, PaymentOrder.order_no, OrderItem.id)
    )
    for item, order, registration, person in session.execute(query):
        yield {
            "kind": "支付",
            "paid_at": beijing_text(order.paid_at),
            "order_no": order.order_no,
            "transaction_id": order.transaction_id,
            "collection_no": registration.collection_no,
            "village_code": registration.village_code,
            "name_masked": mask_name(person.name),
            "id_number_masked": mask_id_number(person.id_number),
            "amount_fen": item.amount_fen,
            "amount_yuan": yuan_text(item.amount_fen),
            "period_year": item.period_year,
            "grade_yuan": item.grade_yuan,
        }


def file_stem(day: date, county: str, scheme: str) -> str:
    """The file's name without its extension (.csv, .xlsx)."""
    return f"settlement-{county[:6]}-{scheme}-{day:%Y%m%d}"

"""What each registration of an order costs, computed by the server from the fee engine.

A client never sends an amount; it names registrations (and a pension grade) and gets a price.
Pure: the registrations come in as plain data, the policy from the loaded book.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from backend.errors import Conflict, Refused
from backend.fees import InvalidGrade, NotEligible, PolicyBook, PolicyNotFound, quote
from backend.fees.window import window_refusal
from backend.states.registrations import PAID_UP, RegistrationStatus
from backend.values.labels import registration_label

FIELD = "items"


@dataclass(frozen=True)
class RegistrationToPrice:
    id: int
    ref: str
    scheme: str
    period_year: int
    status: str
    village_code: str
    is_student: bool
    enrollee_id: int
    holder_name: str
    birth_date: date
    groups_by_year: dict[int, frozenset[str]]


@dataclass(frozen=True)
class PricedItem:
    registration_id: int
    registration_ref: str
    holder_name: str
    village_code: str
    scheme: str
    period_year: int
    grade_yuan: int | None
    amount_fen: int
    gov_paid_fen: int
    contribution_subsidy_fen: int


def price_item(
    book: PolicyBook, registration: RegistrationToPrice, *, grade_yuan: int | None, today: date
) -> PricedItem:
    """The price of paying `registration` today, or the domain error that says why not."""
    label = registration_label(registration.scheme, registration.period_year)
    status = RegistrationStatus(registration.status)
    if status in PAID_UP:
        raise Conflict(f"{label}已缴费，无需重复缴纳。", reason="already_paid", field=FIELD)
    if status is RegistrationStatus.PENDING:
        raise Conflict(
            f"{label}正在另一笔订单中支付，请完成或等待其关闭。",
            reason="in_another_order",
            field=FIELD,
        )
    try:
        policy = book.scheme_policy(
            registration.village_code, registration.scheme, registration.period_year
        )
    except PolicyNotFound:
        raise Refused(
            f"{label}缴费政策尚未发布，暂不能缴费。", reason="no_policy", field=FIELD
        ) from None
    if registration.scheme == "medical" and grade_yuan is not None:
        raise Refused("医疗保险没有缴费档次，请不要选择档次。", reason="no_grades", field=FIELD)
    try:
        priced = quote(
            policy,
            birth_date=registration.birth_date,
            groups=registration.groups_by_year.get(policy.collection_year, frozenset()),
            is_student=registration.is_student,
            grade_yuan=grade_yuan,
        )
    except (NotEligible, InvalidGrade) as exc:
        raise Refused(f"{label}：{exc}", reason="not_priceable", field=FIELD) from None
    if priced.payable_fen == 0:
        raise Refused(
            f"{label}由政府全额代缴，无需个人缴费。", reason="government_pays", field=FIELD
        )
    closed = window_refusal(policy, today)
    if closed:
        raise Refused(closed, reason="outside_window", field=FIELD)
    return PricedItem(
        registration_id=registration.id,
        registration_ref=registration.ref,
        holder_name=registration.holder_name,
        village_code=registration.village_code,
        scheme=registration.scheme,
        period_year=registration.period_year,
        grade_yuan=priced.grade_yuan,
        amount_fen=priced.payable_fen,
        gov_paid_fen=priced.gov_paid_fen,
        contribution_subsidy_fen=priced.contribution_subsidy_fen,
    )

"""What each registration of an order costs, computed by the server from the fee engine.

A client never sends an amount; it names registrations (and a pension grade) and gets a price.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from backend.fees import PolicyBook
from backend.fees.engine import InvalidGrade, NotEligible, quote
from backend.fees.policy import PolicyNotFound


class PricingError(ValueError):
    """This registration cannot be paid as asked; the message is for the resident."""


@dataclass(frozen=True)
class PricedItem:
    registration_id: int
    scheme: str
    period_year: int
    grade_yuan: int | None
    amount_fen: int
    gov_paid_fen: int
    contribution_subsidy_fen: int


def price_item(
    book: PolicyBook,
    *,
    registration_id: int,
    village_code: str,
    scheme: str,
    period_year: int,
    birth_date: date,
    groups_by_year: dict[int, frozenset[str]],
    is_student: bool,
    grade_yuan: int | None,
) -> PricedItem:
    try:
        policy = book.scheme_policy(village_code, scheme, period_year)
    except PolicyNotFound:
        raise PricingError(f"{period_year}年度缴费政策尚未发布，暂不能缴费。") from None
    if scheme == "medical" and grade_yuan is not None:
        raise PricingError("医疗保险没有缴费档次，请不要选择档次。")
    try:
        priced = quote(
            policy,
            birth_date=birth_date,
            groups=groups_by_year.get(policy.collection_year, frozenset()),
            is_student=is_student,
            grade_yuan=grade_yuan,
        )
    except (NotEligible, InvalidGrade) as exc:
        raise PricingError(str(exc)) from None
    return PricedItem(
        registration_id=registration_id,
        scheme=scheme,
        period_year=period_year,
        grade_yuan=priced.grade_yuan,
        amount_fen=priced.payable_fen,
        gov_paid_fen=priced.gov_paid_fen,
        contribution_subsidy_fen=priced.contribution_subsidy_fen,
    )

"""A student's years in a school batch: which years, what each costs, and the serial of a year
the agency has not registered yet. Pure: plain data in, plain data or a domain error out.

A school pays for a student from the year of one of the student's registrations (the imported
one, usually) for `years` years: at most the student's remaining study years, and at most the
policy's maximum (design.md section 4; the medical section of the policy file: `max_years`,
`students_multi_year`). Every year costs what the first one costs under the policy of today's
collection, "each year at the current share", with the student's special groups of that
collection (a group that helps helps every year).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from backend.errors import Conflict, Refused
from backend.fees import PolicyBook, quote
from backend.orders.pricing import PricedItem, RegistrationToPrice, price_item
from backend.states.registrations import PAID_UP, RegistrationStatus
from backend.values.labels import registration_label
from backend.values.masking import mask_name

FIELD = "students"
MAX_COLLECTION_NO = 40  # registration.collection_no, as imports accept it
_CUT = 25  # of a base serial too long to take a year's suffix: kept, then a hash of the whole


def later_collection_no(base: str, period_year: int) -> str:
    """The collection serial of a student's later year: the serial of the registration the batch
    starts from plus '-Y<year>' (T000123 -> T000123-Y2021). A serial too long for that keeps its
    first 25 characters, '~' and 8 hex characters of its SHA-256, so two long serials that share
    a beginning still differ. The same base and year always give the same serial."""
    suffix = f"-Y{period_year}"
    if len(base) + len(suffix) <= MAX_COLLECTION_NO:
        return base + suffix
    digest = hashlib.sha256(base.encode()).hexdigest()[:8]
    return f"{base[:_CUT]}~{digest}{suffix}"


@dataclass(frozen=True)
class StudentToPrice:
    """A student registration a batch starts from, with what is already known of later years."""

    registration: RegistrationToPrice
    collection_no: str
    study_years_left: int
    # The student's registrations of later years that exist already: period_year -> status.
    later: Mapping[int, str]


@dataclass(frozen=True)
class StudentYears:
    """What a student's part of a batch pays: the first year priced, and the later years."""

    first: PricedItem
    later_years: tuple[int, ...]

    @property
    def years(self) -> tuple[int, ...]:
        return (self.first.period_year, *self.later_years)

    @property
    def total_fen(self) -> int:
        return self.first.amount_fen * len(self.years)


def price_student(
    book: PolicyBook, student: StudentToPrice, years: int, *, today: date
) -> StudentYears:
    """The student's `years` years from their registration's year, or the domain error that
    says why not (Refused: more years than left or than the policy allows, not payable now;
    Conflict: a year already paid or in another order)."""
    registration = student.registration
    who = f"学生{mask_name(registration.holder_name)}（{registration.ref}）"
    first_year = registration.period_year
    if years > student.study_years_left:
        last = first_year + student.study_years_left - 1
        raise Refused(
            f"{who}剩余学年为{student.study_years_left}年，最多缴纳到{last}年度"
            f"（{student.study_years_left}个年度），不能缴纳{years}个年度。",
            reason="beyond_study_years",
            field=FIELD,
        )
    try:
        first = price_item(book, registration, grade_yuan=None, today=today)
    except (Conflict, Refused) as exc:
        raise type(exc)(f"{who}：{exc.message}", reason=exc.reason, field=FIELD) from None
    policy = book.scheme_policy(registration.village_code, registration.scheme, first_year)
    try:  # the policy's maximum and whether several years may be paid at once
        quote(
            policy,
            birth_date=registration.birth_date,
            groups=registration.groups_by_year.get(policy.collection_year, frozenset()),
            is_student=True,
            years=years,
        )
    except ValueError as exc:
        raise Refused(f"{who}：{exc}", reason="too_many_years", field=FIELD) from None
    later_years = tuple(range(first_year + 1, first_year + years))
    for year in later_years:
        _check_free(who, registration.scheme, year, student.later.get(year))
    return StudentYears(first, later_years)


def _check_free(who: str, scheme: str, year: int, status: str | None) -> None:
    if status is None:
        return  # not registered yet: the batch registers it
    label = registration_label(scheme, year)
    state = RegistrationStatus(status)
    if state in PAID_UP:
        raise Conflict(f"{who}{label}已缴费，无需重复缴纳。", reason="already_paid", field=FIELD)
    if state is RegistrationStatus.PENDING:
        raise Conflict(
            f"{who}{label}正在另一笔订单中支付，请完成或等待其关闭。",
            reason="in_another_order",
            field=FIELD,
        )

"""Fee calculation: what a resident owes for one scheme and period_year after government help.

Pure functions over a SchemePolicy; every amount is integer fen. The government-paid part
(gov_paid) lowers what the resident pays; the pension contribution_subsidy is credited to the
personal account on top and never does. Of several special groups only the most generous applies.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from backend.fees.policy import Grade, GroupAid, SchemePolicy
from backend.values.money import FEN_PER_YUAN, yuan_text

PAYABLE_LABEL = "个人应缴"
SUBSIDY_LABEL = "政府缴费补贴（计入个人账户，不减少应缴）"
# Pension: the government pays a grade on the person's behalf; medical: it funds their share.
GOV_PAID_WORD = {"pension": "政府代缴", "medical": "政府资助"}


class NotEligible(ValueError):
    """The person cannot join this scheme; ``reason`` is a sentence a resident understands."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidGrade(ValueError):
    """The grade is not offered to this person."""


@dataclass(frozen=True)
class BreakdownLine:
    kind: str  # 'gross' | 'gov_paid' | 'payable' | 'contribution_subsidy'
    label: str
    amount_fen: int


@dataclass(frozen=True)
class Quote:
    scheme: str
    period_year: int
    grade_yuan: int | None  # pension only
    years: int  # 1 unless a student pays several years (medical)
    gross_fen: int
    gov_paid_fen: int
    payable_fen: int  # gross_fen - gov_paid_fen, never below 0
    contribution_subsidy_fen: int  # pension only; never lowers payable
    applied_group: str | None  # the one special group that applied
    breakdown: tuple[BreakdownLine, ...]


def quote(
    policy: SchemePolicy,
    *,
    birth_date: date,
    groups: Iterable[str] = (),
    is_student: bool = False,
    grade_yuan: int | None = None,
    years: int = 1,
) -> Quote:
    """Price one scheme for one person.

    Pension: ``grade_yuan`` None means the lowest grade open to the person. Medical: no grade;
    ``years`` > 1 only for students, up to the policy maximum. Raises NotEligible, InvalidGrade,
    or ValueError for a bad ``years``.
    """
    aid = _most_generous(policy, groups)
    _check_eligible(policy, birth_date, is_student)
    _check_years(policy, years, is_student)
    if policy.scheme == "pension":
        return _pension_quote(policy, aid, _pick_grade(policy, grade_yuan, aid))
    if grade_yuan is not None:
        raise InvalidGrade(f"{policy.label}不设缴费档次。")
    return _price(
        policy,
        year_fen=policy.share_fen,
        years=years,
        aid=aid,
        gross_label=_medical_label(policy, years),
    )


def pension_options(
    policy: SchemePolicy,
    *,
    birth_date: date,
    groups: Iterable[str] = (),
    is_student: bool = False,
) -> list[Quote]:
    """One Quote per grade open to the person, ascending by grade. Raises NotEligible."""
    if policy.scheme != "pension":
        raise ValueError(f"{policy.scheme} has no grades")
    aid = _most_generous(policy, groups)
    _check_eligible(policy, birth_date, is_student)
    return list(_pension_grid(policy, aid))


def applied_group(policy: SchemePolicy, groups: Iterable[str]) -> str | None:
    """The special group whose help the policy gives a member of `groups` (None: no help)."""
    aid = _most_generous(policy, groups)
    return aid.group if aid else None


# The grade table of a policy for one kind of aid depends on nothing else, and every lookup of
# an adult prices it: build it once per (policy, aid). Keyed by identity, since a policy is fixed
# once loaded; the entry keeps its policy so a reused id() can never match a newer one.
_GRIDS: dict[tuple[int, str | None], tuple[SchemePolicy, tuple[Quote, ...]]] = {}
_GRIDS_MAX = 256


def _pension_grid(policy: SchemePolicy, aid: GroupAid | None) -> tuple[Quote, ...]:
    key = (id(policy), aid.group if aid else None)
    entry = _GRIDS.get(key)
    if entry is None or entry[0] is not policy:
        if len(_GRIDS) >= _GRIDS_MAX:
            _GRIDS.clear()  # only tests build that many policies
        grid = tuple(_pension_quote(policy, aid, g) for g in _open_grades(policy, aid))
        entry = _GRIDS[key] = (policy, grid)
    return entry[1]


def _most_generous(policy: SchemePolicy, groups: Iterable[str]) -> GroupAid | None:
    """The single group that helps most; groups never stack. Unknown names are ignored."""
    if isinstance(groups, str):
        # A bare string would iterate as letters and silently match nothing.
        raise TypeError("groups must be an iterable of group names, not a str")
    names = set(groups)
    best = None
    for aid in policy.aid:  # GROUPS order, so a tie goes to the earlier group
        if aid.group in names and aid.gov_paid_fen > (best.gov_paid_fen if best else 0):
            best = aid
    return best


def _age_on(day: date, birth_date: date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def _check_eligible(policy: SchemePolicy, birth_date: date, is_student: bool) -> None:
    if is_student and not policy.students_eligible:
        raise NotEligible(f"在校学生不参加{policy.label}。")
    if policy.min_age is None or policy.max_age is None:
        return
    age = _age_on(date(policy.period_year, 1, 1), birth_date)
    if policy.min_age <= age <= policy.max_age:
        return
    rule = (
        f"{policy.label}{policy.period_year}年度参保年龄为{policy.min_age}至{policy.max_age}周岁"
        f"（按{policy.period_year}年1月1日计算）"
    )
    if age < policy.min_age:
        raise NotEligible(f"{rule}，您届时未满{policy.min_age}周岁，暂不能参保缴费。")
    raise NotEligible(f"{rule}，您届时已超过{policy.max_age}周岁，不能参保缴费。")


def _check_years(policy: SchemePolicy, years: int, is_student: bool) -> None:
    if type(years) is not int or years < 1:
        raise ValueError(f"缴费年数必须为正整数，收到 {years!r}。")
    if years == 1:
        return
    if not policy.students_multi_year:
        raise ValueError(f"{policy.label}按年缴费，不能一次缴纳多个年度。")
    if not is_student:
        raise ValueError(f"{policy.label}仅在校学生可一次缴纳多个年度。")
    if years > policy.max_years:
        raise ValueError(f"{policy.label}一次最多缴纳{policy.max_years}个年度，收到 {years} 年。")


def _open_grades(policy: SchemePolicy, aid: GroupAid | None) -> list[Grade]:
    # The retained lowest grade exists only for people the government pays for.
    return [g for g in policy.grades if aid is not None or not g.special_only]


def _pick_grade(policy: SchemePolicy, grade_yuan: int | None, aid: GroupAid | None) -> Grade:
    open_grades = _open_grades(policy, aid)
    if grade_yuan is None:
        return open_grades[0]
    if type(grade_yuan) is not int:
        raise InvalidGrade(f"缴费档次必须为整数元，收到 {grade_yuan!r}。")
    for grade in open_grades:
        if grade.yuan == grade_yuan:
            return grade
    if any(g.yuan == grade_yuan for g in policy.grades):
        groups = "、".join(a.label for a in policy.aid if a.gov_paid_fen)
        raise InvalidGrade(f"{grade_yuan}元档次仅限{groups}选择。")
    offered = "、".join(str(g.yuan) for g in open_grades)
    raise InvalidGrade(
        f"{policy.label}{policy.period_year}年度没有{grade_yuan}元档次，可选档次：{offered}元。"
    )


def _pension_quote(policy: SchemePolicy, aid: GroupAid | None, grade: Grade) -> Quote:
    return _price(
        policy,
        year_fen=grade.yuan * FEN_PER_YUAN,
        aid=aid,
        grade=grade,
        gross_label=f"{policy.label} {policy.period_year}年度 缴费档次 {grade.yuan}元",
    )


def _medical_label(policy: SchemePolicy, years: int) -> str:
    if years == 1:
        return f"{policy.label} {policy.period_year}年度 个人缴费标准"
    last = policy.period_year + years - 1
    share = yuan_text(policy.share_fen, whole_without_cents=True)
    return (
        f"{policy.label} {policy.period_year}—{last}年度 个人缴费标准（{years}年，每年{share}元）"
    )


def _price(
    policy: SchemePolicy,
    *,
    year_fen: int,
    aid: GroupAid | None,
    gross_label: str,
    years: int = 1,
    grade: Grade | None = None,
) -> Quote:
    gross_fen = year_fen * years
    # The same help each year, never more than the year's amount itself: payable stays >= 0.
    gov_paid_fen = min(aid.gov_paid_fen, year_fen) * years if aid else 0
    payable_fen = gross_fen - gov_paid_fen
    subsidy_fen = grade.subsidy_fen if grade else 0
    lines = [BreakdownLine("gross", gross_label, gross_fen)]
    if aid:
        label = f"{aid.label} {GOV_PAID_WORD[policy.scheme]}"
        lines.append(BreakdownLine("gov_paid", label, gov_paid_fen))
    lines.append(BreakdownLine("payable", PAYABLE_LABEL, payable_fen))
    if grade:
        lines.append(BreakdownLine("contribution_subsidy", SUBSIDY_LABEL, subsidy_fen))
    return Quote(
        scheme=policy.scheme,
        period_year=policy.period_year,
        grade_yuan=grade.yuan if grade else None,
        years=years,
        gross_fen=gross_fen,
        gov_paid_fen=gov_paid_fen,
        payable_fen=payable_fen,
        contribution_subsidy_fen=subsidy_fen,
        applied_group=aid.group if aid else None,
        breakdown=tuple(lines),
    )

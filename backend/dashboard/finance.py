"""What the finance page shows (财政配套): for a county, scheme and period year the people
subsidised per special group, the government-paid share and the contribution subsidy, each split
between province, city and county, as backend.finance.report counts them for the API.

The choice offered is the person's: counties inside their region (a township's staff have none:
the totals are a county's), schemes of their department, period years the policy files price.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.auth.staff import StaffIdentity
from backend.errors import NotFound, Refused
from backend.fees import LEVELS, PolicyBook, PolicyNotFound
from backend.fees.policy import SchemePolicy
from backend.finance import report
from backend.finance.totals import Amounts, Totals
from backend.models import Region
from backend.models.registrations import SCHEMES
from backend.models.staff import DEPARTMENT_LABELS
from backend.values.labels import SCHEME_SHORT

OUTSIDE = "该区县不在您的管辖范围内。"


@dataclass(frozen=True)
class Asked:
    county: str  # 6 digits
    county_name: str
    scheme: str
    period_year: int
    policy: SchemePolicy


@dataclass(frozen=True)
class Choices:
    counties: list[tuple[str, str]]  # (6-digit code, name)
    schemes: list[str]
    years: list[int]  # of the chosen county and scheme


@dataclass(frozen=True)
class Line:
    label: str
    amounts: Amounts


@dataclass(frozen=True)
class FinancePage:
    asked: Asked
    choices: Choices
    shares: dict[str, dict[str, int]]  # gov_paid / contribution_subsidy -> level -> percent
    lines: list[Line]
    total: Amounts
    levels: tuple[str, ...] = LEVELS


def counties(session: Session, staff: StaffIdentity) -> list[tuple[str, str]]:
    rows = session.execute(
        select(Region.code, Region.name)
        .where(
            Region.level == "county", Region.code.startswith(staff.scope_prefix, autoescape=True)
        )
        .order_by(Region.code)
    ).all()
    return [(row.code[:6], row.name) for row in rows]


def period_years(policies: PolicyBook, county: str, scheme: str) -> list[int]:
    """The period years the policy files price for the county's scheme, newest first."""
    found = {
        policy.period_year
        for year in policies.collection_years(county)
        for policy in policies.collection(county, year)[1]
        if policy.scheme == scheme
    }
    return sorted(found, reverse=True)


def ask(
    session: Session,
    *,
    staff: StaffIdentity,
    policies: PolicyBook,
    county: str | None,
    scheme: str | None,
    period_year: int | None,
) -> tuple[Asked, Choices]:
    """The county, scheme and year asked for, each defaulting to the first offered (the newest
    year); NotFound outside the person's region or department, or for a year without a policy."""
    offered = counties(session, staff)
    if not offered:
        raise NotFound("财政配套按县（市、区）统计，您的账号不在县级及以上，无法查看。")
    names = dict(offered)
    county = (county or offered[0][0])[:6]
    if county not in names:
        raise NotFound(OUTSIDE, reason="outside_scope")
    schemes = [s for s in SCHEMES if staff.handles(s)]
    scheme = scheme or schemes[0]
    if scheme not in SCHEMES:
        raise Refused("请选择险种。", field="scheme")
    if scheme not in schemes:
        department = DEPARTMENT_LABELS[staff.department] if staff.department else ""
        raise NotFound(f"{department}部门不负责{SCHEME_SHORT[scheme]}。", reason="other_department")
    years = period_years(policies, county, scheme)
    if period_year is None and years:
        period_year = years[0]
    try:
        policy = policies.scheme_policy(county, scheme, period_year or 0)
    except PolicyNotFound:
        raise NotFound(
            f"{names[county]}没有{period_year}年度{SCHEME_SHORT[scheme]}的缴费政策。",
            reason="no_policy",
        ) from None
    asked = Asked(county, names[county], scheme, policy.period_year, policy)
    return asked, Choices(offered, schemes, years)


def totals_of(session: Session, asked: Asked) -> Totals:
    return report.county_totals(
        session,
        asked.policy,
        county=asked.county,
        scheme=asked.scheme,
        period_year=asked.period_year,
    )


def finance_page(session: Session, asked: Asked, choices: Choices) -> FinancePage:
    totals = totals_of(session, asked)
    funding = asked.policy.funding
    shares = {}
    if funding:
        shares["gov_paid"] = dict(funding.gov_paid)
        if funding.contribution_subsidy:
            shares["contribution_subsidy"] = dict(funding.contribution_subsidy)
    lines = [Line(report.group_label(asked.policy, g.group), g) for g in totals.groups]
    return FinancePage(asked, choices, shares, lines, totals.total)

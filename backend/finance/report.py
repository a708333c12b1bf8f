"""A county's finance totals for one scheme and period_year, as data and as a spreadsheet."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from backend.fees import LEVELS, SchemePolicy
from backend.finance.sources import subsidised_items
from backend.finance.totals import NO_GROUP, UNKNOWN_GROUP, Amounts, Totals, finance_totals
from backend.infra.spreadsheets import Table
from backend.values.money import yuan_text

LEVEL_NAMES = {"province": "省级", "city": "市级", "county": "县级"}
OTHER_GROUPS = {NO_GROUP: "普通参保人（仅缴费补贴）", UNKNOWN_GROUP: "特殊群体（名单已变更）"}


def county_totals(
    session: Session, policy: SchemePolicy, *, county: str, scheme: str, period_year: int
) -> Totals:
    funding = policy.funding
    return finance_totals(
        subsidised_items(session, policy, county=county, scheme=scheme, period_year=period_year),
        gov_paid_shares=funding.gov_paid if funding else None,
        subsidy_shares=(funding.contribution_subsidy or None) if funding else None,
        order=[aid.group for aid in policy.aid],
    )


def group_label(policy: SchemePolicy, group: str) -> str:
    labels = {aid.group: aid.label for aid in policy.aid}
    return labels.get(group) or OTHER_GROUPS.get(group, group)


def _levels_columns() -> list[tuple[str, str]]:
    return [
        *((f"gov_paid_{level}_fen", f"代缴资助{LEVEL_NAMES[level]}（分）") for level in LEVELS),
        *((f"subsidy_{level}_fen", f"缴费补贴{LEVEL_NAMES[level]}（分）") for level in LEVELS),
    ]


TABLE = Table(
    columns=(
        ("group", "群体"),
        ("people", "人数"),
        ("gov_paid_fen", "代缴资助（分）"),
        ("gov_paid_yuan", "代缴资助（元）"),
        ("contribution_subsidy_fen", "缴费补贴（分）"),
        ("contribution_subsidy_yuan", "缴费补贴（元）"),
        *_levels_columns(),
    ),
    amount_key="gov_paid_fen",
    also_summed=(
        "people",
        "contribution_subsidy_fen",
        *(key for key, _ in _levels_columns()),
    ),
    widths={"group": 26},
)


def records(policy: SchemePolicy, totals: Totals) -> list[dict[str, Any]]:
    """One spreadsheet row per group (levels the policy does not split show 0)."""
    return [_record(group_label(policy, g.group), g) for g in totals.groups]


def _record(label: str, amounts: Amounts) -> dict[str, Any]:
    record: dict[str, Any] = {
        "group": label,
        "people": amounts.people,
        "gov_paid_fen": amounts.gov_paid_fen,
        "gov_paid_yuan": yuan_text(amounts.gov_paid_fen),
        "contribution_subsidy_fen": amounts.contribution_subsidy_fen,
        "contribution_subsidy_yuan": yuan_text(amounts.contribution_subsidy_fen),
    }
    for level in LEVELS:
        record[f"gov_paid_{level}_fen"] = amounts.gov_paid_by_level.get(level, 0)
        record[f"subsidy_{level}_fen"] = amounts.contribution_subsidy_by_level.get(level, 0)
    return record


def file_stem(county: str, scheme: str, period_year: int) -> str:
    return f"finance-{county[:6]}-{scheme}-{period_year}"

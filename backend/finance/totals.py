"""The arithmetic of finance totals, pure: add up subsidised items per group, split between levels.

Each item is one paid registration and what the government put into it: the government-paid share
(gov_paid: 代缴 for pension, 资助 for medical) and the pension contribution subsidy (缴费补贴).
Splitting fen between levels is exact by largest remainder, so the parts always add up to the
whole. Each group's amounts are split on their own and a level's total is the sum of its parts over
the groups, so the table adds up both across (levels) and down (groups).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

NO_GROUP = "none"  # a person in no special group: only the contribution subsidy applies
# Government money paid for someone whose membership has since been withdrawn from the lists:
# the amount stands as paid, the group it was paid under is no longer known.
UNKNOWN_GROUP = "unknown"

Shares = Sequence[tuple[str, int]]  # (level, whole percent), adding up to 100


@dataclass(frozen=True)
class Subsidised:
    """One paid registration and the government money in it."""

    group: str | None  # the special group that applied; None for none
    gov_paid_fen: int
    contribution_subsidy_fen: int


@dataclass(frozen=True)
class Amounts:
    people: int = 0
    gov_paid_fen: int = 0
    contribution_subsidy_fen: int = 0
    gov_paid_by_level: dict[str, int] = field(default_factory=dict)
    contribution_subsidy_by_level: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class GroupAmounts(Amounts):
    group: str = NO_GROUP


@dataclass(frozen=True)
class Totals:
    groups: tuple[GroupAmounts, ...]  # in `order`, then any other group by name
    total: Amounts


def split_fen(total: int, shares: Shares) -> dict[str, int]:
    """`total` fen shared by whole percents, exactly: each level gets the floor of its share, and
    the fen left over go one each to the largest remainders (the earlier level on a tie)."""
    if sum(percent for _, percent in shares) != 100:
        raise ValueError(f"shares must add up to 100: {list(shares)}")
    floors = {level: total * percent // 100 for level, percent in shares}
    left = total - sum(floors.values())
    by_remainder = sorted(range(len(shares)), key=lambda i: (-(total * shares[i][1] % 100), i))
    for i in by_remainder[:left]:
        floors[shares[i][0]] += 1
    return floors


def finance_totals(
    items: Iterable[Subsidised],
    *,
    gov_paid_shares: Shares | None,
    subsidy_shares: Shares | None,
    order: Sequence[str] = (),
) -> Totals:
    """Per group and overall: people, both amounts, and each split by level (empty when the
    policy gives no shares). Items without government money are not counted."""
    sums: dict[str, list[int]] = {}
    for item in items:
        if item.gov_paid_fen <= 0 and item.contribution_subsidy_fen <= 0:
            continue
        row = sums.setdefault(item.group or NO_GROUP, [0, 0, 0])
        row[0] += 1
        row[1] += item.gov_paid_fen
        row[2] += item.contribution_subsidy_fen
    rank = {name: i for i, name in enumerate((*order, NO_GROUP))}
    names = sorted(sums, key=lambda name: (rank.get(name, len(rank)), name))
    groups = tuple(
        GroupAmounts(
            group=name,
            people=sums[name][0],
            gov_paid_fen=sums[name][1],
            contribution_subsidy_fen=sums[name][2],
            gov_paid_by_level=_split(sums[name][1], gov_paid_shares),
            contribution_subsidy_by_level=_split(sums[name][2], subsidy_shares),
        )
        for name in names
    )
    total = Amounts(
        people=sum(g.people for g in groups),
        gov_paid_fen=sum(g.gov_paid_fen for g in groups),
        contribution_subsidy_fen=sum(g.contribution_subsidy_fen for g in groups),
        gov_paid_by_level=_add(gov_paid_shares, (g.gov_paid_by_level for g in groups)),
        contribution_subsidy_by_level=_add(
            subsidy_shares, (g.contribution_subsidy_by_level for g in groups)
        ),
    )
    return Totals(groups, total)


def _split(total: int, shares: Shares | None) -> dict[str, int]:
    return split_fen(total, shares) if shares else {}


def _add(shares: Shares | None, parts: Iterable[dict[str, int]]) -> dict[str, int]:
    added = {level: 0 for level, _ in shares or ()}
    for part in parts:
        for level, fen in part.items():
            added[level] += fen
    return added

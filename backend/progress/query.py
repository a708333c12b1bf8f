"""Reading progress: a region and its children as of a day, from the rollup only.

A request reads the rollup rows of the region and of its children for one day (an index range
of the primary key), never the registrations: the same few rows at a village or a whole city.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from backend.errors import NotFound, Refused
from backend.fees import PolicyBook, PolicyNotFound
from backend.models import ProgressDay, ProgressRoll, Region
from backend.progress.figures import Counts, Deadline, deadline_on, lagging, needed_per_day, ranks
from backend.values import region_codes as regions

LAGGING_LIMIT = 20


@dataclass(frozen=True)
class RegionFigures:
    code: str
    name: str
    level: str
    counts: Counts
    needed_per_day: int
    rank: int | None = None


@dataclass(frozen=True)
class Progress:
    region: RegionFigures
    scheme: str
    period_year: int
    day: date  # asked for
    rolled_day: date | None  # the rollup it was read from (the last one up to `day`)
    rolled_at: datetime | None
    deadline: Deadline
    children: list[RegionFigures]


def progress(
    session: Session,
    *,
    region_code: str,
    scheme: str,
    period_year: int,
    day: date,
    today: date,
    policies: PolicyBook,
) -> Progress:
    """NotFound for an unknown region or one no policy covers; Refused for a future day."""
    if day > today:
        raise Refused(f"{day} 尚未到来，进度只能查询到今天（{today}）。", reason="future_date")
    deadline = _deadline(policies, region_code, scheme, period_year, day)
    places = session.execute(
        select(Region.code, Region.name, Region.level).where(
            or_(Region.code == region_code, Region.parent_code == region_code)
        )
    ).all()
    region = next((p for p in places if p.code == region_code), None)
    if region is None:
        raise NotFound(f"没有代码为 {region_code} 的地区。", reason="unknown_region")
    rolled = _rolled(session, day)
    counts = _counts(
        session,
        ProgressDay.region_code.in_(
            select(Region.code).where(
                or_(Region.code == region_code, Region.parent_code == region_code)
            )
        ),
        scheme=scheme,
        period_year=period_year,
        rolled=rolled,
    )
    children = [
        _figures(p.code, p.name, p.level, counts.get(p.code, Counts()), deadline)
        for p in places
        if p.code != region_code
    ]
    ranking = ranks([(child.code, child.counts.completion_rate) for child in children])
    children = sorted(
        (_ranked(child, ranking[child.code]) for child in children),
        key=lambda child: (child.rank, child.code),
    )
    return Progress(
        region=_figures(
            region.code, region.name, region.level, counts.get(region.code, Counts()), deadline
        ),
        scheme=scheme,
        period_year=period_year,
        day=day,
        rolled_day=rolled[0] if rolled else None,
        rolled_at=rolled[1] if rolled else None,
        deadline=deadline,
        children=children,
    )


def lagging_villages(
    session: Session,
    *,
    region_code: str,
    scheme: str,
    period_year: int,
    day: date,
    below: float,
    policies: PolicyBook,
    limit: int = LAGGING_LIMIT,
) -> list[RegionFigures]:
    """The villages of a region furthest behind: completion under `below` (usually the region's
    own rate), lowest first, at most `limit`."""
    deadline = _deadline(policies, region_code, scheme, period_year, day)
    prefix = regions.scope_prefix(region_code)
    counts = _counts(
        session,
        ProgressDay.level == "village",
        ProgressDay.region_code.startswith(prefix, autoescape=True),
        scheme=scheme,
        period_year=period_year,
        rolled=_rolled(session, day),
    )
    codes = lagging(
        [(code, c.completion_rate) for code, c in counts.items() if c.registered],
        below=below,
        limit=limit,
    )
    names = dict(
        session.execute(select(Region.code, Region.name).where(Region.code.in_(codes))).all()
    )
    return [
        _figures(code, names.get(code, code), "village", counts[code], deadline) for code in codes
    ]


def _deadline(policies: PolicyBook, region_code: str, scheme: str, period_year: int, day: date):
    try:
        policy = policies.scheme_policy(region_code, scheme, period_year)
    except PolicyNotFound:
        raise NotFound(
            f"{region_code} 没有 {period_year} 年度的{scheme}缴费政策。", reason="no_policy"
        ) from None
    return deadline_on(day, target=policy.deadline, closes=policy.window[1])


def _rolled(session: Session, day: date) -> tuple[date, datetime] | None:
    last = session.scalar(select(func.max(ProgressRoll.day)).where(ProgressRoll.day <= day))
    if last is None:
        return None
    return last, session.scalar(select(ProgressRoll.rolled_at).where(ProgressRoll.day == last))


_ROW = (
    ProgressDay.region_code,
    ProgressDay.channel,
    ProgressDay.registered,
    ProgressDay.paid,
    ProgressDay.paid_fen,
    ProgressDay.gov_paid_fen,
    ProgressDay.entered,
)


def _counts(session: Session, *where, scheme: str, period_year: int, rolled) -> dict[str, Counts]:
    """Counts per region of the rollup rows `where` selects on the rolled day (plain rows, no
    ORM objects: a county's request reads a hundred of them)."""
    if rolled is None:
        return {}
    query = select(*_ROW).where(
        *where,
        ProgressDay.scheme == scheme,
        ProgressDay.period_year == period_year,
        ProgressDay.day == rolled[0],
    )
    by_region: dict[str, list] = defaultdict(list)
    for row in session.execute(query).mappings():
        by_region[row["region_code"]].append(row)
    return {code: Counts.of_rows(found) for code, found in by_region.items()}


def _figures(code: str, name: str, level: str, counts: Counts, deadline: Deadline):
    return RegionFigures(
        code, name, level, counts, needed_per_day(counts.outstanding, deadline.days_left)
    )


def _ranked(figures: RegionFigures, rank: int) -> RegionFigures:
    return RegionFigures(
        figures.code, figures.name, figures.level, figures.counts, figures.needed_per_day, rank
    )

"""Reading progress: a region and its children as of a day, from the rollup only.

A request reads the rollup rows of the region and of its children for one day (an index range
of the primary key), never the registrations: the same few rows at a village or a whole city.
The progress of a region is one compiled statement on the read engine (backend.infra.statements).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Date, and_, bindparam, func, or_, select, true
from sqlalchemy.orm import Session

from backend.errors import NotFound, Refused
from backend.fees import PolicyBook, PolicyNotFound
from backend.infra.statements import Reader
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


class _InSession:
    """Reads through a caller's session, inside its transaction, as a Reader reads (a bulletin
    or a dashboard page reading several things at one moment)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def all(self, statement, **values):
        return self._session.execute(statement, values).all()


def progress(
    source: Reader | Session,
    *,
    region_code: str,
    scheme: str,
    period_year: int,
    day: date,
    today: date,
    policies: PolicyBook,
) -> Progress:
    """NotFound for an unknown region or one no policy covers; Refused for a future day.

    `source`: the read engine's Reader (one autocommit round trip: the API), or a Session.
    """
    if day > today:
        raise Refused(f"{day} 尚未到来，进度只能查询到今天（{today}）。", reason="future_date")
    deadline = _deadline(policies, region_code, scheme, period_year, day)
    reader = _InSession(source) if isinstance(source, Session) else source
    rows = reader.all(
        _REGION_AND_CHILDREN, code=region_code, scheme=scheme, period_year=period_year, day=day
    )
    places: dict[str, tuple[str, str]] = {}
    by_region: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        places[row.code] = (row.name, row.level)
        if row.channel is not None:
            by_region[row.code].append(row._asdict())
    if region_code not in places:
        raise NotFound(f"没有代码为 {region_code} 的地区。", reason="unknown_region")
    rolled = (rows[0].rolled_day, rows[0].rolled_at) if rows[0].rolled_day else None

    def figures_of(code: str) -> RegionFigures:
        name, level = places[code]
        return _figures(code, name, level, Counts.of_rows(by_region.get(code, ())), deadline)

    children = [figures_of(code) for code in places if code != region_code]
    ranking = ranks([(child.code, child.counts.completion_rate) for child in children])
    children = sorted(
        (_ranked(child, ranking[child.code]) for child in children),
        key=lambda child: (child.rank, child.code),
    )
    return Progress(
        region=figures_of(region_code),
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


# The last rollup up to the day asked for.
_ROLL = (
    select(ProgressRoll.day, ProgressRoll.rolled_at)
    .where(ProgressRoll.day <= bindparam("day", type_=Date))
    .order_by(ProgressRoll.day.desc())
    .limit(1)
    .subquery("roll")
)
# A region and its children with their rollup rows of that day (one per channel; none for a
# region nothing was counted in): a dashboard's every request, so one statement, one round trip
# on the read engine.
_REGION_AND_CHILDREN = (
    select(
        Region.code,
        Region.name,
        Region.level,
        _ROLL.c.day.label("rolled_day"),
        _ROLL.c.rolled_at,
        ProgressDay.channel,
        ProgressDay.registered,
        ProgressDay.paid,
        ProgressDay.paid_fen,
        ProgressDay.gov_paid_fen,
        ProgressDay.entered,
    )
    .select_from(Region)
    .outerjoin(_ROLL, true())
    .outerjoin(
        ProgressDay,
        and_(
            ProgressDay.region_code == Region.code,
            ProgressDay.scheme == bindparam("scheme"),
            ProgressDay.period_year == bindparam("period_year"),
            ProgressDay.day == _ROLL.c.day,
        ),
    )
    .where(or_(Region.code == bindparam("code"), Region.parent_code == bindparam("code")))
)

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

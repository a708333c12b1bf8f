"""Rolling the progress journal into daily cumulative figures for every region level.

A day's rollup is the previous rolled day's village rows plus the day's journal, summed per
village, scheme, period year and channel (one INSERT … SELECT … GROUP BY), then the villages
summed into their townships, the townships into counties and the counties into the city (three
more over a few thousand rows). A region's code says its parents (backend.values.region_codes),
so no join is needed.

Today is rolled again on every round of the worker (at most once a PROGRESS_ROLL_SECONDS); a day
is final once a roll ran after it ended. Each day rolls in its own transaction, replacing what
an earlier roll of the same day wrote, so running it twice changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, insert, literal, select, tuple_, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.infra.uow import UnitOfWork
from backend.models import ProgressChange, ProgressDay, ProgressRoll
from backend.progress.journal import day_of
from backend.values.beijing import day_bounds

log = logging.getLogger(__name__)

_journal = ProgressChange.__table__
_days = ProgressDay.__table__
_MEASURES = ("registered", "paid", "paid_fen", "gov_paid_fen", "entered")
_KEY = ("region_code", "scheme", "period_year", "channel")
# The significant digits of each level above the village, and the zeros that pad its code to 12.
_PARENTS = (("township", "village", 9), ("county", "township", 6), ("city", "county", 4))


@dataclass
class RollReport:
    days: list[date] = field(default_factory=list)
    changes: int = 0

    def __bool__(self) -> bool:
        return bool(self.days)

    def __str__(self) -> str:
        if not self.days:
            return "nothing to roll"
        span = f"{self.days[0]}" if len(self.days) == 1 else f"{self.days[0]}…{self.days[-1]}"
        return f"rolled {span} ({self.changes} changes)"


def roll(
    uow: UnitOfWork,
    *,
    now: datetime,
    since: date | None = None,
    unless_rolled_within: timedelta | None = None,
) -> RollReport:
    """Roll every day from the first one not final (or `since`) through today.

    `unless_rolled_within`: leave today alone if it was rolled that recently (the worker's pace).
    """
    today = day_of(now)
    with uow as session:
        start = since or _first_unfinished(session)
        if start is None:
            return RollReport()
        if unless_rolled_within is not None and start == today:
            rolled_at = session.scalar(
                select(ProgressRoll.rolled_at).where(ProgressRoll.day == today)
            )
            if rolled_at is not None and now - rolled_at < unless_rolled_within:
                return RollReport()
    report = RollReport()
    day = start
    while day <= today:
        try:
            with uow as session:
                report.changes += roll_day(session, day, now=now)
        except IntegrityError:
            # Another worker rolled the same day at the same moment; its result stands.
            log.info("progress of %s was rolled by another worker", day)
        report.days.append(day)
        day += timedelta(days=1)
    return report


def _first_unfinished(session: Session) -> date | None:
    """The first day whose rollup is missing or was made before the day ended.

    Days roll in order, each in a run that started after the one before it ended, so only the
    last rolled day can be unfinished."""
    last = session.execute(
        select(ProgressRoll.day, ProgressRoll.rolled_at).order_by(ProgressRoll.day.desc()).limit(1)
    ).first()
    if last is None:
        return session.scalar(select(func.min(ProgressChange.day)))
    if last.rolled_at >= day_bounds(last.day)[1]:
        return last.day + timedelta(days=1)
    return last.day


def roll_day(session: Session, day: date, *, now: datetime) -> int:
    """Replace the rollup of `day`; the number of journal rows it took in."""
    session.execute(delete(ProgressRoll).where(ProgressRoll.day == day))
    held = _series(session)
    session.execute(delete(_days).where(*_of_day(held, day)))
    previous = session.scalar(select(func.max(ProgressRoll.day)).where(ProgressRoll.day < day))
    carried = select(*(_days.c[name] for name in (*_KEY, *_MEASURES))).where(
        *_of_day(held, previous), _days.c.level == "village"
    )
    changes = select(
        _journal.c.village_code.label("region_code"),
        *(_journal.c[name] for name in ("scheme", "period_year", "channel", *_MEASURES)),
    ).where(_journal.c.day == day)
    both = (union_all(carried, changes) if previous else changes).subquery()
    session.execute(_sum_into(day, "village", both, both.c.region_code))
    # The day may have brought a scheme or period year the rollup did not hold yet.
    of_day = _of_day(_series(session), day)
    for level, below, digits in _PARENTS:
        rows = select(_days).where(*of_day, _days.c.level == below).subquery()
        parent = func.substr(rows.c.region_code, 1, digits).concat("0" * (12 - digits))
        session.execute(_sum_into(day, level, rows, parent))
    count = session.scalar(select(func.count()).select_from(_journal).where(_journal.c.day == day))
    session.add(ProgressRoll(day=day, rolled_at=now, changes=count or 0))
    return count or 0


def _of_day(series: list[tuple[str, int]], day: date | None) -> list[ColumnElement[bool]]:
    """Conditions selecting the rollup rows of `day` through the primary key.

    The key starts with scheme and period year, so `day = ?` alone scans the whole table, which
    grows by tens of thousands of rows a day; naming every scheme and period year the rollup
    holds makes it an index range of each."""
    return [
        _days.c.scheme.in_(sorted({scheme for scheme, _ in series})),
        _days.c.period_year.in_(sorted({year for _, year in series})),
        _days.c.day == day,
    ]


def _series(session: Session) -> list[tuple[str, int]]:
    """Every (scheme, period_year) in the rollup: one primary-key probe each (a loose index
    scan; a DISTINCT would read every row)."""
    key = tuple_(_days.c.scheme, _days.c.period_year)
    lowest = select(_days.c.scheme, _days.c.period_year).order_by(*key.clauses).limit(1)
    found: list[tuple[str, int]] = []
    row = session.execute(lowest).first()
    while row is not None:
        found.append((row.scheme, row.period_year))
        after = key > tuple_(literal(row.scheme), literal(row.period_year))
        row = session.execute(lowest.where(after)).first()
    return found


def _sum_into(day: date, level: str, rows, region: ColumnElement[str]):
    group = (region, rows.c.scheme, rows.c.period_year, rows.c.channel)
    return insert(_days).from_select(
        ["region_code", "scheme", "period_year", "channel", "day", "level", *_MEASURES],
        select(
            *group,
            literal(day, _days.c.day.type),
            literal(level),
            *(func.sum(rows.c[name]) for name in _MEASURES),
        ).group_by(*group),
    )

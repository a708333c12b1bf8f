"""A region's progress day by day, for a chart of completion over the season.

Reads the rollup rows of one region (ProgressDay, one per channel and rolled day), never the
registrations: a whole season of a city is a few hundred rows. Each day's figures are summed the
way a progress request sums them (figures.Counts), so the chart's last point is the figure shown.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import ProgressDay
from backend.progress.figures import Counts

_ROW = (
    ProgressDay.day,
    ProgressDay.channel,
    ProgressDay.registered,
    ProgressDay.paid,
    ProgressDay.paid_fen,
    ProgressDay.gov_paid_fen,
    ProgressDay.entered,
)


def history(
    session: Session,
    *,
    region_code: str,
    scheme: str,
    period_year: int,
    until: date,
    since: date | None = None,
) -> list[tuple[date, Counts]]:
    """The region's cumulative figures on each rolled day from `since` through `until`, in day
    order; days before anything was counted in the region have no entry."""
    query = select(*_ROW).where(
        ProgressDay.region_code == region_code,
        ProgressDay.scheme == scheme,
        ProgressDay.period_year == period_year,
        ProgressDay.day <= until,
    )
    if since is not None:
        query = query.where(ProgressDay.day >= since)
    by_day: dict[date, list] = defaultdict(list)
    for row in session.execute(query).mappings():
        by_day[row["day"]].append(row)
    return [(day, Counts.of_rows(by_day[day])) for day in sorted(by_day)]

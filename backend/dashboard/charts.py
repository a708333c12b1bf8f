"""The data of the dashboard's charts, as plain JSON for the page's data-chart attributes
(static/dashboard.js draws them with ECharts). Pure: no Flask, no database."""

from __future__ import annotations

from datetime import date
from typing import Any

from backend.progress.figures import Counts
from backend.progress.query import Progress


def percent(rate: float) -> float:
    return round(rate * 100, 2)


def percent_text(rate: float) -> str:
    """0.3333 -> '33.33%', 1.0 -> '100%', 0.0 -> '0%'."""
    return f"{percent(rate):g}%"


def completion_over_time(
    progress: Progress, days: list[tuple[date, Counts]], opens: date
) -> dict[str, Any]:
    """Completion (%) on each rolled day, the deadline, and the straight pace from the last
    figure to everyone paid on the deadline."""
    points = [[day.isoformat(), percent(counts.completion_rate)] for day, counts in days]
    deadline = progress.deadline.deadline
    now = percent(progress.region.counts.completion_rate)
    pace = [[progress.day.isoformat(), now], [deadline.isoformat(), 100.0]]
    return {
        "kind": "history",
        "opens": opens.isoformat(),
        "deadline": deadline.isoformat(),
        "deadline_label": "目标" if deadline == progress.deadline.target else "缴费截止",
        "ends": max(deadline, progress.deadline.closes).isoformat(),
        "points": points,
        "pace": pace if progress.day < deadline and now < 100 else [],
    }


def children_ranked(progress: Progress) -> dict[str, Any]:
    """The children's completion (%), best first, and the region's own rate to compare."""
    return {
        "kind": "ranking",
        "names": [child.name for child in progress.children],
        "rates": [percent(child.counts.completion_rate) for child in progress.children],
        "average": percent(progress.region.counts.completion_rate),
    }

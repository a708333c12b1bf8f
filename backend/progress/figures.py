"""A region's progress figures, its deadline and the ranking of its children. Pure: plain data.

Completion counts every registration paid, by the resident (any channel) or by the government,
against the registrations of the region. The deadline is the scheme's campaign target (pension
31 October, medical 30 November) until it passes, then the end of the collection window
(31 December), after which nothing is left to do: the work plan's dates, read from the policy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from backend.orders.channels import CHANNEL_GROUPS, GOVERNMENT, GROUP_OF


@dataclass(frozen=True)
class Counts:
    """Cumulative figures of one region, summed from its rollup rows (one per channel). The
    derived figures are worked out once (a county's answer asks each several times)."""

    registered: int = 0
    paid_by_channel: Mapping[str, int] = field(default_factory=dict)
    paid_fen: int = 0  # what residents paid
    gov_paid_fen: int = 0  # the government's share of everything paid
    entered: int = 0

    @classmethod
    def of_rows(cls, rows: Iterable[Mapping]) -> Counts:
        """Sum rollup rows (keys: channel, registered, paid, paid_fen, gov_paid_fen, entered)."""
        registered = paid_fen = gov_paid_fen = entered = 0
        channels: dict[str, int] = {}
        for row in rows:
            registered += row["registered"]
            paid_fen += row["paid_fen"]
            gov_paid_fen += row["gov_paid_fen"]
            entered += row["entered"]
            if row["channel"] and row["paid"]:
                channels[row["channel"]] = channels.get(row["channel"], 0) + row["paid"]
        return cls(registered, channels, paid_fen, gov_paid_fen, entered)

    @cached_property
    def paid_by_government(self) -> int:
        return self.paid_by_channel.get(GOVERNMENT, 0)

    @cached_property
    def paid_by_resident(self) -> int:
        return sum(n for channel, n in self.paid_by_channel.items() if channel != GOVERNMENT)

    @cached_property
    def paid_by_group(self) -> dict[str, int]:
        """Paid registrations by the four ways of paying: WeChat self-service, collecting units,
        schools, the government (every group present, 0 when none)."""
        groups = dict.fromkeys(CHANNEL_GROUPS, 0)
        for channel, n in self.paid_by_channel.items():
            groups[GROUP_OF.get(channel, channel)] = (
                groups.get(GROUP_OF.get(channel, channel), 0) + n
            )
        return groups

    @cached_property
    def paid(self) -> int:
        return self.paid_by_resident + self.paid_by_government

    @cached_property
    def outstanding(self) -> int:
        return max(self.registered - self.paid, 0)

    @cached_property
    def completion_rate(self) -> float:
        """Paid / registered, 0 for a region with nobody registered; 4 decimals."""
        return round(self.paid / self.registered, 4) if self.registered else 0.0


@dataclass(frozen=True)
class Deadline:
    deadline: date
    days_left: int  # days after `day` up to and including the deadline
    target: date  # the scheme's campaign target
    closes: date  # the last day anything can be paid


def deadline_on(day: date, *, target: date, closes: date) -> Deadline:
    deadline = target if day <= target else closes
    return Deadline(deadline, max((deadline - day).days, 0), target, closes)


def needed_per_day(outstanding: int, days_left: int) -> int:
    """Payments a day the region needs from tomorrow on to have everyone paid by the deadline;
    all that is outstanding when no day is left."""
    if outstanding <= 0:
        return 0
    return math.ceil(outstanding / days_left) if days_left > 0 else outstanding


def ranks(rates: Sequence[tuple[str, float]]) -> dict[str, int]:
    """Competition ranking by rate, highest first: equal rates share a rank (1, 2, 2, 4)."""
    ordered = sorted(rates, key=lambda pair: (-pair[1], pair[0]))
    result: dict[str, int] = {}
    previous: float | None = None
    rank = 0
    for position, (code, rate) in enumerate(ordered, start=1):
        if rate != previous:
            rank, previous = position, rate
        result[code] = rank
    return result


def lagging(rates: Sequence[tuple[str, float]], *, below: float, limit: int) -> list[str]:
    """The codes of the `limit` lowest rates under `below`, lowest first."""
    under = sorted((pair for pair in rates if pair[1] < below), key=lambda pair: (pair[1], pair[0]))
    return [code for code, _ in under[:limit]]

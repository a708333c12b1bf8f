"""The business clock: every piece of code that reads the time asks a Clock for it.

Production runs on the system clock. A shifted clock runs at real speed from another instant:
APP_CLOCK_START (any ISO instant, e.g. 2019-11-20T09:00:00+08:00) is what the clock reads at
APP_CLOCK_ANCHOR (a Unix time; by default when the process starts), so `make run` and the
tests can stand inside a collection season, and several processes given the same pair (the API,
the worker, both fakes) agree to the second. Tests move a shifted clock forward instead of
sleeping.

Column defaults (created_at, updated_at, ...) read the clock of the engine a statement runs on
(`stamp`), so rows written without an explicit time agree with the business clock too.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

CLOCK_OPTION = "clock"  # the execution option that carries an engine's clock (see stamp)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM_CLOCK = SystemClock()


class ShiftedClock:
    """Reads `start` at wall time `anchor` and runs forward at real speed from there.

    `advance` and `set` move it (tests); every reader sees the move at once.
    """

    def __init__(self, start: datetime, anchor: float | None = None) -> None:
        if start.tzinfo is None:
            raise ValueError("a clock's start needs a time zone, e.g. 2019-11-20T09:00:00+08:00")
        self._lock = threading.Lock()
        self._start = start.astimezone(UTC)
        self._anchor = time.time() if anchor is None else anchor

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.time() - self._anchor)

    def timestamp(self) -> float:
        """Unix seconds on this clock (what the fakes' clocks return)."""
        return self._start.timestamp() + (time.time() - self._anchor)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._start += delta

    def set(self, instant: datetime) -> None:
        """Read `instant` now, and run on from it."""
        with self._lock:
            self._start, self._anchor = instant.astimezone(UTC), time.time()

    def __repr__(self) -> str:
        return f"ShiftedClock(now={self.now().isoformat(timespec='seconds')})"


def clock_from_settings(start: str | None, anchor: str | None, *, live: bool) -> Clock:
    """The clock APP_CLOCK_START / APP_CLOCK_ANCHOR ask for; the system clock when unset.

    Refused when payments are live: real money is never taken on a make-believe date.
    """
    if not start:
        return SYSTEM_CLOCK
    if live:
        raise ValueError("APP_CLOCK_START must not be set when WECHAT_MODE=live")
    try:
        instant = datetime.fromisoformat(start)
    except ValueError:
        raise ValueError(
            f"APP_CLOCK_START must be an ISO instant like 2019-11-20T09:00:00+08:00, got {start!r}"
        ) from None
    if instant.tzinfo is None:
        raise ValueError(f"APP_CLOCK_START needs a time zone (+08:00 for Beijing), got {start!r}")
    try:
        anchored = float(anchor) if anchor else None
    except ValueError:
        raise ValueError(f"APP_CLOCK_ANCHOR must be Unix seconds, got {anchor!r}") from None
    return ShiftedClock(instant, anchored)


def wall_seconds() -> float:
    """Unix seconds on the machine's own clock, for what an outside library counts in it (the
    rate limiter's windows): never for the business (orders, days, deadlines)."""
    return time.time()


def stamp(context: Any) -> datetime:
    """Column default and onupdate: the clock of the engine the statement runs on."""
    clock = context.execution_options.get(CLOCK_OPTION) if context is not None else None
    return (clock or SYSTEM_CLOCK).now()

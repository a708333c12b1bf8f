"""The fakes' wall clock: the APP_CLOCK_START / APP_CLOCK_ANCHOR pair the backend reads, so a fake
platform stands on the same day as the app it serves (a demo inside a collection season)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from backend.infra.clock import ShiftedClock, clock_from_settings


def wall_clock_from_env() -> Callable[[], float]:
    """Unix seconds on the shared clock; the system's when APP_CLOCK_START is unset."""
    clock = clock_from_settings(
        os.environ.get("APP_CLOCK_START"), os.environ.get("APP_CLOCK_ANCHOR"), live=False
    )
    return clock.timestamp if isinstance(clock, ShiftedClock) else time.time

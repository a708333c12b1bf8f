"""The business clock: a demo or a test stands inside a collection season; live money never does."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from backend.infra.clock import SYSTEM_CLOCK, ShiftedClock, clock_from_settings
from backend.values.beijing import BEIJING

SEASON = "2019-11-20T09:00:00+08:00"


def test_without_a_start_the_clock_is_the_systems():
    assert clock_from_settings(None, None, live=False) is SYSTEM_CLOCK
    assert abs((SYSTEM_CLOCK.now() - datetime.now(UTC)).total_seconds()) < 1


def test_a_start_puts_the_clock_there_and_it_runs_at_real_speed():
    clock = clock_from_settings(SEASON, None, live=False)
    first = clock.now()
    assert first.astimezone(BEIJING).replace(tzinfo=None) - datetime(2019, 11, 20, 9) < timedelta(
        seconds=1
    )
    time.sleep(0.05)  # real time passing is what this clock is about
    assert clock.now() - first >= timedelta(seconds=0.05)


def test_processes_given_the_same_anchor_read_the_same_time():
    anchor = str(time.time() - 3600)  # the demo started an hour ago
    api, worker = (clock_from_settings(SEASON, anchor, live=False) for _ in range(2))
    assert abs((api.now() - worker.now()).total_seconds()) < 0.01
    assert api.now().astimezone(BEIJING).hour == 10  # an hour into the demo day


def test_live_payments_are_never_taken_on_a_make_believe_date():
    with pytest.raises(ValueError, match="WECHAT_MODE=live"):
        clock_from_settings(SEASON, None, live=True)


@pytest.mark.parametrize(
    ("start", "anchor", "problem"),
    [
        ("2019-11-20 09:00", None, "time zone"),
        ("20 November 2019", None, "ISO instant"),
        (SEASON, "yesterday", "Unix seconds"),
    ],
)
def test_a_malformed_setting_says_what_is_wrong(start, anchor, problem):
    with pytest.raises(ValueError, match=problem):
        clock_from_settings(start, anchor, live=False)


def test_a_test_moves_the_clock_instead_of_sleeping():
    clock = ShiftedClock(datetime(2019, 11, 20, 9, tzinfo=BEIJING))
    before = clock.now()
    clock.advance(timedelta(minutes=31))
    assert clock.now() - before >= timedelta(minutes=31)
    clock.set(datetime(2019, 12, 31, 23, 59, tzinfo=BEIJING))
    assert clock.now().astimezone(BEIJING).date().isoformat() == "2019-12-31"
    assert abs(clock.timestamp() - clock.now().timestamp()) < 0.01

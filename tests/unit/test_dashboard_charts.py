"""The dashboard's chart data: completion in percent, the pace to the deadline, the ranking."""

from __future__ import annotations

from datetime import date

from backend.dashboard.charts import children_ranked, completion_over_time, percent_text
from backend.progress.figures import Counts, deadline_on
from backend.progress.query import Progress, RegionFigures

TARGET, CLOSES = date(2019, 11, 30), date(2019, 12, 31)


def counts(registered: int, paid: int) -> Counts:
    return Counts(registered, {"wechat_miniprogram": paid} if paid else {})


def township(day: date, registered: int, paid: int, children=()) -> Progress:
    return Progress(
        region=RegionFigures("410721100000", "翟坡镇", "township", counts(registered, paid), 0),
        scheme="medical",
        period_year=2020,
        day=day,
        rolled_day=day,
        rolled_at=None,
        deadline=deadline_on(day, target=TARGET, closes=CLOSES),
        children=list(children),
    )


def test_rates_read_as_people_write_them():
    assert [percent_text(r) for r in (1 / 3, 1.0, 0.0, 0.5)] == ["33.33%", "100%", "0%", "50%"]


def test_the_pace_runs_from_today_to_everyone_paid_on_the_target_date():
    day = date(2019, 11, 21)
    chart = completion_over_time(
        township(day, 6, 3),
        [(date(2019, 11, 20), counts(6, 1)), (day, counts(6, 3))],
        opens=date(2019, 9, 1),
    )
    assert chart["points"] == [["2019-11-20", 16.67], ["2019-11-21", 50.0]]
    assert chart["pace"] == [["2019-11-21", 50.0], ["2019-11-30", 100.0]]
    assert (chart["deadline"], chart["deadline_label"]) == ("2019-11-30", "目标")
    assert (chart["opens"], chart["ends"]) == ("2019-09-01", "2019-12-31")


def test_after_the_target_the_window_end_is_the_deadline_and_a_finished_region_has_no_pace():
    day = date(2019, 12, 5)
    behind = completion_over_time(township(day, 6, 3), [], opens=date(2019, 9, 1))
    assert (behind["deadline"], behind["deadline_label"]) == ("2019-12-31", "缴费截止")
    done = completion_over_time(township(day, 6, 6), [], opens=date(2019, 9, 1))
    assert done["pace"] == []


def test_children_are_charted_best_first_against_the_regions_own_rate():
    children = [
        RegionFigures("410721100202", "小召营村", "village", counts(2, 2), 0, rank=1),
        RegionFigures("410721100201", "大召营村", "village", counts(4, 1), 1, rank=2),
    ]
    chart = children_ranked(township(date(2019, 11, 21), 6, 3, children))
    assert chart == {
        "kind": "ranking",
        "names": ["小召营村", "大召营村"],
        "rates": [100.0, 25.0],
        "average": 50.0,
    }

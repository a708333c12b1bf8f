"""The pure rules of progress: completion, the deadline that applies, the pace needed, ranking."""

from __future__ import annotations

from datetime import date

from backend.progress.figures import Counts, deadline_on, lagging, needed_per_day, ranks

TARGET, CLOSES = date(2019, 11, 30), date(2019, 12, 31)


def rows(*triples):
    return [
        {
            "channel": c,
            "registered": r,
            "paid": p,
            "paid_fen": p * 25000,
            "gov_paid_fen": 0,
            "entered": 0,
        }
        for c, r, p in triples
    ]


def test_counts_add_up_channels_and_tell_residents_from_the_government():
    counts = Counts.of_rows(
        rows(("", 10, 0), ("wechat_qr", 0, 3), ("government", 0, 2), ("wechat_qr", 0, 1))
    )
    assert counts.paid_by_channel == {"wechat_qr": 4, "government": 2}
    assert (counts.paid_by_resident, counts.paid_by_government, counts.paid) == (4, 2, 6)
    assert (counts.outstanding, counts.completion_rate, counts.paid_fen) == (4, 0.6, 150000)


def test_paid_counts_by_the_four_ways_of_paying():
    counts = Counts.of_rows(
        rows(
            ("", 20, 0),
            ("wechat_miniprogram", 0, 3),
            ("wechat_qr", 0, 2),
            ("collector", 0, 4),
            ("school", 0, 5),
            ("government", 0, 1),
        )
    )
    assert counts.paid_by_group == {"wechat": 5, "collector": 4, "school": 5, "government": 1}
    assert (counts.paid_by_resident, counts.paid) == (14, 15)
    assert Counts.of_rows(rows(("", 3, 0))).paid_by_group == dict.fromkeys(
        ("wechat", "collector", "school", "government"), 0
    )


def test_a_region_with_nobody_registered_is_at_zero_not_dividing_by_it():
    assert Counts().completion_rate == 0.0 and Counts().outstanding == 0


def test_the_deadline_is_the_target_until_it_passes_then_the_end_of_the_window():
    assert deadline_on(date(2019, 11, 20), target=TARGET, closes=CLOSES).days_left == 10
    on_target = deadline_on(TARGET, target=TARGET, closes=CLOSES)
    assert (on_target.deadline, on_target.days_left) == (TARGET, 0)
    after = deadline_on(date(2019, 12, 1), target=TARGET, closes=CLOSES)
    assert (after.deadline, after.days_left) == (CLOSES, 30)
    assert deadline_on(date(2020, 1, 5), target=TARGET, closes=CLOSES).days_left == 0


def test_the_pace_needed_rounds_up_and_asks_for_everything_when_no_day_is_left():
    assert needed_per_day(21, 10) == 3
    assert needed_per_day(20, 10) == 2
    assert needed_per_day(7, 0) == 7
    assert needed_per_day(0, 0) == 0


def test_equal_rates_share_a_rank_and_the_next_rank_skips():
    assert ranks([("b", 0.5), ("a", 0.9), ("c", 0.5), ("d", 0.1)]) == {
        "a": 1,
        "b": 2,
        "c": 2,
        "d": 4,
    }


def test_lagging_lists_the_lowest_rates_under_the_bar_lowest_first():
    rates = [("v1", 0.2), ("v2", 0.8), ("v3", 0.1), ("v4", 0.5)]
    assert lagging(rates, below=0.5, limit=5) == ["v3", "v1"]
    assert lagging(rates, below=0.9, limit=2) == ["v3", "v1"]

"""The demo season's plan, pure: the same season every time, inside the rules the services keep."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import pytest

from backend.fees import PolicyBook
from backend.seed.population import people
from backend.seed.season_plan import SEASON_START, plan_season
from backend.values.beijing import BEIJING

BOOK = PolicyBook.load()
NOW = datetime(2019, 11, 20, 9, 0, 7, tzinfo=BEIJING)
PERSONS = list(people(2019, 1500))


@pytest.fixture(scope="module")
def plan():
    return plan_season(PERSONS, seed=2019, now=NOW, book=BOOK)


def test_the_same_people_and_hour_give_the_same_season_to_the_second(plan):
    later_that_hour = plan_season(PERSONS, seed=2019, now=NOW + timedelta(minutes=40), book=BOOK)
    assert later_that_hour == plan


def test_every_payment_falls_in_the_window_before_now_and_is_entered_after_it(plan):
    for order in plan.orders:
        assert SEASON_START <= order.day <= NOW.date()
        assert order.created_at < order.paid_at < order.notified_at < NOW
        assert all(order.paid_at < entry.entered_at < NOW for entry in order.entries)
        assert order.total_fen > 0 and len(order.items) <= 10


def test_a_household_pays_each_scheme_once_and_each_registration_at_most_once(plan):
    assert max(Counter((o.household_no, o.items[0].scheme) for o in plan.orders).values()) == 1
    refs = [item.registration_ref for o in plan.orders for item in o.items]
    assert len(refs) == len(set(refs))
    assert {item.scheme for o in plan.orders for item in o.items} == {"pension", "medical"}


def test_counties_pay_at_their_own_pace(plan):
    households = Counter(p.village_code[:6] for p in PERSONS if p.relation == "head")
    paying = Counter(o.county_code[:6] for o in plan.orders if o.items[0].scheme == "medical")
    assert paying["410721"] / households["410721"] > 2 * paying["410727"] / households["410727"]


def test_yesterday_holds_one_lost_payment_and_one_billed_at_another_amount(plan):
    assert plan.planted_on == date(2019, 11, 19)
    (lost,) = plan.of_kind("lost")
    (mismatch,) = plan.of_kind("amount_mismatch")
    assert lost.day == mismatch.day == plan.planted_on
    assert mismatch.billed_fen == mismatch.total_fen + 100
    assert not lost.entries and lost.refund is None


def test_refunds_give_back_recent_payments_not_yet_entered(plan):
    refunded = [o for o in plan.orders if o.refund is not None]
    assert len(refunded) >= 2
    for order in refunded:
        assert order.kind == "paid" and not order.entries
        assert order.paid_at < order.refund.requested_at < order.refund.succeeded_at < NOW


def test_the_people_offered_to_try_are_left_unpaid():
    household = PERSONS[0].household_no
    plan = plan_season(PERSONS, seed=2019, now=NOW, book=BOOK, leave_unpaid=frozenset([household]))
    assert all(o.household_no != household for o in plan.orders)

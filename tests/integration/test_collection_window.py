"""The collection window is enforced: a registration is paid from the window's first day to its
last (31 December, the work plan's "everything by the end of the year"); the scheme deadlines
are targets, not cut-offs. The lookup says, per registration, whether it can be paid now and
until when."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from backend.models import PaymentOrder
from backend.values.beijing import BEIJING
from tests.support.builders import add_person, age_on_2019
from tests.support.resident import lookup, order, sign_in
from tests.support.running import fresh


@pytest.fixture
def session(app, with_regions):
    with app.extensions["db_sessions"]() as session:
        yield session


@pytest.fixture
def auth(http, live_server, fake_wechat):
    return sign_in(http, live_server, fake_wechat, "window-payer")


def signed_in_at(clock, instant, http, live_server, fake_wechat):
    """Move the clock to `instant` and sign in then (a session token lasts two hours)."""
    clock.set(instant)
    return sign_in(http, live_server, fake_wechat, "window-payer")


def found(http, live_server, auth, person, name="张三"):
    answer = lookup(http, live_server, auth, person.id_number, name)
    assert answer.status_code == 200, answer.text
    return {r["scheme"]: r for r in answer.json()["registrations"]}


def orders_made(session):
    return fresh(session, lambda s: s.scalar(select(func.count()).select_from(PaymentOrder)))


def test_inside_the_window_past_the_pension_target_a_pension_can_still_be_paid(
    session, http, live_server, fake_wechat, auth, clock
):
    # 20 November: after the pension target (31 October), before the medical one.
    person, [pension, medical] = add_person(session, birth=age_on_2019(40))
    shown = found(http, live_server, auth, person)
    assert shown["pension"]["deadline"] == "2019-10-31"  # the campaign's target, shown
    for registration in shown.values():
        assert registration["payable_now"] is True
        assert (registration["pay_from"], registration["pay_until"]) == ("2019-09-01", "2019-12-31")
        assert registration["not_payable_reason"] is None
    assert order(http, live_server, auth, [pension.ref, medical.ref]).status_code == 201


def test_after_the_window_closes_payment_is_refused_and_the_agency_named(
    session, http, live_server, fake_wechat, auth, clock
):
    person, [_, medical] = add_person(session, birth=age_on_2019(40))
    auth = signed_in_at(
        clock, datetime(2020, 1, 1, 8, 0, tzinfo=BEIJING), http, live_server, fake_wechat
    )
    shown = found(http, live_server, auth, person)
    assert shown["medical"]["payable_now"] is False
    assert "已经结束" in shown["medical"]["not_payable_reason"]
    assert "医保经办机构" in shown["medical"]["not_payable_reason"]
    assert "社保经办机构" in shown["pension"]["not_payable_reason"]

    refused = order(http, live_server, auth, [medical.ref])
    assert refused.status_code == 422
    body = refused.json()
    assert body["reason"] == "outside_window"
    assert "2020年度医疗保险的缴费期为2019年9月1日至2019年12月31日，已经结束" in body["message"]
    assert orders_made(session) == 0  # nothing half-applied: no order, nothing held
    assert found(http, live_server, auth, person)["medical"]["status"] == "unpaid"


def test_the_last_day_of_the_window_still_takes_payment(
    session, http, live_server, fake_wechat, auth, clock
):
    person, [_, medical] = add_person(session, birth=age_on_2019(40))
    auth = signed_in_at(
        clock, datetime(2019, 12, 31, 23, 50, tzinfo=BEIJING), http, live_server, fake_wechat
    )
    assert found(http, live_server, auth, person)["medical"]["payable_now"] is True
    assert order(http, live_server, auth, [medical.ref]).status_code == 201


def test_before_the_window_opens_payment_waits_for_it(
    session, http, live_server, fake_wechat, auth, clock
):
    person, [pension, _] = add_person(session, birth=age_on_2019(40))
    auth = signed_in_at(
        clock, datetime(2019, 8, 20, 9, 0, tzinfo=BEIJING), http, live_server, fake_wechat
    )
    shown = found(http, live_server, auth, person)
    assert shown["pension"]["payable_now"] is False
    assert "尚未开始" in shown["pension"]["not_payable_reason"]
    refused = order(http, live_server, auth, [pension.ref])
    assert refused.status_code == 422
    assert "2019年9月1日至2019年12月31日，尚未开始" in refused.json()["message"]


def test_one_registration_out_of_its_window_refuses_the_whole_household_order(
    session, http, live_server, fake_wechat, auth, clock
):
    """A household's basket is paid at once or not at all: never half an order."""
    _, [pension, medical] = add_person(session, birth=age_on_2019(40))
    auth = signed_in_at(
        clock, datetime(2020, 1, 2, 10, 0, tzinfo=BEIJING), http, live_server, fake_wechat
    )
    refused = order(http, live_server, auth, [pension.ref, medical.ref])
    assert refused.status_code == 422
    assert orders_made(session) == 0


def test_whom_the_government_pays_for_in_full_is_told_so_not_offered_a_payment(
    session, http, live_server, auth
):
    person, [medical] = add_person(
        session,
        name="孤儿甲",
        birth=age_on_2019(12),
        schemes=(("medical", 2020),),
        groups=("orphan",),
    )
    shown = found(http, live_server, auth, person, name="孤儿甲")["medical"]
    assert (shown["payable_now"], shown["payable_fen"]) == (False, 0)
    assert "政府全额代缴" in shown["not_payable_reason"]
    assert order(http, live_server, auth, [medical.ref]).status_code == 422


def test_after_the_window_whom_the_government_pays_for_is_not_sent_to_pay_late(
    session, http, live_server, fake_wechat, auth, clock
):
    person, [medical] = add_person(
        session,
        name="孤儿乙",
        birth=age_on_2019(12),
        schemes=(("medical", 2020),),
        groups=("orphan",),
    )
    auth = signed_in_at(
        clock, datetime(2020, 1, 2, 10, 0, tzinfo=BEIJING), http, live_server, fake_wechat
    )
    shown = found(http, live_server, auth, person, name="孤儿乙")["medical"]
    assert "政府全额代缴" in shown["not_payable_reason"]
    assert "补缴" not in shown["not_payable_reason"]
    assert order(http, live_server, auth, [medical.ref]).json()["reason"] == "government_pays"

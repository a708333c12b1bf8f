"""Reconciling a day: lost notifications credited, payments missing from the bill held then flagged
or cleared by the next day's bill, reruns that show the same result, and the staff endpoint."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.models import LedgerMessage, PaymentOrder
from backend.payments import gateway_from_config
from backend.recon import discrepancies
from backend.recon.pull import pull_bill
from backend.recon.reconcile import NothingToReconcile, reconcile_day
from backend.values.beijing import BEIJING, beijing_today
from tests.support.builders import add_person, age_on_2019
from tests.support.pay_apis import BOTH_PAY_APIS
from tests.support.resident import get_order, order, pay, sign_in
from tests.support.running import wait_until

# Every test here pays through WeChat Pay API v2, then v3.
pytestmark = BOTH_PAY_APIS

CITY = "410700000000"  # a bill is the whole merchant account's: filed under the city


@pytest.fixture
def session(app, with_regions):
    with app.extensions["db_sessions"]() as session:
        yield session


def status_of(session, order_no):
    with Session(bind=session.get_bind()) as fresh:
        return fresh.scalar(select(PaymentOrder.status).where(PaymentOrder.order_no == order_no))


def test_a_lost_notification_is_found_in_the_bill_and_credited_once(
    session, app, uow, clock, http, live_server, fake_wechat, tmp_path
):
    _, lost_regs = add_person(session, birth=age_on_2019(40), seq="031")
    _, fine_regs = add_person(session, birth=age_on_2019(41), seq="032")
    lost_registration = lost_regs[1].id
    auth = sign_in(http, live_server, fake_wechat, "reconciled")
    lost = order(http, live_server, auth, [lost_regs[1].ref]).json()
    fine = order(http, live_server, auth, [fine_regs[1].ref]).json()
    pay(http, fake_wechat, lost["order_no"], notify="missing")
    pay(http, fake_wechat, fine["order_no"])
    wait_until(
        lambda: get_order(http, live_server, auth, fine["order_no"]).json()["status"] == "paid"
    )
    assert status_of(session, lost["order_no"]) == "created"

    now = clock.now()
    today = beijing_today(now)
    tomorrow = today + timedelta(days=1)  # the bill of today, as if pulled tomorrow
    gateway = gateway_from_config(app.config["APP_CONFIG"])
    pulled = pull_bill(
        uow,
        gateway,
        today,
        bill_dir=tmp_path,
        now=now,
        actor="test",
        region_code=CITY,
        today=tomorrow,
    )
    assert pulled.status == "ok"

    report = reconcile_day(uow, gateway, day=today, today=tomorrow, now=now)
    assert [d.order_no for d in report.fixed].count(lost["order_no"]) == 1
    ours = {lost["order_no"], fine["order_no"]}
    assert not [d for d in report.open if d.order_no in ours]
    assert status_of(session, lost["order_no"]) == "paid"
    with Session(bind=session.get_bind()) as fresh:  # told to the tax bureau like any payment
        assert fresh.scalar(
            select(LedgerMessage.message_id).where(
                LedgerMessage.registration_id == lost_registration
            )
        )

    again = reconcile_day(uow, gateway, day=today, today=tomorrow, now=now)
    # Rerunning the day changes nothing more and shows the same result.
    assert [(d.kind, d.order_no, d.status) for d in again.discrepancies] == [
        (d.kind, d.order_no, d.status) for d in report.discrepancies
    ]
    assert not [d for d in again.open if d.order_no in ours]


def test_a_day_without_a_stored_bill_says_to_pull_it_first(session, app, uow, clock):
    gateway = gateway_from_config(app.config["APP_CONFIG"])
    with pytest.raises(NothingToReconcile, match="pull-bill"):
        reconcile_day(
            uow,
            gateway,
            day=datetime(2020, 1, 6).date(),
            today=datetime(2020, 1, 8).date(),
            now=clock.now(),
        )
    result = app.test_cli_runner().invoke(args=["reconcile", "2020-01-06"])
    assert result.exit_code == 1
    assert "flask pull-bill 2020-01-06" in result.output


def test_staff_run_a_day_over_http_and_see_where_it_stands(
    session, app, uow, clock, http, live_server, staff_token, tmp_path, fake_wechat
):
    app.config["APP_CONFIG"].BILL_DIR = str(tmp_path)
    recon = {"Authorization": f"Bearer {staff_token('recon', '410700')}"}
    today = beijing_today(clock.now())
    url = live_server + "/api/staff/v1/reconciliations"

    too_early = http.post(url, json={"date": today.isoformat()}, headers=recon)
    assert too_early.status_code == 409
    assert "还不能下载" in too_early.json()["message"]

    too_old = http.post(url, json={"date": "2019-08-19"}, headers=recon)  # WeChat keeps 3 months
    assert (too_old.status_code, too_old.json()["reason"]) == (422, "bill_too_old")

    quiet_day = (today - timedelta(days=60)).isoformat()  # nothing was paid then
    ran = http.post(url, json={"date": quiet_day}, headers=recon)
    assert ran.status_code == 200, ran.text
    assert ran.json()["bill"]["status"] == "empty"
    assert (ran.json()["matched"], ran.json()["discrepancies"]) == (0, {})
    stands = http.get(f"{url}/{quiet_day}", headers=recon).json()
    assert stands["bill"]["status"] == "empty" and stands["matched"] is None
    assert stands["by_channel"] == []

    # The day's payments by channel: a resident's and a school's (a school pays by QR too).
    resident, school = (paid_order_no(session, http, live_server, fake_wechat, s) for s in "78")
    for order_no in (resident, school):
        noon = datetime.combine(today - timedelta(days=60), datetime.min.time(), BEIJING)
        move_paid_at(session, order_no, noon + timedelta(hours=12))
    with Session(bind=session.get_bind()) as fresh:
        fresh.execute(
            update(PaymentOrder).where(PaymentOrder.order_no == school).values(channel="school")
        )
        fresh.commit()
    by_channel = http.get(f"{url}/{quiet_day}", headers=recon).json()["by_channel"]
    assert [(c["channel"], c["channel_name"], c["payments"], c["refunds"]) for c in by_channel] == [
        ("wechat_miniprogram", "微信小程序", 1, 0),
        ("school", "学校代缴", 1, 0),
    ]
    assert by_channel[0]["paid_fen"] == 25000
    elsewhere = {"Authorization": f"Bearer {staff_token('recon', '410724')}"}
    assert http.get(f"{url}/{quiet_day}", headers=elsewhere).json()["by_channel"] == []

    viewer = {"Authorization": f"Bearer {staff_token('viewer', '410700')}"}
    assert http.post(url, json={"date": quiet_day}, headers=viewer).status_code == 403


def test_only_a_city_account_reconciles_and_only_city_admins_see_its_bill_pull(
    session, app, clock, http, live_server, staff_token, tmp_path
):
    """The bill, its credits and refunds are the whole city's: a county account may not run
    them, nor read the city's bill totals; the pull is audited under the city."""
    app.config["APP_CONFIG"].BILL_DIR = str(tmp_path)
    url = live_server + "/api/staff/v1/reconciliations"
    quiet_day = (beijing_today(clock.now()) - timedelta(days=60)).isoformat()
    county = {"Authorization": f"Bearer {staff_token('admin', '410721')}"}

    refused = http.post(url, json={"date": quiet_day, "pull": True}, headers=county)
    assert refused.status_code == 403
    assert "市级账号" in refused.json()["message"]
    city = {"Authorization": f"Bearer {staff_token('recon', '410700')}"}
    assert http.post(url, json={"date": quiet_day}, headers=city).status_code == 200
    assert http.get(f"{url}/{quiet_day}", headers=county).json()["bill"] is None

    def pulls(headers):
        entries = http.get(live_server + "/api/staff/v1/audit", headers=headers).json()
        return [e["region_code"] for e in entries if e["action"] == "bill.pull"]

    assert pulls({"Authorization": f"Bearer {staff_token('admin', '410700')}"}) == [CITY]
    assert pulls(county) == []


def paid_order_no(session, http, live_server, fake_wechat, seq):
    _, registrations = add_person(session, birth=age_on_2019(45), seq=seq)
    auth = sign_in(http, live_server, fake_wechat, f"held-{seq}")
    created = order(http, live_server, auth, [registrations[1].ref]).json()
    pay(http, fake_wechat, created["order_no"])
    wait_until(lambda: status_of(session, created["order_no"]) == "paid")
    return created["order_no"]


def move_paid_at(session, order_no, moment):
    with Session(bind=session.get_bind()) as fresh:
        fresh.execute(
            update(PaymentOrder).where(PaymentOrder.order_no == order_no).values(paid_at=moment)
        )
        fresh.commit()


def kinds(report, order_no):
    return [(d.kind, d.status) for d in report.discrepancies if d.order_no == order_no]


def test_a_payment_missing_from_the_bill_is_held_two_days_then_waits_for_a_person(
    session, app, uow, clock, http, live_server, fake_wechat, tmp_path
):
    order_no = paid_order_no(session, http, live_server, fake_wechat, "061")
    now = clock.now()
    day = beijing_today(now) - timedelta(days=30)  # a quiet day: WeChat's bill is empty
    move_paid_at(session, order_no, datetime.combine(day, datetime.min.time(), BEIJING))
    gateway = gateway_from_config(app.config["APP_CONFIG"])
    assert (
        pull_bill(uow, gateway, day, bill_dir=tmp_path, now=now, actor="t", region_code=CITY).status
        == "empty"
    )

    def run(days_later):
        return reconcile_day(uow, gateway, day=day, today=day + timedelta(days=days_later), now=now)

    assert kinds(run(1), order_no) == [("missing_in_bill", "held")]
    assert kinds(run(2), order_no) == [("missing_in_bill", "held")]
    flagged = run(3)
    assert kinds(flagged, order_no) == [("missing_in_bill", "open")]

    [row] = [d for d in flagged.discrepancies if d.order_no == order_no]
    discrepancies.resolve(
        uow, row.id, reason="微信确认已入账，账单漏记", actor="对账员", now=now, scope_prefix=""
    )
    assert kinds(run(4), order_no) == [("missing_in_bill", "resolved")]  # a person's word stands


def test_a_payment_near_midnight_billed_the_next_day_clears_on_its_own(
    session, app, uow, clock, http, live_server, fake_wechat, tmp_path
):
    order_no = paid_order_no(session, http, live_server, fake_wechat, "062")
    now = clock.now()
    today = beijing_today(now)
    yesterday, tomorrow = today - timedelta(days=1), today + timedelta(days=1)
    # Credited here at 23:59:59 yesterday, billed by WeChat today (its time_end is today).
    late_evening = datetime.combine(today, datetime.min.time(), BEIJING) - timedelta(seconds=1)
    move_paid_at(session, order_no, late_evening)
    gateway = gateway_from_config(app.config["APP_CONFIG"])
    for day in (yesterday, today):
        pull_bill(
            uow,
            gateway,
            day,
            bill_dir=tmp_path,
            now=now,
            actor="t",
            region_code=CITY,
            today=tomorrow,
        )

    first = reconcile_day(uow, gateway, day=yesterday, today=today, now=now)
    assert kinds(first, order_no) == [("missing_in_bill", "held")]
    second = reconcile_day(uow, gateway, day=today, today=tomorrow, now=now)
    assert kinds(second, order_no) == []  # matched: it is ours, credited the day before
    again = reconcile_day(uow, gateway, day=yesterday, today=tomorrow, now=now)
    assert kinds(again, order_no) == [("missing_in_bill", "cleared")]

"""A payer cancels an unpaid order: closed at the fake WeChat Pay platform, its registrations free
again at once; a payment that won the race is credited instead. Real HTTP, real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend import create_app
from backend.models import AuditEntry, PaymentOrder, Registration
from tests.conftest import serve
from tests.support.builders import add_person, age_on_2019
from tests.support.pay_apis import BOTH_PAY_APIS
from tests.support.resident import (
    cancel_order,
    get_order,
    lookup,
    order,
    pay,
    pay_jsapi,
    sign_in,
)
from tests.support.running import fresh, run_worker, wait_until

# Every test here pays through WeChat Pay API v2, then v3.
pytestmark = BOTH_PAY_APIS


@pytest.fixture
def session(app, with_regions):
    with app.extensions["db_sessions"]() as session:
        yield session


@pytest.fixture
def auth(http, live_server, fake_wechat):
    return sign_in(http, live_server, fake_wechat, "payer")


def statuses(session, registrations):
    ids = [r.id for r in registrations]
    return fresh(session, lambda s: [s.get(Registration, i).status for i in ids])


def audits(session, action, order_no):
    return fresh(
        session,
        lambda s: s.execute(
            select(AuditEntry.actor, AuditEntry.detail).where(
                AuditEntry.action == action, AuditEntry.target == order_no
            )
        ).all(),
    )


def trade_state(http, wx, order_no):
    return http.get(f"{wx.url}/_control/trades/{order_no}").json()["trade_state"]


def faults(http, wx, **switches):
    assert http.post(f"{wx.url}/_control/faults", json=switches).status_code == 200


@pytest.mark.parametrize("trade_type", ["JSAPI", "NATIVE"])
def test_a_payer_cancels_an_unpaid_order_and_may_order_again_at_once(
    session, http, live_server, fake_wechat, auth, trade_type
):
    person, registrations = add_person(session, name="张三", birth=age_on_2019(40))
    found = lookup(http, live_server, auth, person.id_number, "张三").json()
    pension = next(r for r in found["registrations"] if r["scheme"] == "pension")
    created = order(http, live_server, auth, [(pension["ref"], 200)], trade_type=trade_type)
    assert created.status_code == 201, created.text
    made = created.json()
    assert statuses(session, registrations)[0] == "pending"

    answer = cancel_order(http, live_server, auth, made["order_no"])
    assert answer.status_code == 200, answer.text
    cancelled = answer.json()
    assert (cancelled["status"], cancelled["status_reason"], cancelled["pay"]) == (
        "closed",
        "cancelled",
        None,
    )
    assert [i["registration_ref"] for i in cancelled["items"]] == [pension["ref"]]
    assert get_order(http, live_server, auth, made["order_no"]).json() == cancelled
    assert trade_state(http, fake_wechat, made["order_no"]) == "CLOSED"

    # The registration is free at once: unpaid in the lookup, orderable with another grade.
    assert statuses(session, registrations)[0] == "unpaid"
    again = lookup(http, live_server, auth, person.id_number, "张三").json()
    assert {r["scheme"]: r["status"] for r in again["registrations"]}["pension"] == "unpaid"
    reordered = order(http, live_server, auth, [(pension["ref"], 500)], trade_type=trade_type)
    assert reordered.status_code == 201, reordered.text
    assert reordered.json()["total_fen"] == 50000

    # Nobody can pay the cancelled trade any more.
    if trade_type == "JSAPI":
        paid = pay_jsapi(http, fake_wechat, made["pay"])
        assert paid.status_code != 200
        assert "requestPayment:fail" in paid.json()["errMsg"]
    else:
        scanned = http.post(
            f"{fake_wechat.url}/_control/scan", json={"code_url": made["pay"]["code_url"]}
        )
        assert scanned.status_code != 200
    assert trade_state(http, fake_wechat, made["order_no"]) == "CLOSED"
    assert get_order(http, live_server, auth, made["order_no"]).json()["status"] == "closed"

    (entry,) = audits(session, "order.close", made["order_no"])
    assert entry.actor.startswith("openid:")
    assert entry.detail == {"reason": "cancelled"}


def test_cancelling_twice_answers_the_closed_order_both_times(
    session, http, live_server, fake_wechat, auth
):
    _, registrations = add_person(session, birth=age_on_2019(40))
    made = order(http, live_server, auth, [registrations[1].ref]).json()
    first = cancel_order(http, live_server, auth, made["order_no"])
    second = cancel_order(http, live_server, auth, made["order_no"])
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json() == second.json()
    assert second.json()["status"] == "closed"
    assert len(audits(session, "order.close", made["order_no"])) == 1


def test_an_expired_order_closed_by_the_worker_cancels_as_closed(
    app, session, http, live_server, fake_wechat, auth, clock
):
    _, registrations = add_person(session, birth=age_on_2019(40))
    made = order(http, live_server, auth, [registrations[1].ref]).json()
    clock.advance(timedelta(seconds=app.config["ORDER_TTL_SECONDS"] + 1))
    assert "closed 1" in run_worker(app)
    answer = cancel_order(http, live_server, auth, made["order_no"])
    assert answer.status_code == 200
    assert answer.json()["status_reason"] == "expired"


def test_nobody_else_can_cancel_an_order(session, http, live_server, fake_wechat, auth):
    _, registrations = add_person(session, birth=age_on_2019(40))
    made = order(http, live_server, auth, [registrations[1].ref]).json()
    stranger = sign_in(http, live_server, fake_wechat, "stranger")

    theirs = cancel_order(http, live_server, stranger, made["order_no"])
    unknown = cancel_order(http, live_server, stranger, "SI2019112012000000000000")
    assert (theirs.status_code, unknown.status_code) == (404, 404)
    assert theirs.json()["message"] == unknown.json()["message"] == "没有找到这笔订单。"
    assert cancel_order(http, live_server, {}, made["order_no"]).status_code == 401
    assert get_order(http, live_server, auth, made["order_no"]).json()["status"] == "created"
    assert trade_state(http, fake_wechat, made["order_no"]) == "NOTPAY"
    assert statuses(session, registrations)[1] == "pending"


def test_a_paid_order_cannot_be_cancelled(session, http, live_server, fake_wechat, auth):
    _, registrations = add_person(session, birth=age_on_2019(40))
    made = order(http, live_server, auth, [registrations[1].ref]).json()
    pay_jsapi(http, fake_wechat, made["pay"])
    wait_until(lambda: get_order(http, live_server, auth, made["order_no"]).json()["paid_at"])

    refused = cancel_order(http, live_server, auth, made["order_no"])
    assert refused.status_code == 409
    assert "订单已支付，无法取消" in refused.json()["message"]
    assert get_order(http, live_server, auth, made["order_no"]).json()["status"] == "paid"
    assert statuses(session, registrations)[1] == "paid"


def test_a_payment_made_just_before_the_cancel_wins_and_is_credited_once(
    app, session, http, live_server, fake_wechat, auth, clock
):
    _, registrations = add_person(session, birth=age_on_2019(40))
    made = order(http, live_server, auth, [registrations[1].ref]).json()
    # Paid at WeChat; its notification has not reached us when the payer taps cancel.
    assert pay(http, fake_wechat, made["order_no"], notify="missing").status_code == 200
    assert get_order(http, live_server, auth, made["order_no"]).json()["status"] == "created"

    refused = cancel_order(http, live_server, auth, made["order_no"])
    assert refused.status_code == 409, refused.text
    assert "订单已支付，无法取消" in refused.json()["message"]
    paid = get_order(http, live_server, auth, made["order_no"]).json()
    assert paid["status"] == "paid" and paid["transaction_id"]
    assert statuses(session, registrations)[1] == "paid"
    assert trade_state(http, fake_wechat, made["order_no"]) == "SUCCESS"

    # The notification arriving after all, and the worker's look, credit nothing more.
    http.post(f"{fake_wechat.url}/_control/notify", json={"out_trade_no": made["order_no"]})
    wait_until(
        lambda: http.get(f"{fake_wechat.url}/_control/trades/{made['order_no']}").json()[
            "notify_attempts"
        ]
    )
    clock.advance(timedelta(seconds=app.config["ORDER_CHECK_AFTER_SECONDS"]))
    assert "credited 0" in run_worker(app)
    assert len(audits(session, "order.paid", made["order_no"])) == 1
    assert audits(session, "order.close", made["order_no"]) == []
    assert cancel_order(http, live_server, auth, made["order_no"]).status_code == 409


def test_while_wechat_is_down_the_order_stays_open_and_can_be_cancelled_later(
    app, session, http, live_server, fake_wechat, auth, clock
):
    _, registrations = add_person(session, birth=age_on_2019(40))
    made = order(http, live_server, auth, [registrations[1].ref]).json()
    planned = fresh(
        session,
        lambda s: s.scalar(
            select(PaymentOrder.next_check_at).where(PaymentOrder.order_no == made["order_no"])
        ),
    )
    for fault in ("pay_http_500", "pay_systemerror"):
        faults(http, fake_wechat, **{fault: True})
        try:
            down = cancel_order(http, live_server, auth, made["order_no"])
        finally:
            faults(http, fake_wechat, **{fault: False})
        assert down.status_code == 503, (fault, down.text)
        assert "微信支付暂时无法连接" in down.json()["message"]
        still = get_order(http, live_server, auth, made["order_no"]).json()
        assert (still["status"], still["pay"] is not None) == ("created", True)
        assert statuses(session, registrations)[1] == "pending"
        assert trade_state(http, fake_wechat, made["order_no"]) == "NOTPAY"
    # The worker's next look is where it was before the attempts: the poller still has it.
    after = fresh(
        session,
        lambda s: s.scalar(
            select(PaymentOrder.next_check_at).where(PaymentOrder.order_no == made["order_no"])
        ),
    )
    assert after == planned

    later = cancel_order(http, live_server, auth, made["order_no"])
    assert later.status_code == 200
    assert later.json()["status"] == "closed"
    assert statuses(session, registrations)[1] == "unpaid"
    assert trade_state(http, fake_wechat, made["order_no"]) == "CLOSED"


def test_cancel_frees_an_open_order_slot(app, session, http, live_server, auth):
    cap = app.config["APP_CONFIG"].OPEN_ORDERS_PER_RESIDENT
    people = [add_person(session, birth=age_on_2019(40), seq=f"{n:03d}")[1] for n in range(cap + 1)]
    made = [order(http, live_server, auth, [p[1].ref]).json() for p in people[:cap]]
    assert order(http, live_server, auth, [people[cap][1].ref]).status_code == 409
    assert cancel_order(http, live_server, auth, made[0]["order_no"]).status_code == 200
    assert order(http, live_server, auth, [people[cap][1].ref]).status_code == 201
    count = fresh(
        session,
        lambda s: s.scalar(
            select(func.count())
            .select_from(PaymentOrder)
            .where(PaymentOrder.status == "closed", PaymentOrder.status_reason == "cancelled")
        ),
    )
    assert count == 1


def test_a_payer_cancelling_too_fast_is_told_to_wait(
    app_config, session, http, fake_wechat, with_regions
):
    with serve(create_app({**app_config, "ORDER_LIMIT_PER_OPENID": "2 per minute"})) as server:
        auth = sign_in(http, server.url, fake_wechat, "hasty")
        _, registrations = add_person(session, birth=age_on_2019(40))
        made = order(http, server.url, auth, [registrations[1].ref]).json()
        answers = [cancel_order(http, server.url, auth, made["order_no"]) for _ in range(3)]
        # Cancels count apart from orders: ordering again is still allowed.
        assert order(http, server.url, auth, [registrations[1].ref]).status_code == 201
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[2].headers["Retry-After"]) >= 1
    assert "请求过于频繁" in answers[2].json()["message"]

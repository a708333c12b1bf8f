"""Subscription messages (订阅消息) end to end: the payer allows messages after paying (the fake
platform playing wx.requestSubscribeMessage, then our resident API), the events write them in
their own transactions (treasury entry, refund, a deadline near), and the worker sends them
through wechatpy to the fake platform over real HTTP, which records what each user received."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from backend import create_app
from backend.config import Config
from backend.infra.web import new_unit_of_work, policy_book
from backend.jobs.catalogue import jobs_for
from backend.ledger.confirmations import Confirmation, confirm
from backend.models import (
    Enrollee,
    LedgerMessage,
    OrderItem,
    PaymentOrder,
    Registration,
    WeChatMessage,
)
from backend.subscriptions.reminders import remind_due
from tests.conftest import serve
from tests.support.builders import add_person, age_on_2019
from tests.support.bureau import bureau_for
from tests.support.resident import cancel_order, get_order, openid_of, order, pay, sign_in
from tests.support.running import fresh, wait_until

RECEIPT, REFUND, DEADLINE = Config().subscribe_templates().values()
SUBSCRIPTIONS = "/api/mp/v1/subscriptions"
MEDICAL = (("medical", 2020),)


@pytest.fixture
def sub_app(app_config, with_regions):
    # Retries without waiting, so back-off and dead letters show in one test.
    return create_app(
        {
            **app_config,
            "LEDGER_RETRY_SCHEDULE": (0, 0, 0),
            "SUBSCRIBE_RETRY_SCHEDULE": (0, 0, 0),
            "REFUND_CHECK_AFTER_SECONDS": 0,
        }
    )


@pytest.fixture
def server(sub_app):
    with serve(sub_app) as running:
        yield running


@pytest.fixture
def bureau(server, sub_app, clock):
    with bureau_for(sub_app, server.url, clock) as running:
        yield running


@pytest.fixture
def wx(fake_wechat, http):
    http.post(f"{fake_wechat.url}/_control/subscribe-reset").raise_for_status()
    yield fake_wechat
    http.post(f"{fake_wechat.url}/_control/subscribe-reset").raise_for_status()


@pytest.fixture
def session(sub_app):
    with sub_app.extensions["db_sessions"]() as session:
        yield session


def worker(app, *jobs: str) -> str:
    """One round of the named jobs of `flask worker`; its output."""
    args = ["worker", "--once"] + [arg for job in jobs for arg in ("--job", job)]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    return result.output


def paid(session, http, server, wx, app, payer, *, names=("张三",), seq=1, household=None):
    """People registered for medical 2020 (pushed to the bureau), then paid by `payer` in one
    order; (auth, order_no)."""
    registrations = []
    for n, name in enumerate(names):
        person, regs = add_person(
            session, name=name, birth=age_on_2019(30 + n), seq=f"{seq + n:03d}", schemes=MEDICAL
        )
        if household:
            session.execute(
                update(Enrollee).where(Enrollee.id == person.id).values(household_no=household)
            )
            session.commit()
        registrations += regs
    worker(app, "ledger")  # the pushes
    auth = sign_in(http, server.url, wx, payer)
    created = order(http, server.url, auth, [r.ref for r in registrations]).json()
    pay(http, wx, created["order_no"])
    wait_until(
        lambda: get_order(http, server.url, auth, created["order_no"]).json()["status"] == "paid"
    )
    return auth, created["order_no"]


def allow(http, server, wx, auth, payer, order_no, answers=None, templates=None):
    """The phone's prompt after paying: wx.requestSubscribeMessage at the platform, then what
    it answered reported to our API."""
    ids = templates or [RECEIPT, REFUND, DEADLINE]
    prompt = {"user": payer, "tmplIds": ids, "answers": answers or {}}
    results = http.post(f"{wx.url}/_control/subscribe", json=prompt).json()
    assert results.pop("errMsg") == "requestSubscribeMessage:ok"
    answer = http.post(
        server.url + SUBSCRIPTIONS, json={"order_no": order_no, "results": results}, headers=auth
    )
    assert answer.status_code == 200, answer.text
    return {t["kind"]: t["remaining"] for t in answer.json()["templates"]}


def entered(http, server, auth, order_no):
    """Wait for the bureau's confirmations of the order's payments; its items."""

    def all_entered():
        items = get_order(http, server.url, auth, order_no).json()["items"]
        return all(i["ledger_state"] == "treasury_entered" for i in items) and items

    return wait_until(all_entered)


def received(http, wx, auth):
    url = f"{wx.url}/_control/subscribe-messages"
    return http.get(url, params={"openid": openid_of(auth)}).json()["messages"]


def outbox(session):
    return fresh(
        session,
        lambda s: [
            (m.kind, m.status, m.attempts, m.errcode)
            for m in s.scalars(select(WeChatMessage).order_by(WeChatMessage.id))
        ],
    )


def test_a_subscribed_payer_hears_of_the_tax_receipt_once(
    session, http, server, bureau, wx, sub_app
):
    http.post(f"{bureau.url}/_control/faults", json={"duplicate_confirmation": True})
    auth, order_no = paid(session, http, server, wx, sub_app, "sub-receipt", names=("张三", "李四"))
    assert allow(http, server, wx, auth, "sub-receipt", order_no) == {
        "tax_receipt": 1,
        "refund": 1,
        "deadline": 1,
    }
    worker(sub_app, "ledger")
    items = entered(http, server, auth, order_no)

    def confirmed_twice():
        found = http.get(f"{bureau.url}/_control/messages").json()
        attempts = [a for m in found for a in (m["confirmation"] or {}).get("attempts", [])]
        return len(attempts) >= 4

    wait_until(confirmed_twice)  # each confirmation arrived twice
    assert "messages: sent 1" in worker(sub_app, "messages")
    assert "messages: sent 0" in worker(sub_app, "messages", "ledger")

    [message] = received(http, wx, auth)
    assert message["template_id"] == RECEIPT
    data = {key: field["value"] for key, field in message["data"].items()}
    assert data["character_string3"] in {i["tax_receipt_no"] for i in items}
    assert data["thing1"] == "张* 等2人"  # masked: never a whole name
    assert data["amount2"] == "500.00元"
    assert message["page"] == f"pages/order/order?order_no={order_no}"
    left = http.get(server.url + SUBSCRIPTIONS, headers=auth).json()["templates"]
    assert {t["kind"]: t["remaining"] for t in left}["tax_receipt"] == 0


def test_who_did_not_subscribe_or_rejected_hears_nothing(
    session, http, server, bureau, wx, sub_app
):
    silent, first = paid(session, http, server, wx, sub_app, "sub-silent", seq=10)
    rejecting, second = paid(session, http, server, wx, sub_app, "sub-reject", seq=20)
    remaining = allow(
        http, server, wx, rejecting, "sub-reject", second, answers={RECEIPT: "reject"}
    )
    assert remaining["tax_receipt"] == 0
    worker(sub_app, "ledger")
    entered(http, server, silent, first)
    entered(http, server, rejecting, second)
    assert "messages: sent 0" in worker(sub_app, "messages")
    assert outbox(session) == []
    assert received(http, wx, silent) == [] and received(http, wx, rejecting) == []


def test_one_allowance_is_one_message(session, http, server, bureau, wx, sub_app):
    auth, first = paid(session, http, server, wx, sub_app, "sub-once", seq=30)
    allow(http, server, wx, auth, "sub-once", first, templates=[RECEIPT])
    _, second = paid(session, http, server, wx, sub_app, "sub-once", seq=40)
    worker(sub_app, "ledger")
    entered(http, server, auth, first)
    entered(http, server, auth, second)
    assert "messages: sent 1" in worker(sub_app, "messages")
    assert len(received(http, wx, auth)) == 1
    assert outbox(session) == [("tax_receipt", "sent", 1, None)]


def test_a_finished_refund_is_told_once_even_after_the_token_expired(
    session, http, server, bureau, wx, sub_app, staff_token
):
    auth, order_no = paid(session, http, server, wx, sub_app, "sub-refund", seq=50)
    allow(http, server, wx, auth, "sub-refund", order_no, templates=[RECEIPT, REFUND])
    worker(sub_app, "ledger")
    entered(http, server, auth, order_no)
    assert "messages: sent 1" in worker(sub_app, "messages")  # the receipt: a token fetched

    http.post(f"{wx.url}/_control/tokens/expire").raise_for_status()
    recon = {"Authorization": f"Bearer {staff_token('recon', '410700', name='退款员')}"}
    ref = fresh(session, lambda s: s.scalar(select_ref(order_no)))
    asked = http.post(
        f"{server.url}/api/staff/v1/refunds",
        json={"order_no": order_no, "registration_ref": ref, "reason": "wrong_grade"},
        headers=recon,
    )
    assert asked.status_code == 201, asked.text
    refund_no = asked.json()["refund_no"]
    url = f"{server.url}/api/staff/v1/refunds/{refund_no}"
    wait_until(lambda: http.get(url, headers=recon).json()["status"] == "succeeded")
    # WeChat reports the finished refund again: still one message.
    http.post(f"{wx.url}/_control/refunds/notify", json={"out_refund_no": refund_no})
    assert "messages: sent 1" in worker(sub_app, "refunds", "messages")
    assert "messages: sent 0" in worker(sub_app, "refunds", "messages")

    _, refunded = received(http, wx, auth)
    assert refunded["template_id"] == REFUND
    assert refunded["data"]["amount2"]["value"] == "250.00元"
    assert refunded["data"]["character_string3"]["value"] == refund_no
    # Sent at its first attempt: the expired token was refreshed and the send retried at once.
    assert outbox(session) == [("tax_receipt", "sent", 1, None), ("refund", "sent", 1, None)]


def test_a_refund_that_leaves_only_entered_registrations_tells_the_receipt(
    session, http, server, bureau, wx, sub_app, staff_token, clock
):
    # Two people paid in one order; the bureau confirms 张三's entry, then 李四's payment is
    # refunded before its entry: what the order still pays for is all entered.
    http.post(f"{bureau.url}/_control/faults", json={"no_confirmation": True})
    auth, order_no = paid(
        session, http, server, wx, sub_app, "sub-partial", names=("张三", "李四"), seq=110
    )
    allow(http, server, wx, auth, "sub-partial", order_no, templates=[RECEIPT])
    worker(sub_app, "ledger")
    payments = fresh(
        session,
        lambda s: s.execute(
            select(LedgerMessage.message_id, LedgerMessage.ledger_ref, Registration.ref)
            .join(OrderItem, OrderItem.id == LedgerMessage.order_item_id)
            .join(Registration, Registration.id == OrderItem.registration_id)
            .join(PaymentOrder, PaymentOrder.id == OrderItem.order_id)
            .where(PaymentOrder.order_no == order_no, LedgerMessage.kind == "payment")
            .order_by(OrderItem.id)
        ).all(),
    )
    (first_id, first_ref, _), (_, _, second_registration) = payments
    entry = Confirmation(first_ref, first_id, "332019112000000777", clock.now())
    assert confirm(new_unit_of_work(sub_app), entry, now=clock.now())
    assert "messages: sent 0" in worker(sub_app, "messages")  # 李四 is not entered yet

    recon = {"Authorization": f"Bearer {staff_token('recon', '410700', name='退款员')}"}
    asked = http.post(
        f"{server.url}/api/staff/v1/refunds",
        json={"order_no": order_no, "registration_ref": second_registration, "reason": "other"},
        headers=recon,
    )
    assert asked.status_code == 201, asked.text
    url = f"{server.url}/api/staff/v1/refunds/{asked.json()['refund_no']}"
    wait_until(lambda: http.get(url, headers=recon).json()["status"] == "succeeded")
    assert "messages: sent 1" in worker(sub_app, "messages")
    [message] = received(http, wx, auth)
    data = {key: field["value"] for key, field in message["data"].items()}
    assert data["character_string3"] == "332019112000000777"
    assert (data["thing1"], data["amount2"]) == ("张*", "250.00元")


def select_ref(order_no):
    return (
        select(Registration.ref)
        .join(OrderItem, OrderItem.registration_id == Registration.id)
        .join(PaymentOrder, PaymentOrder.id == OrderItem.order_id)
        .where(PaymentOrder.order_no == order_no)
    )


def test_a_busy_or_broken_platform_gets_the_message_later_and_a_refusal_is_final(
    session, http, server, bureau, wx, sub_app
):
    auth, order_no = paid(session, http, server, wx, sub_app, "sub-retry", seq=60)
    allow(http, server, wx, auth, "sub-retry", order_no, templates=[RECEIPT])
    worker(sub_app, "ledger")
    entered(http, server, auth, order_no)
    faults = f"{wx.url}/_control/subscribe-faults"
    http.post(faults, json={"send_errcode": -1})
    assert "messages: sent 0, failed 1" in worker(sub_app, "messages")
    http.post(faults, json={"send_errcode": None, "send_http_500": True})
    assert "messages: sent 0, failed 1" in worker(sub_app, "messages")
    http.post(faults, json={"send_http_500": False})
    assert "messages: sent 1" in worker(sub_app, "messages")
    assert outbox(session) == [("tax_receipt", "sent", 3, None)]
    assert len(received(http, wx, auth)) == 1

    # Our API heard "accept" but WeChat holds no allowance (the phone never asked it): 43101.
    other, second = paid(session, http, server, wx, sub_app, "sub-refused", seq=70)
    answer = http.post(
        server.url + SUBSCRIPTIONS,
        json={"order_no": second, "results": {RECEIPT: "accept"}},
        headers=other,
    )
    assert answer.status_code == 200
    worker(sub_app, "ledger")
    entered(http, server, other, second)
    assert "refused 1" in worker(sub_app, "messages")
    assert "messages: sent 0, failed 0, refused 0" in worker(sub_app, "messages")
    assert outbox(session)[-1] == ("tax_receipt", "refused", 1, 43101)


def test_a_message_that_always_fails_ends_dead(session, http, server, bureau, wx, sub_app):
    auth, order_no = paid(session, http, server, wx, sub_app, "sub-dead", seq=80)
    allow(http, server, wx, auth, "sub-dead", order_no, templates=[RECEIPT])
    worker(sub_app, "ledger")
    entered(http, server, auth, order_no)
    http.post(f"{wx.url}/_control/subscribe-faults", json={"send_errcode": -1})
    for _ in range(3):
        assert "failed 1" in worker(sub_app, "messages")
    assert "dead 1" in worker(sub_app, "messages")
    assert "messages: sent 0, failed 0, refused 0, dead 0" in worker(sub_app, "messages")
    assert outbox(session) == [("tax_receipt", "dead", 4, -1)]
    metrics = http.get(f"{server.url}/metrics").text
    assert 'cc_wechat_messages{state="dead"} 1.0' in metrics


def test_a_household_with_an_unpaid_registration_is_reminded_before_the_deadline_once(
    session, http, server, wx, sub_app, clock
):
    # The payer pays for 张三 and looks up 王五 of the same household, orders for him, then
    # cancels: 王五's medical 2020 is unpaid (deadline 30 November). 李四 of the same household
    # is unpaid too, but the payer never looked him up: the reminder says nothing of him.
    # Another payer's household has paid everything.
    auth, order_no = paid(
        session, http, server, wx, sub_app, "sub-deadline", seq=90, household="H-1"
    )
    for name, seq in (("王五", "092"), ("李四", "091")):
        person, regs = add_person(
            session, name=name, birth=age_on_2019(40), seq=seq, schemes=MEDICAL
        )
        session.execute(update(Enrollee).where(Enrollee.id == person.id).values(household_no="H-1"))
        session.commit()
        if name == "王五":
            worker(sub_app, "ledger")  # the push
            cancelled = order(http, server.url, auth, [r.ref for r in regs]).json()["order_no"]
            assert cancel_order(http, server.url, auth, cancelled).status_code == 200
    allow(http, server, wx, auth, "sub-deadline", order_no, templates=[DEADLINE])
    done, done_order = paid(
        session, http, server, wx, sub_app, "sub-all-paid", seq=95, household="H-2"
    )
    allow(http, server, wx, done, "sub-all-paid", done_order, templates=[DEADLINE])

    assert "reminders: 0 reminders written" in worker(sub_app, "reminders")  # 10 days before
    clock.advance(timedelta(days=7))  # 27 November, Beijing: three days left
    with sub_app.app_context():
        book = policy_book()
    # Every subscribed payer is looked at, a batch at a time.
    report = remind_due(new_unit_of_work(sub_app), book, now=clock.now(), days=3, batch=1)
    assert (report.payers, report.written) == (2, 1)
    assert "messages: sent 1" in worker(sub_app, "reminders", "messages")
    assert "reminders: 0 reminders written" in worker(sub_app, "reminders", "messages")
    # A worker process looks once a day.
    [job] = [job for job in jobs_for(sub_app) if job.name == "reminders"]
    assert job.run(new_unit_of_work(sub_app)).summary.startswith("0 reminders written")
    assert job.run(new_unit_of_work(sub_app)).summary == "looked today already"

    [message] = received(http, wx, auth)
    assert message["template_id"] == DEADLINE
    data = {key: field["value"] for key, field in message["data"].items()}
    assert data == {
        "thing1": "王*",
        "date2": "2019-11-30",
        "thing3": "尚有1项参保未缴费",
        "thing4": "还剩3天，请尽快缴费",
    }
    assert received(http, wx, done) == []


def test_a_report_for_another_payers_order_or_an_unknown_template_is_refused(
    session, http, server, wx, sub_app
):
    _, order_no = paid(session, http, server, wx, sub_app, "sub-owner", seq=100)
    stranger = sign_in(http, server.url, wx, "sub-stranger")
    body = {"order_no": order_no, "results": {RECEIPT: "accept"}}
    assert http.post(server.url + SUBSCRIPTIONS, json=body, headers=stranger).status_code == 404
    body = {"order_no": order_no, "results": {"someone-elses-template": "accept"}}
    owner = sign_in(http, server.url, wx, "sub-owner")
    refused = http.post(server.url + SUBSCRIPTIONS, json=body, headers=owner)
    assert refused.status_code == 422 and "模板" in refused.json()["message"]
    assert http.post(server.url + SUBSCRIPTIONS, json=body).status_code == 401

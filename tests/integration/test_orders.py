"""Orders and payments end to end: the app and the fake WeChat Pay platform over real HTTP."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select
from wechatpy.pay.utils import calculate_signature, dict_to_xml

from backend import create_app
from backend.models import AuditEntry, PaymentOrder, Registration
from tests.conftest import serve
from tests.support.builders import add_person, age_on_2019
from tests.support.pay_apis import BOTH_PAY_APIS
from tests.support.resident import get_order, lookup, order, pay, pay_jsapi, sign_in
from tests.support.running import fresh, run_worker, wait_until

# Every test here pays through WeChat Pay API v2, then v3.
pytestmark = BOTH_PAY_APIS

NOTIFY = "/api/payments/wechat/notify"


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


def count_orders(session):
    return fresh(session, lambda s: s.scalar(select(func.count()).select_from(PaymentOrder)))


def paid_audits(session, order_no):
    return fresh(
        session,
        lambda s: s.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "order.paid", AuditEntry.target == order_no)
        ),
    )


def wait_paid(http, base, auth, order_no):
    return wait_until(
        lambda: (o := get_order(http, base, auth, order_no).json())["status"] == "paid" and o
    )


def signed_notification(app, **fields) -> bytes:
    """A notification signed with the merchant key, as WeChat would sign it."""
    cfg = app.config["APP_CONFIG"]
    data = {
        "return_code": "SUCCESS",
        "appid": cfg.WECHAT_APPID,
        "mch_id": cfg.WECHAT_MCH_ID,
        "nonce_str": "n0nce",
        "result_code": "SUCCESS",
        "openid": "oPAYER",
        "trade_type": "JSAPI",
        "bank_type": "OTHERS",
        "fee_type": "CNY",
        "time_end": "20191105120000",
        **fields,
    }
    data = {k: str(v) for k, v in data.items()}
    return dict_to_xml(data, calculate_signature(data, cfg.WECHAT_API_KEY)).encode()


# -- the journey ----------------------------------------------------------------------------


def test_a_resident_pays_pension_and_medical_and_sees_them_paid(
    session, http, live_server, fake_wechat, auth, clock
):
    person, registrations = add_person(session, name="张三", birth=age_on_2019(40))
    found = lookup(http, live_server, auth, person.id_number, "张三").json()
    refs = [(r["ref"], 300 if r["scheme"] == "pension" else None) for r in found["registrations"]]

    created = order(http, live_server, auth, refs)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "created"
    assert body["total_fen"] == 30000 + 25000  # 300-yuan grade + the 250-yuan medical share
    assert sorted(i["amount_fen"] for i in body["items"]) == [25000, 30000]
    assert {i["name_masked"] for i in body["items"]} == {"张*"}
    assert set(body["pay"]) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert statuses(session, registrations) == ["pending", "pending"]
    pending = lookup(http, live_server, auth, person.id_number, "张三").json()
    assert {r["status"] for r in pending["registrations"]} == {"pending"}

    assert pay_jsapi(http, fake_wechat, body["pay"]).status_code == 200
    paid = wait_paid(http, live_server, auth, body["order_no"])
    assert paid["transaction_id"]
    assert paid["pay"] is None  # nothing left to pay
    # WeChat's time_end (Beijing, to the second) stored and read back as the same instant.
    paid_at = datetime.fromisoformat(paid["paid_at"])
    assert abs((paid_at - clock.now()).total_seconds()) < 60
    assert statuses(session, registrations) == ["paid", "paid"]
    after = lookup(http, live_server, auth, person.id_number, "张三").json()
    assert {r["status"] for r in after["registrations"]} == {"paid"}
    assert paid_audits(session, body["order_no"]) == 1
    audit = fresh(
        session,
        lambda s: s.scalars(
            select(AuditEntry.detail).where(
                AuditEntry.action == "order.paid", AuditEntry.target == body["order_no"]
            )
        ).one(),
    )
    assert audit == {
        "transaction_id": paid["transaction_id"],
        "paid_fen": 55000,
        "reason": "paid",
    }
    # Each entry names its county, so the county's staff see it.
    entries = fresh(
        session,
        lambda s: s.execute(
            select(AuditEntry.action, AuditEntry.region_code, AuditEntry.detail)
            .where(AuditEntry.target == body["order_no"])
            .order_by(AuditEntry.id)
        ).all(),
    )
    assert [(action, region) for action, region, _ in entries] == [
        ("order.create", "410721000000"),
        ("order.paid", "410721000000"),
    ]
    assert entries[0][2] == {"total_fen": 55000, "registrations": 2, "trade_type": "JSAPI"}


def test_one_order_pays_for_a_whole_household(session, http, live_server, fake_wechat, auth):
    _, mine = add_person(session, name="史军明", birth=age_on_2019(45), seq="011")
    _, spouse = add_person(session, name="刘亚楠", birth=age_on_2019(41), seq="022")
    _, child = add_person(
        session, name="史梓涵", birth=age_on_2019(10), seq="033", schemes=(("medical", 2020),)
    )
    registrations = mine + spouse + child
    created = order(http, live_server, auth, [r.ref for r in registrations]).json()
    # Two adults at the lowest grade (200) and three medical shares (250).
    assert created["total_fen"] == 2 * 20000 + 3 * 25000
    assert len(created["items"]) == 5

    pay_jsapi(http, fake_wechat, created["pay"])
    wait_paid(http, live_server, auth, created["order_no"])
    assert statuses(session, registrations) == ["paid"] * 5


def test_a_qr_order_carries_a_code_url_and_its_png(session, http, live_server, fake_wechat, auth):
    _, registrations = add_person(session, birth=age_on_2019(30))
    created = order(http, live_server, auth, [registrations[1].ref], trade_type="NATIVE").json()
    assert created["pay"]["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")
    png = http.get(live_server + created["pay"]["qr_png_url"], headers=auth)
    assert png.status_code == 200
    assert png.headers["Content-Type"] == "image/png"
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"

    scanned = http.post(
        f"{fake_wechat.url}/_control/scan",
        json={"code_url": created["pay"]["code_url"], "user": "neighbour"},
    )
    assert scanned.status_code == 200
    wait_paid(http, live_server, auth, created["order_no"])
    assert http.get(live_server + created["pay"]["qr_png_url"], headers=auth).status_code == 404


# -- what the server refuses -----------------------------------------------------------------


def test_the_server_sets_the_price_and_refuses_a_grade_that_is_not_open(
    session, http, live_server, auth
):
    _, registrations = add_person(session, birth=age_on_2019(40))
    pension = registrations[0].ref
    answer = order(http, live_server, auth, [(pension, 250)])
    assert answer.status_code == 422
    assert "可选档次" in answer.json()["message"]
    sneaky = http.post(
        f"{live_server}/api/mp/v1/orders",
        json={
            "items": [{"registration_ref": pension}],
            "trade_type": "JSAPI",
            "total_fen": 1,
        },
        headers={**auth, "Idempotency-Key": "k-sneaky-0001"},
    )
    assert sneaky.status_code == 422  # unknown fields are refused, never used as a price
    assert statuses(session, registrations) == ["unpaid", "unpaid"]


def test_an_order_needs_an_idempotency_key(session, http, live_server, auth):
    _, registrations = add_person(session, birth=age_on_2019(40))
    answer = http.post(
        f"{live_server}/api/mp/v1/orders",
        json={"items": [{"registration_ref": registrations[1].ref}], "trade_type": "JSAPI"},
        headers=auth,
    )
    assert answer.status_code == 422
    assert "Idempotency-Key" in answer.text


def test_when_wechat_pay_fails_the_order_is_refused_and_nothing_stays_held(
    session, http, live_server, fake_wechat, auth
):
    _, registrations = add_person(session, birth=age_on_2019(40))
    http.post(f"{fake_wechat.url}/_control/faults", json={"pay_systemerror": True})
    try:
        failed = order(http, live_server, auth, [registrations[1].ref])
    finally:
        http.post(f"{fake_wechat.url}/_control/faults", json={"pay_systemerror": False})
    assert failed.status_code == 503
    assert "微信支付暂时不可用" in failed.json()["message"]
    assert statuses(session, registrations)[1] == "unpaid"
    assert order(http, live_server, auth, [registrations[1].ref]).status_code == 201


def test_a_replayed_request_returns_the_same_order(session, http, live_server, auth):
    _, registrations = add_person(session, birth=age_on_2019(40))
    refs = [registrations[1].ref]
    first = order(http, live_server, auth, refs, key="replay-key-1")
    again = order(http, live_server, auth, refs, key="replay-key-1")
    assert first.status_code == again.status_code == 201
    assert again.json()["order_no"] == first.json()["order_no"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["pay"] == first.json()["pay"]

    other = order(http, live_server, auth, [registrations[0].ref], key="replay-key-1")
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()["message"]
    assert count_orders(session) == 1


def test_a_paid_registration_cannot_be_ordered_again(session, http, live_server, fake_wechat, auth):
    _, registrations = add_person(session, birth=age_on_2019(40))
    first = order(http, live_server, auth, [registrations[1].ref]).json()
    held = order(http, live_server, auth, [registrations[1].ref])
    assert held.status_code == 409
    assert "另一笔订单" in held.json()["message"]

    pay_jsapi(http, fake_wechat, first["pay"])
    wait_paid(http, live_server, auth, first["order_no"])
    again = order(http, live_server, auth, [registrations[1].ref])
    assert again.status_code == 409
    assert "已缴费" in again.json()["message"]


def test_two_concurrent_orders_for_one_registration_make_one_order(
    session, http, live_server, fake_wechat
):
    _, registrations = add_person(session, birth=age_on_2019(40))
    payers = [sign_in(http, live_server, fake_wechat, f"racer-{n}") for n in range(6)]
    answers: list[int] = []
    start = threading.Barrier(len(payers))

    def attempt(auth):
        with requests.Session() as own:
            start.wait()
            answers.append(order(own, live_server, auth, [registrations[1].ref]).status_code)

    threads = [threading.Thread(target=attempt, args=(a,)) for a in payers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [201] + [409] * 5
    assert count_orders(session) == 1


# -- notifications ---------------------------------------------------------------------------


def test_a_notification_delivered_twice_credits_once(session, http, live_server, fake_wechat, auth):
    _, registrations = add_person(session, birth=age_on_2019(40))
    created = order(http, live_server, auth, [registrations[1].ref]).json()
    pay(http, fake_wechat, created["order_no"], notify="twice")
    wait_paid(http, live_server, auth, created["order_no"])
    replay = http.post(
        f"{fake_wechat.url}/_control/notify", json={"out_trade_no": created["order_no"]}
    )
    assert replay.status_code == 200
    trade = wait_until(
        lambda: (
            (t := http.get(f"{fake_wechat.url}/_control/trades/{created['order_no']}").json())
            and sum(a["acknowledged"] for a in t["notify_attempts"]) >= 3
            and t
        )
    )
    assert all(a["acknowledged"] for a in trade["notify_attempts"])  # every copy got SUCCESS
    assert paid_audits(session, created["order_no"]) == 1


def test_twenty_simultaneous_deliveries_credit_once(session, app, http, live_server, auth):
    _, registrations = add_person(session, birth=age_on_2019(40))
    created = order(http, live_server, auth, [registrations[1].ref]).json()
    body = signed_notification(
        app,
        out_trade_no=created["order_no"],
        total_fee=created["total_fen"],
        cash_fee=created["total_fen"],
        transaction_id="4200000000201911050000000001",
    )
    start = threading.Barrier(20)
    replies: list[tuple[int, bytes]] = []

    def deliver():
        with requests.Session() as own:
            start.wait()
            answer = own.post(live_server + NOTIFY, data=body)
            replies.append((answer.status_code, answer.content))

    threads = [threading.Thread(target=deliver) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(replies) == 20
    assert all(status == 200 and b"SUCCESS" in content for status, content in replies)
    assert paid_audits(session, created["order_no"]) == 1
    assert statuses(session, registrations)[1] == "paid"


def test_a_forged_notification_changes_nothing(session, app, http, live_server, auth):
    _, registrations = add_person(session, birth=age_on_2019(40))
    created = order(http, live_server, auth, [registrations[1].ref]).json()
    genuine = signed_notification(
        app,
        out_trade_no=created["order_no"],
        total_fee=created["total_fen"],
        transaction_id="4200000000201911050000000002",
    )
    forged = genuine.replace(b"<sign><![CDATA[", b"<sign><![CDATA[0")
    answer = http.post(live_server + NOTIFY, data=forged)
    assert answer.status_code == 400
    assert b"<return_code><![CDATA[FAIL]]></return_code>" in answer.content
    other_merchant = signed_notification(
        app,
        mch_id="1999999999",
        out_trade_no=created["order_no"],
        total_fee=created["total_fen"],
        transaction_id="4200000000201911050000000003",
    )
    assert http.post(live_server + NOTIFY, data=other_merchant).status_code == 400
    assert http.post(live_server + NOTIFY, data=b"not xml at all").status_code == 400
    assert get_order(http, live_server, auth, created["order_no"]).json()["status"] == "created"
    assert statuses(session, registrations)[1] == "pending"


def test_a_notification_for_another_amount_is_not_credited(session, app, http, live_server, auth):
    _, registrations = add_person(session, birth=age_on_2019(40))
    created = order(http, live_server, auth, [registrations[1].ref]).json()
    body = signed_notification(
        app,
        out_trade_no=created["order_no"],
        total_fee=1,
        transaction_id="4200000000201911050000000004",
    )
    answer = http.post(live_server + NOTIFY, data=body)
    assert b"FAIL" in answer.content  # WeChat keeps it, and retries, while people look
    assert get_order(http, live_server, auth, created["order_no"]).json()["status"] == "created"
    flagged = fresh(
        session,
        lambda s: s.scalars(
            select(AuditEntry.detail).where(AuditEntry.action == "order.amount_mismatch")
        ).one(),
    )
    assert flagged["paid_fen"] == 1


def test_a_transaction_already_recorded_on_another_order_is_not_credited_again(
    session, app, http, live_server, auth
):
    _, registrations = add_person(session, birth=age_on_2019(40))
    first = order(http, live_server, auth, [registrations[0].ref]).json()
    second = order(http, live_server, auth, [registrations[1].ref]).json()
    transaction = "4200000000201911050000000009"
    for created in (first, second):
        body = signed_notification(
            app,
            out_trade_no=created["order_no"],
            total_fee=created["total_fen"],
            transaction_id=transaction,
        )
        answer = http.post(live_server + NOTIFY, data=body)
    assert answer.status_code == 409
    assert b"FAIL" in answer.content
    assert get_order(http, live_server, auth, first["order_no"]).json()["status"] == "paid"
    assert get_order(http, live_server, auth, second["order_no"]).json()["status"] == "created"


def test_a_late_notification_still_credits(session, http, live_server, fake_wechat, auth):
    _, registrations = add_person(session, birth=age_on_2019(40))
    created = order(http, live_server, auth, [registrations[1].ref]).json()
    pay(http, fake_wechat, created["order_no"], notify="late", delay_seconds=1.0)
    time.sleep(0.3)
    assert get_order(http, live_server, auth, created["order_no"]).json()["status"] == "created"
    wait_paid(http, live_server, auth, created["order_no"])


def test_a_lost_notification_is_found_by_the_worker(
    app, session, http, live_server, fake_wechat, auth, clock
):
    _, registrations = add_person(session, birth=age_on_2019(40))
    created = order(http, live_server, auth, [registrations[1].ref]).json()
    pay(http, fake_wechat, created["order_no"], notify="missing")
    assert get_order(http, live_server, auth, created["order_no"]).json()["status"] == "created"
    assert "credited 0" in run_worker(app)  # not asked about yet: too early to doubt WeChat

    clock.advance(timedelta(seconds=app.config["ORDER_CHECK_AFTER_SECONDS"]))
    assert "credited 1" in run_worker(app)
    found = get_order(http, live_server, auth, created["order_no"]).json()
    assert found["status"] == "paid"
    assert found["transaction_id"]
    assert statuses(session, registrations)[1] == "paid"


# -- expiry ----------------------------------------------------------------------------------


def expire(app, clock):
    """Let every open order's time run out, and the worker close what is left unpaid."""
    clock.advance(timedelta(seconds=app.config["ORDER_TTL_SECONDS"] + 1))
    return run_worker(app)


def test_an_unpaid_order_expires_and_frees_its_registrations(
    app, session, http, live_server, fake_wechat, auth, clock
):
    _, registrations = add_person(session, birth=age_on_2019(40))
    created = order(http, live_server, auth, [registrations[1].ref]).json()
    clock.advance(timedelta(seconds=app.config["ORDER_TTL_SECONDS"] - 60))
    assert "closed 0" in run_worker(app)  # a minute left: asked about, still open
    assert "closed 1" in expire(app, clock)
    closed = get_order(http, live_server, auth, created["order_no"]).json()
    assert (closed["status"], closed["status_reason"], closed["pay"]) == (
        "closed",
        "expired",
        None,
    )
    trade = http.get(f"{fake_wechat.url}/_control/trades/{created['order_no']}").json()
    assert trade["trade_state"] == "CLOSED"  # closed at WeChat too: nobody can pay it now
    assert statuses(session, registrations)[1] == "unpaid"
    assert order(http, live_server, auth, [registrations[1].ref]).status_code == 201


def test_a_payment_after_expiry_is_credited_when_nothing_else_paid(
    app, session, http, live_server, fake_wechat, auth, clock
):
    _, registrations = add_person(session, birth=age_on_2019(40))
    created = order(http, live_server, auth, [registrations[1].ref]).json()
    expire(app, clock)
    # The payer's money went through just as the order closed.
    assert pay(http, fake_wechat, created["order_no"], force=True).status_code == 200
    paid = wait_paid(http, live_server, auth, created["order_no"])
    assert paid["status_reason"] is None
    assert statuses(session, registrations)[1] == "paid"


def test_a_payment_after_expiry_is_kept_for_refund_when_paid_elsewhere(
    app, session, http, live_server, fake_wechat, auth, clock
):
    _, registrations = add_person(session, birth=age_on_2019(40))
    first = order(http, live_server, auth, [registrations[1].ref]).json()
    expire(app, clock)
    second = order(http, live_server, auth, [registrations[1].ref]).json()
    pay_jsapi(http, fake_wechat, second["pay"])
    wait_paid(http, live_server, auth, second["order_no"])

    pay(http, fake_wechat, first["order_no"], force=True)
    late = wait_until(
        lambda: (
            (o := get_order(http, live_server, auth, first["order_no"]).json())["status"]
            == "refund_due"
            and o
        )
    )
    assert late["status_reason"] == "duplicate_payment"
    assert late["transaction_id"]  # the money is known, to be refunded
    assert statuses(session, registrations)[1] == "paid"
    assert paid_audits(session, first["order_no"]) == 0


# -- who may read an order -------------------------------------------------------------------


def test_only_the_payer_or_staff_of_the_region_read_an_order(
    session, http, live_server, fake_wechat, auth, staff_token
):
    _, registrations = add_person(session, birth=age_on_2019(40))
    created = order(http, live_server, auth, [registrations[1].ref]).json()
    stranger = sign_in(http, live_server, fake_wechat, "stranger")
    assert get_order(http, live_server, stranger, created["order_no"]).status_code == 404
    assert get_order(http, live_server, {}, created["order_no"]).status_code == 401
    county_staff = {"Authorization": f"Bearer {staff_token('viewer', '410721')}"}
    other_county = {"Authorization": f"Bearer {staff_token('viewer', '410724', 'far')}"}
    assert get_order(http, live_server, county_staff, created["order_no"]).status_code == 200
    assert get_order(http, live_server, other_county, created["order_no"]).status_code == 404


def test_my_orders_are_listed_newest_first(session, http, live_server, fake_wechat, auth):
    _, registrations = add_person(session, birth=age_on_2019(40))
    first = order(http, live_server, auth, [registrations[0].ref]).json()
    second = order(http, live_server, auth, [registrations[1].ref]).json()
    someone_else = sign_in(http, live_server, fake_wechat, "someone-else")
    listed = http.get(f"{live_server}/api/mp/v1/orders", headers=auth)
    assert [o["order_no"] for o in listed.json()] == [second["order_no"], first["order_no"]]
    assert '"total": 2' in listed.headers["X-Pagination"]
    assert http.get(f"{live_server}/api/mp/v1/orders", headers=someone_else).json() == []
    beyond = http.get(f"{live_server}/api/mp/v1/orders", params={"page": 10**28}, headers=auth)
    assert (beyond.status_code, beyond.json()) == (200, [])  # past the last page: empty


def test_order_numbers_follow_wechat_rules(session, http, live_server, auth, clock):
    _, registrations = add_person(session, birth=age_on_2019(40))
    created = order(http, live_server, auth, [registrations[1].ref]).json()
    number = created["order_no"]
    assert 6 <= len(number) <= 32 and number.isalnum()
    expires = datetime.fromisoformat(created["expires_at"])
    assert 1700 < (expires - clock.now()).total_seconds() <= 1800
    assert number.startswith("SI20191120")  # Beijing date and time on the business clock


def test_a_payer_making_orders_too_fast_is_told_to_wait(
    app_config, session, http, fake_wechat, with_regions
):
    with serve(create_app({**app_config, "ORDER_LIMIT_PER_OPENID": "2 per minute"})) as server:
        auth = sign_in(http, server.url, fake_wechat, "hasty")
        _, registrations = add_person(session, birth=age_on_2019(40))
        answers = [order(http, server.url, auth, [registrations[1].ref]) for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 409, 429]  # the second: already held
    assert int(answers[2].headers["Retry-After"]) >= 1
    assert "请求过于频繁" in answers[2].json()["message"]


# -- who may hold what ----------------------------------------------------------------------


def test_a_ref_from_another_users_lookup_orders_nothing(
    session, http, live_server, fake_wechat, auth
):
    """Refs are bound to the user who looked the person up: someone shown them (a shared screen,
    a forwarded link) must look the person up with ID number and name themselves."""
    person, registrations = add_person(session, name="张三", birth=age_on_2019(40))
    found = lookup(http, live_server, auth, person.id_number, "张三").json()
    medical = next(r["ref"] for r in found["registrations"] if r["scheme"] == "medical")
    other = sign_in(http, live_server, fake_wechat, "someone-else")

    for ref in (medical, registrations[1].ref):  # theirs, and the bare stored ref
        taken = http.post(
            f"{live_server}/api/mp/v1/orders",
            json={"items": [{"registration_ref": ref}], "trade_type": "JSAPI"},
            headers={**other, "Idempotency-Key": f"stolen-{ref[:12]}"},
        )
        assert taken.status_code == 422, taken.text
        assert taken.json()["reason"] == "unknown_registration"
    assert statuses(session, registrations) == ["unpaid", "unpaid"]

    own = lookup(http, live_server, other, person.id_number, "张三").json()
    mine = next(r["ref"] for r in own["registrations"] if r["scheme"] == "medical")
    assert mine != medical
    created = order(http, live_server, other, [mine])
    assert created.status_code == 201
    assert [i["registration_ref"] for i in created.json()["items"]] == [mine]


def test_a_resident_holds_a_few_open_orders_at_most(app, session, http, live_server, auth, clock):
    cap = app.config["APP_CONFIG"].OPEN_ORDERS_PER_RESIDENT
    people = [add_person(session, birth=age_on_2019(40), seq=f"{n:03d}")[1] for n in range(cap + 1)]
    for n, registrations in enumerate(people[:cap]):
        made = order(http, live_server, auth, [registrations[1].ref], key=f"open-order-{n}")
        assert made.status_code == 201

    refused = order(http, live_server, auth, [people[cap][1].ref])
    assert refused.status_code == 409
    assert refused.json()["reason"] == "too_many_open_orders"
    assert "待支付" in refused.json()["message"]
    assert statuses(session, people[cap]) == ["unpaid", "unpaid"]
    again = order(http, live_server, auth, [people[0][1].ref], key="open-order-0")
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (201, "true")

    # An expired order no longer counts, even before the worker closes it.
    clock.advance(timedelta(seconds=app.config["ORDER_TTL_SECONDS"] + 1))
    assert order(http, live_server, auth, [people[cap][1].ref]).status_code == 201


def test_an_expired_order_frees_its_registrations_while_wechat_cannot_be_reached(
    app, session, http, live_server, fake_wechat, auth, clock
):
    _, registrations = add_person(session, birth=age_on_2019(40))
    created = order(http, live_server, auth, [registrations[1].ref]).json()
    http.post(f"{fake_wechat.url}/_control/faults", json={"pay_http_500": True})
    try:
        report = expire(app, clock)
    finally:
        http.post(f"{fake_wechat.url}/_control/faults", json={"pay_http_500": False})
    assert "closed 1" in report
    closed = get_order(http, live_server, auth, created["order_no"]).json()
    assert (closed["status"], closed["status_reason"]) == ("closed", "expired")
    assert statuses(session, registrations)[1] == "unpaid"
    other = sign_in(http, live_server, fake_wechat, "next-payer")
    assert order(http, live_server, other, [registrations[1].ref]).status_code == 201

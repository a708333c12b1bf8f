"""Refunds over real HTTP: staff ask, WeChat (the fake) gives the money back and says so, the
registration is free again and the bureau hears of the reversal; duplicates refund themselves."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from backend import create_app
from backend.models import AuditEntry, LedgerMessage, PaymentOrder, Refund, Registration
from fakes.tax.server import create_app as create_fake_bureau
from tests.conftest import serve
from tests.support.builders import add_person, age_on_2019
from tests.support.pay_apis import BOTH_PAY_APIS
from tests.support.resident import get_order, order, pay, pay_jsapi, sign_in
from tests.support.running import fresh, run_worker, wait_until
from tests.support.servers import ServerThread

# Every test here pays through WeChat Pay API v2, then v3.
pytestmark = BOTH_PAY_APIS

URL = "/api/staff/v1/refunds"


@pytest.fixture
def refund_app(app_config, with_regions):
    # Ask WeChat about a silent refund at once and retry the bureau without waiting.
    return create_app(
        {**app_config, "REFUND_CHECK_AFTER_SECONDS": 0, "LEDGER_RETRY_SCHEDULE": (0, 0, 0)}
    )


@pytest.fixture
def server(refund_app):
    with serve(refund_app) as running:
        yield running


@pytest.fixture
def bureau(server, refund_app, clock):
    fake = create_fake_bureau(
        callback_url=server.url + "/api/tax/v1/treasury-entries",
        time_scale=0.01,
        clock=clock.timestamp,
    )
    with ServerThread(fake) as running:
        refund_app.config["APP_CONFIG"].TAX_LEDGER_URL = running.url
        yield running
    fake.extensions["fake_tax"].close()


@pytest.fixture
def session(refund_app):
    with refund_app.extensions["db_sessions"]() as session:
        yield session


@pytest.fixture
def recon(staff_token):
    return {"Authorization": f"Bearer {staff_token('recon', '410700', name='退款员')}"}


@pytest.fixture
def faults(http, fake_wechat):
    def switch(**flags):
        http.post(f"{fake_wechat.url}/_control/faults", json=flags).raise_for_status()

    yield switch
    switch(refund_systemerror=False, refund_notify_lost=False)


def paid_order(session, http, server, wx, *, people=1, seq=1, payer="refund-payer"):
    registrations = []
    for n in range(people):
        _, regs = add_person(session, birth=age_on_2019(30 + n), seq=f"{seq + n:03d}")
        registrations.append(regs[1])  # medical: 250 yuan each
    auth = sign_in(http, server.url, wx, payer)
    created = order(http, server.url, auth, [r.ref for r in registrations]).json()
    pay(http, wx, created["order_no"])
    wait_until(
        lambda: get_order(http, server.url, auth, created["order_no"]).json()["status"] == "paid"
    )
    return auth, created, [(r.id, r.ref) for r in registrations]


def ask(http, server, recon, order_no, ref, key=None, **body):
    headers = {**recon, **({"Idempotency-Key": key} if key else {})}
    return http.post(
        server.url + URL,
        json={"order_no": order_no, "registration_ref": ref, "reason": "wrong_grade", **body},
        headers=headers,
    )


def refund_view(http, server, recon, refund_no):
    return http.get(f"{server.url}{URL}/{refund_no}", headers=recon).json()


def wait_refund(http, server, recon, refund_no, status="succeeded"):
    return wait_until(
        lambda: (view := refund_view(http, server, recon, refund_no))["status"] == status and view
    )


def wechat_refunds(http, wx, order_no):
    return http.get(f"{wx.url}/_control/trades/{order_no}").json()["refunds"]


def registration_status(session, registration_id):
    return fresh(session, lambda s: s.get(Registration, registration_id).status)


def test_a_full_refund_frees_the_registration_and_reverses_the_bureau_entry(
    session, http, server, bureau, fake_wechat, refund_app, recon
):
    auth, created, [(kept_id, _), (refunded_id, ref)] = paid_order(
        session, http, server, fake_wechat, people=2
    )
    # The people's four registrations pushed, then the two payments, in one round.
    assert "ledger: delivered 6 (4 registrations in 1 batch)" in run_worker(refund_app)

    answer = ask(http, server, recon, created["order_no"], ref, note="申报档次有误")
    assert answer.status_code == 201, answer.text
    refund = answer.json()
    assert (refund["amount_fen"], refund["status"]) == (25000, "processing")
    assert refund["refund_no"] == f"{created['order_no']}R1"

    done = wait_refund(http, server, recon, refund["refund_no"])  # by WeChat's notification
    assert done["succeeded_at"] and done["refund_id"]
    [at_wechat] = wechat_refunds(http, fake_wechat, created["order_no"])
    assert (at_wechat["refund_fee"], at_wechat["refund_status"]) == (25000, "SUCCESS")

    assert registration_status(session, refunded_id) == "unpaid"
    assert registration_status(session, kept_id) in ("paid", "treasury_entered")
    viewed = get_order(http, server.url, auth, created["order_no"]).json()
    assert viewed["status"] == "paid"  # the other person's payment stands
    assert [i["refunded_fen"] for i in viewed["items"]] == [0, 25000]

    assert "ledger: delivered 1" in run_worker(refund_app)  # the reversal
    accepted = {m["message_id"]: m for m in http.get(f"{bureau.url}/_control/messages").json()}
    reversal = next(m for m in accepted.values() if m["kind"] == "reversal")
    original = accepted[reversal["body"]["original_message_id"]]
    assert reversal["body"]["ledger_ref"] == original["ledger_ref"]
    assert reversal["body"]["amount_fen"] == 25000
    assert reversal["body"]["refund_no"] == refund["refund_no"]

    # Free again: the person can pay anew, and that payment reaches the bureau as a new message.
    again = order(http, server.url, auth, [ref]).json()
    pay(http, fake_wechat, again["order_no"])
    wait_until(
        lambda: get_order(http, server.url, auth, again["order_no"]).json()["status"] == "paid"
    )
    assert "ledger: delivered 1" in run_worker(refund_app)
    assert registration_status(session, refunded_id) in ("paid", "treasury_entered")


def test_partial_refunds_never_exceed_what_was_paid_and_one_runs_at_a_time(
    session, http, server, fake_wechat, refund_app, recon, faults, clock
):
    _, created, [(registration_id, ref)] = paid_order(session, http, server, fake_wechat, seq=11)
    order_no = created["order_no"]
    faults(refund_notify_lost=True)  # only asking WeChat (refundquery) will finish them

    first = ask(http, server, recon, order_no, ref, amount_fen=5000)
    assert first.status_code == 201, first.text
    busy = ask(http, server, recon, order_no, ref, amount_fen=100)
    assert busy.status_code == 409
    assert "正在处理" in busy.json()["message"]

    clock.advance(timedelta(seconds=1))  # the fake finishes the refund, silently
    assert "finished 1" in run_worker(refund_app)
    assert refund_view(http, server, recon, first.json()["refund_no"])["status"] == "succeeded"
    assert registration_status(session, registration_id) == "paid"  # part of it is still paid

    too_much = ask(http, server, recon, order_no, ref, amount_fen=20001)
    assert too_much.status_code == 422
    assert "最多可退 200.00 元" in too_much.json()["message"]
    rest = ask(http, server, recon, order_no, ref)  # all that is left
    assert rest.json()["amount_fen"] == 20000
    clock.advance(timedelta(seconds=1))
    run_worker(refund_app)
    assert (
        fresh(
            session,
            lambda s: s.scalar(
                select(PaymentOrder.status).where(PaymentOrder.order_no == order_no)
            ),
        )
        == "refunded"
    )
    assert registration_status(session, registration_id) == "unpaid"
    nothing_left = ask(http, server, recon, order_no, ref, amount_fen=1)
    assert nothing_left.status_code == 409
    assert sum(r["refund_fee"] for r in wechat_refunds(http, fake_wechat, order_no)) == 25000


def test_a_refund_wechat_cannot_take_now_is_sent_again_under_the_same_number(
    session, http, server, fake_wechat, refund_app, recon, faults
):
    _, created, [(_, ref)] = paid_order(session, http, server, fake_wechat, seq=21)
    faults(refund_systemerror=True)
    key = uuid.uuid4().hex
    answer = ask(http, server, recon, created["order_no"], ref, key=key)
    assert answer.status_code == 201
    refund = answer.json()
    assert refund["status"] == "requested"
    # WeChat's busy code as each API spells it: v2 SYSTEMERROR, v3 SYSTEM_ERROR.
    assert refund["last_error"].startswith(("SYSTEMERROR", "SYSTEM_ERROR"))
    assert wechat_refunds(http, fake_wechat, created["order_no"]) == []

    replay = ask(http, server, recon, created["order_no"], ref, key=key)
    assert replay.json()["refund_no"] == refund["refund_no"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    other = ask(http, server, recon, created["order_no"], ref, key=key, amount_fen=1)
    assert other.status_code == 422

    faults(refund_systemerror=False)
    assert "sent 1" in run_worker(refund_app)
    wait_refund(http, server, recon, refund["refund_no"])
    run_worker(refund_app)  # nothing is sent twice
    [at_wechat] = wechat_refunds(http, fake_wechat, created["order_no"])
    assert at_wechat["out_refund_no"] == refund["refund_no"]


def test_a_repeated_notification_finishes_a_refund_once(
    session, http, server, fake_wechat, refund_app, recon
):
    _, created, [(registration_id, ref)] = paid_order(session, http, server, fake_wechat, seq=31)
    refund_no = ask(http, server, recon, created["order_no"], ref).json()["refund_no"]
    wait_refund(http, server, recon, refund_no)
    for _ in range(3):
        http.post(
            f"{fake_wechat.url}/_control/refunds/notify", json={"out_refund_no": refund_no}
        ).raise_for_status()

    def acknowledged():
        attempts = wechat_refunds(http, fake_wechat, created["order_no"])[0]["notify_attempts"]
        return len([a for a in attempts if a.get("acknowledged")]) >= 4

    wait_until(acknowledged)
    audits = fresh(
        session,
        lambda s: s.scalars(select(AuditEntry.action).where(AuditEntry.target == refund_no)).all(),
    )
    assert audits.count("refund.succeeded") == 1
    reversals = fresh(
        session,
        lambda s: s.scalars(
            select(LedgerMessage).where(
                LedgerMessage.kind == "reversal", LedgerMessage.registration_id == registration_id
            )
        ).all(),
    )
    assert len(reversals) == 1


def test_a_forged_refund_notification_changes_nothing(session, http, server, recon):
    forged = (
        "<xml><return_code>SUCCESS</return_code><appid>wx0</appid><mch_id>1</mch_id>"
        "<req_info>bm90IGVuY3J5cHRlZA==</req_info></xml>"
    )
    answer = http.post(server.url + "/api/payments/wechat/refund-notify", data=forged.encode())
    assert answer.status_code == 400
    assert "<return_code><![CDATA[FAIL]]></return_code>" in answer.text or "FAIL" in answer.text


def test_a_duplicate_payment_is_refunded_automatically(
    session, http, server, fake_wechat, refund_app, recon, clock
):
    auth = sign_in(http, server.url, fake_wechat, "pays-twice")
    _, registrations = add_person(session, birth=age_on_2019(40), seq="041")
    registration_id, ref = registrations[1].id, registrations[1].ref
    first = order(http, server.url, auth, [ref]).json()
    clock.advance(timedelta(seconds=refund_app.config["ORDER_TTL_SECONDS"] + 1))
    assert "closed 1" in run_worker(refund_app)  # the first order expires and closes
    second = order(http, server.url, auth, [ref]).json()
    pay_jsapi(http, fake_wechat, second["pay"])
    wait_until(
        lambda: get_order(http, server.url, auth, second["order_no"]).json()["status"] == "paid"
    )
    pay(http, fake_wechat, first["order_no"], force=True)  # the first order's money lands too
    wait_until(
        lambda: (
            get_order(http, server.url, auth, first["order_no"]).json()["status"] == "refund_due"
        )
    )

    assert "duplicates 1" in run_worker(refund_app)
    [refund] = http.get(
        server.url + URL, params={"order_no": first["order_no"]}, headers=recon
    ).json()
    assert (refund["reason"], refund["requested_by"]) == (
        "duplicate_payment",
        "system:duplicate-payments",
    )
    wait_refund(http, server, recon, refund["refund_no"])
    assert get_order(http, server.url, auth, first["order_no"]).json()["status"] == "refunded"
    assert registration_status(session, registration_id) == "paid"  # by the second order
    assert "duplicates 0" in run_worker(refund_app)  # asked once only
    no_reversal = fresh(
        session,
        lambda s: s.scalar(select(LedgerMessage.id).where(LedgerMessage.kind == "reversal")),
    )
    assert no_reversal is None  # the bureau never heard of the duplicate, so nothing to undo
    assert len(wechat_refunds(http, fake_wechat, first["order_no"])) == 1


def test_refunds_are_for_reconciliation_staff_of_the_region(
    session, http, server, fake_wechat, staff_token
):
    _, created, [(_, ref)] = paid_order(session, http, server, fake_wechat, seq=51)
    viewer = {"Authorization": f"Bearer {staff_token('viewer', '410700')}"}
    elsewhere = {"Authorization": f"Bearer {staff_token('recon', '410724')}"}
    assert ask(http, server, viewer, created["order_no"], ref).status_code == 403
    assert ask(http, server, elsewhere, created["order_no"], ref).status_code == 404
    unknown = {"Authorization": f"Bearer {staff_token('recon', '410700', name='x')}"}
    assert ask(http, server, unknown, "NOPE", ref).status_code == 404
    bad = ask(http, server, unknown, created["order_no"], ref, reason="because")
    assert bad.status_code == 422
    refunds = fresh(session, lambda s: s.scalars(select(Refund)).all())
    assert refunds == []  # nothing half-applied


def test_progress_counts_the_treasury_entries_and_takes_back_a_refunded_payment(
    session, http, server, bureau, fake_wechat, refund_app, recon, staff_token
):
    _, created, [(kept_id, _), (refunded_id, ref)] = paid_order(
        session, http, server, fake_wechat, people=2, seq=41, payer="progress-payer"
    )
    run_worker(refund_app)  # both payments reach the bureau, which confirms them
    wait_until(lambda: registration_status(session, refunded_id) == "treasury_entered")
    wait_until(lambda: registration_status(session, kept_id) == "treasury_entered")
    viewer = {"Authorization": f"Bearer {staff_token('viewer', '410721')}"}
    query = {"region": "410721100201", "scheme": "medical", "period_year": 2020}

    def figures():
        run_worker(refund_app)  # the progress job rolls today again
        answer = http.get(f"{server.url}/api/staff/v1/progress", params=query, headers=viewer)
        counted = answer.json()
        return (counted["registered"], counted["paid"], counted["treasury_entered"])

    refund_app.config["APP_CONFIG"].PROGRESS_ROLL_SECONDS = 0
    assert figures() == (2, 2, 2)
    refund = ask(http, server, recon, created["order_no"], ref).json()
    wait_refund(http, server, recon, refund["refund_no"])
    assert registration_status(session, refunded_id) == "unpaid"
    assert figures() == (2, 1, 1)
    after = http.get(f"{server.url}/api/staff/v1/progress", params=query, headers=viewer).json()
    assert after["paid_fen"] == 25000 and after["paid_by_channel"] == {"wechat_miniprogram": 1}


def audit_actions(http, server, headers) -> set[str]:
    answer = http.get(f"{server.url}/api/staff/v1/audit?page_size=100", headers=headers)
    assert answer.status_code == 200
    return {entry["action"] for entry in answer.json()}


def test_a_refund_is_in_the_audit_log_of_its_county_only(
    session, http, server, fake_wechat, recon, staff_token
):
    _, created, [(_, ref)] = paid_order(session, http, server, fake_wechat, seq=61)
    answer = ask(http, server, recon, created["order_no"], ref)
    assert answer.status_code == 201
    wait_refund(http, server, recon, answer.json()["refund_no"])

    county = {"Authorization": f"Bearer {staff_token('admin', '410721')}"}
    elsewhere = {"Authorization": f"Bearer {staff_token('admin', '410724')}"}
    assert {"refund.requested", "refund.succeeded"} <= audit_actions(http, server, county)
    assert not {a for a in audit_actions(http, server, elsewhere) if a.startswith("refund.")}

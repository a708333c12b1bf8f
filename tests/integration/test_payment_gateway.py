"""The WeChat Pay adapter against the fake platform over HTTP: what the order services rely on,
in the port's words (our numbers, channels, states; WeChat's stay inside the adapter)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests
from wechatpy.pay.utils import calculate_signature, dict_to_xml

from backend.config import Config
from backend.payments.bill import BILL_SCHEMA
from backend.payments.gateway import (
    AlreadyPaid,
    GatewayError,
    InvalidNotification,
    RefundRequest,
)
from backend.payments.wechat.bill import parse
from backend.payments.wechat.gateway import WeChatPayGateway
from backend.values.beijing import BEIJING
from fakes.wechat.server import create_app as create_fake_wechat
from tests.support.pay_apis import new_trade
from tests.support.servers import ServerThread

CONFIG = Config()


@pytest.fixture(scope="module")
def fake():
    app = create_fake_wechat(time_scale=0.01, refund_settle_seconds=10)
    with ServerThread(app) as server:
        yield server
    app.extensions["fake_wechat"].close()


def gateway(fake, **overrides) -> WeChatPayGateway:
    options = {
        "appid": CONFIG.WECHAT_APPID,
        "mch_id": CONFIG.WECHAT_MCH_ID,
        "api_key": CONFIG.WECHAT_API_KEY,
        "base_url": fake.url,
        # Nobody listens here: these tests read results by query, not by notification.
        "notify_url": "http://127.0.0.1:9/notify",
        "refund_notify_url": "http://127.0.0.1:9/refund-notify",
        **overrides,
    }
    return WeChatPayGateway(**options)


def test_a_jsapi_payment_is_started_queried_and_found_paid(fake):
    pay = gateway(fake)
    number, started = new_trade(pay)
    assert started.client_params["package"] == f"prepay_id={started.platform_ref}"
    assert len(started.client_params["timeStamp"]) == 10
    assert pay.query(number).state == "unpaid"

    requests.post(f"{fake.url}/_control/pay", json={"out_trade_no": number, "notify": "missing"})
    status = pay.query(number)
    assert (status.state, status.total_fen, status.paid) == ("paid", 25000, True)
    assert status.transaction_id
    # WeChat's Beijing time_end comes back as an aware UTC time near now.
    assert abs((status.paid_at - datetime.now(UTC)).total_seconds()) < 60


def test_an_unknown_trade_reads_as_unpaid_and_closes_quietly(fake):
    pay = gateway(fake)
    assert pay.query("Tnever-created-0001").state == "unpaid"
    pay.close("Tnever-created-0001")  # ORDERNOTEXIST: nothing to close, no error


def test_closing_a_paid_trade_says_so(fake):
    pay = gateway(fake)
    number, _ = new_trade(pay)
    requests.post(f"{fake.url}/_control/pay", json={"out_trade_no": number, "notify": "missing"})
    with pytest.raises(AlreadyPaid) as refused:
        pay.close(number)
    assert not refused.value.retryable


def test_a_refund_is_accepted_then_settles(fake):
    pay = gateway(fake)
    number, _ = new_trade(pay)
    requests.post(f"{fake.url}/_control/pay", json={"out_trade_no": number, "notify": "missing"})
    refund = RefundRequest(number, "R" + number, 25000, 25000, "重复缴费退款")
    assert pay.refund(refund).state == "processing"
    requests.post(f"{fake.url}/_control/refunds/settle", json={"out_refund_no": "R" + number})
    settled = pay.query_refund("R" + number)
    assert (settled.state, settled.refund_fen, settled.order_no) == ("succeeded", 25000, number)
    assert settled.succeeded_at is not None


def test_the_sandbox_signs_with_its_own_key(fake):
    pay = gateway(fake, sandbox=True)
    number, started = new_trade(pay, channel="wechat_qr")
    assert started.code_url.startswith("weixin://")
    assert pay.query(number).state == "unpaid"
    # The same number is unknown outside the sandbox.
    assert gateway(fake).query(number).state == "unpaid"


def test_a_wrong_key_is_refused_not_misread(fake):
    pay = gateway(fake, api_key="0" * 32)
    with pytest.raises(GatewayError) as refused:
        new_trade(pay)
    assert "签名错误" in str(refused.value)


def test_an_unreachable_platform_is_a_retryable_error(fake):
    pay = gateway(fake, base_url="http://127.0.0.1:9/")
    with pytest.raises(GatewayError) as failed:
        pay.query("Tanything-0001")
    assert failed.value.retryable


def test_a_system_error_is_retryable(fake):
    pay = gateway(fake)
    requests.post(f"{fake.url}/_control/faults", json={"pay_systemerror": True})
    try:
        with pytest.raises(GatewayError) as failed:
            new_trade(pay)
    finally:
        requests.post(f"{fake.url}/_control/faults", json={"pay_systemerror": False})
    assert (failed.value.code, failed.value.retryable) == ("SYSTEMERROR", True)


def test_a_day_without_trades_has_no_bill(fake):
    assert gateway(fake).download_bill((datetime.now(BEIJING) - timedelta(days=40)).date()) is None


def test_todays_bill_lists_a_paid_trade(fake):
    pay = gateway(fake)
    number, _ = new_trade(pay, total_fen=12345)
    requests.post(f"{fake.url}/_control/pay", json={"out_trade_no": number, "notify": "missing"})
    bill = pay.download_bill(datetime.now(BEIJING).date())
    line = next(row for row in bill.splitlines() if number in row)
    assert "`123.45" in line


def test_a_notification_signed_with_another_key_is_refused(fake):
    data = {
        "return_code": "SUCCESS",
        "appid": CONFIG.WECHAT_APPID,
        "mch_id": CONFIG.WECHAT_MCH_ID,
        "result_code": "SUCCESS",
        "out_trade_no": "Tforged-0001",
        "transaction_id": "4200000000000000000000000001",
        "total_fee": "1",
        "time_end": "20191105120000",
        "nonce_str": "x",
    }
    body = dict_to_xml(data, calculate_signature(data, "1" * 32)).encode()
    with pytest.raises(InvalidNotification):
        gateway(fake).parse_payment_notice(body)
    genuine = dict_to_xml(data, calculate_signature(data, CONFIG.WECHAT_API_KEY)).encode()
    assert gateway(fake).parse_payment_notice(genuine).total_fen == 1


def test_the_fakes_bill_of_payments_and_refunds_parses_and_adds_up(fake):
    pay = gateway(fake)
    paid, _ = new_trade(pay, total_fen=25000)
    refunded, _ = new_trade(pay, total_fen=20000)
    for number in (paid, refunded):
        requests.post(
            f"{fake.url}/_control/pay", json={"out_trade_no": number, "notify": "missing"}
        )
    pay.refund(RefundRequest(refunded, "R" + refunded, 20000, 20000, "重复缴费"))
    requests.post(f"{fake.url}/_control/refunds/settle", json={"out_refund_no": "R" + refunded})

    bill = parse(pay.download_bill(datetime.now(BEIJING).date()))
    rows = [r for r in bill.rows() if r.out_trade_no in (paid, refunded)]
    assert bill.summary is not None  # the totals line was read and checked against every row
    payments = {r.out_trade_no: r.settlement_fen for r in rows if not r.is_refund}
    refunds = {r.out_trade_no: r.refund_fen for r in rows if r.is_refund}
    assert payments == {paid: 25000, refunded: 20000}
    assert refunds == {refunded: 20000}


def test_the_bill_reaches_reconciliation_as_plain_rows_in_our_words(fake, tmp_path):
    pay = gateway(fake)
    paid, _ = new_trade(pay, total_fen=30000)
    requests.post(f"{fake.url}/_control/pay", json={"out_trade_no": paid, "notify": "missing"})
    stored = tmp_path / "bill.txt"
    stored.write_text(pay.download_bill(datetime.now(BEIJING).date()), encoding="utf-8")

    bill = pay.read_bill(stored)
    frame = bill.frame()
    assert set(BILL_SCHEMA) <= set(frame.columns)
    [row] = frame.filter(frame["order_no"] == paid).to_dicts()
    assert (row["paid_fen"], row["is_refund"], row["refund_no"]) == (30000, False, None)
    assert bill.totals is not None and bill.totals.count == frame.height

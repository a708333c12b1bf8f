"""The WeChat Pay API v3 adapter against the fake platform over real HTTP: the same port as the
v2 adapter, so the services above cannot tell which one pays. Callbacks are delivered by the fake
to a real notify_url here and read with the adapter, as the app reads them."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import requests
from flask import Flask, request

from backend.config import Config
from backend.payments import gateway_from_config
from backend.payments.gateway import (
    AlreadyPaid,
    GatewayError,
    InvalidNotification,
    RefundRequest,
)
from backend.payments.wechat_v3 import keys as v3_keys
from backend.payments.wechat_v3.gateway import WeChatPayV3Gateway
from backend.values.beijing import BEIJING
from fakes.wechat.server import create_app as create_fake_wechat
from fakes.wechat.v3keys import ensure_keys
from tests.support.pay_apis import new_trade
from tests.support.servers import ServerThread

CONFIG = Config()


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory):
    return ensure_keys(tmp_path_factory.mktemp("v3")).directory


@pytest.fixture(scope="module")
def fake(key_dir):
    app = create_fake_wechat(
        time_scale=0.01, refund_settle_seconds=10, notify_timeout=2, v3_keys_dir=str(key_dir)
    )
    with ServerThread(app) as server:
        yield server
    app.extensions["fake_wechat"].close()


class Callbacks:
    """A merchant's notify_url: keeps each callback's headers and body."""

    def __init__(self) -> None:
        self.hits: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        app = Flask("merchant")

        @app.post("/notify")
        def receive():
            with self.lock:
                self.hits.append((dict(request.headers), request.get_data()))
            return "", 204

        self.server = ServerThread(app)

    def wait(self, count: int = 1, timeout: float = 3.0) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.hits) >= count:
                    return list(self.hits)
            time.sleep(0.01)
        raise AssertionError(f"expected {count} callbacks, got {len(self.hits)}")


@pytest.fixture
def callbacks():
    receiver = Callbacks()
    with receiver.server:
        yield receiver


def gateway(fake, key_dir, callbacks=None, **overrides) -> WeChatPayV3Gateway:
    notify = callbacks.server.url + "/notify" if callbacks else "http://127.0.0.1:9/notify"
    options = {
        "appid": CONFIG.WECHAT_APPID,
        "mch_id": CONFIG.WECHAT_MCH_ID,
        "keys": v3_keys.load(str(key_dir)),
        "base_url": fake.url,
        "notify_url": notify,
        "refund_notify_url": notify,
        **overrides,
    }
    return WeChatPayV3Gateway(**options)


def control(fake, path: str, **body) -> requests.Response:
    return requests.post(f"{fake.url}/_control/{path}", json=body, timeout=5)


def test_the_mini_program_pays_with_the_rsa_signed_parameters_and_the_callback_is_read(
    fake, key_dir, callbacks
):
    pay = gateway(fake, key_dir, callbacks)
    number, started = new_trade(pay)
    params = started.client_params
    assert params["signType"] == "RSA" and params["package"] == f"prepay_id={started.platform_ref}"
    assert pay.query(number).state == "unpaid"

    # The phone's wx.requestPayment: the platform checks paySign with the merchant's public key.
    forged = {**params, "nonceStr": "0" * 32}
    assert control(fake, "request-payment", **forged).status_code == 400
    assert control(fake, "request-payment", **params).status_code == 200

    headers, body = callbacks.wait(1)[0]
    notice = pay.parse_payment_notice(body, headers)
    assert (notice.order_no, notice.total_fen, notice.success) == (number, 25000, True)
    assert notice.payer == "oPAYER" and notice.transaction_id
    status = pay.query(number)
    assert (status.state, status.total_fen, status.transaction_id) == (
        "paid",
        25000,
        notice.transaction_id,
    )
    assert status.paid_at == notice.paid_at
    assert abs((status.paid_at - datetime.now(UTC)).total_seconds()) < 60


def test_a_tampered_replayed_or_foreign_callback_is_refused(fake, key_dir, callbacks):
    pay = gateway(fake, key_dir, callbacks)
    number, _ = new_trade(pay)
    control(fake, "pay", out_trade_no=number)
    headers, body = callbacks.wait(1)[0]
    pay.parse_payment_notice(body, headers)  # the genuine one reads

    tampered = body.replace(b"TRANSACTION.SUCCESS", b"TRANSACTION.SUCCEST")
    stale = {**headers, "Wechatpay-Timestamp": str(int(time.time()) - 3600)}
    other_key = {**headers, "Wechatpay-Serial": "PUB_KEY_ID_0000000000000000000000000000000"}
    for h, b in ((headers, tampered), (stale, body), (other_key, body), ({}, body)):
        with pytest.raises(InvalidNotification):
            pay.parse_payment_notice(b, h)
    # A payment callback is not a refund's, nor the other way round.
    with pytest.raises(InvalidNotification):
        pay.parse_refund_notice(body, headers)
    # Another merchant's keys cannot open it.
    other_dir = ensure_keys(key_dir.parent / f"other-{uuid.uuid4().hex[:6]}").directory
    stranger = gateway(fake, other_dir)
    with pytest.raises(InvalidNotification):
        stranger.parse_payment_notice(body, headers)


def test_a_qr_payment_is_scanned_and_an_unknown_trade_reads_unpaid(fake, key_dir):
    pay = gateway(fake, key_dir)
    number, started = new_trade(pay, channel="wechat_qr")
    assert started.code_url.startswith("weixin://wxpay/bizpayurl") and started.client_params is None
    assert control(fake, "scan", code_url=started.code_url, user="villager").status_code == 200
    assert pay.query(number).state == "paid"
    assert pay.query("Tnever-created-0001").state == "unpaid"
    pay.close("Tnever-created-0001")  # ORDER_NOT_EXIST: nothing to close, no error


def test_close_makes_a_trade_unpayable_and_a_paid_trade_cannot_be_closed(fake, key_dir):
    pay = gateway(fake, key_dir)
    number, _ = new_trade(pay)
    pay.close(number)
    pay.close(number)  # closing twice is quiet
    assert pay.query(number).state == "closed"
    assert control(fake, "pay", out_trade_no=number).status_code == 409

    paid, _ = new_trade(pay)
    control(fake, "pay", out_trade_no=paid, notify="missing")
    with pytest.raises(AlreadyPaid) as refused:
        pay.close(paid)
    assert not refused.value.retryable


def test_a_refund_is_accepted_then_settles_and_is_notified(fake, key_dir, callbacks):
    pay = gateway(fake, key_dir, callbacks)
    number, _ = new_trade(pay)
    control(fake, "pay", out_trade_no=number, notify="missing")
    refund = RefundRequest(number, "R" + number, 25000, 10000, "重复缴费退款")
    accepted = pay.refund(refund)
    assert (accepted.state, accepted.refund_fen, accepted.order_no) == ("processing", 10000, number)
    assert pay.refund(refund).platform_refund_id == accepted.platform_refund_id  # same refund

    control(fake, "refunds/settle", out_refund_no="R" + number)
    settled = pay.query_refund("R" + number)
    assert (settled.state, settled.refund_fen, settled.order_no) == ("succeeded", 10000, number)
    headers, body = callbacks.wait(1)[0]
    noticed = pay.parse_refund_notice(body, headers)
    assert (noticed.refund_no, noticed.state, noticed.refund_fen) == (
        "R" + number,
        "succeeded",
        10000,
    )
    assert noticed.succeeded_at == settled.succeeded_at
    with pytest.raises(GatewayError) as unknown:
        pay.query_refund("Rnever-made-0001")
    assert not unknown.value.retryable


def test_failures_are_told_apart(fake, key_dir):
    with pytest.raises(GatewayError) as unreachable:
        gateway(fake, key_dir, base_url="http://127.0.0.1:9").query("Tanything-0001")
    assert unreachable.value.retryable

    control(fake, "faults", pay_systemerror=True)
    try:
        with pytest.raises(GatewayError) as busy:
            new_trade(gateway(fake, key_dir))
    finally:
        control(fake, "faults", pay_systemerror=False)
    assert (busy.value.code, busy.value.retryable) == ("SYSTEM_ERROR", True)

    # Signed with a merchant key the platform does not know: refused, and not worth a retry.
    other = v3_keys.load(str(ensure_keys(key_dir.parent / f"o-{uuid.uuid4().hex[:6]}").directory))
    ours = v3_keys.load(str(key_dir))
    impostor = gateway(fake, key_dir, keys=replace(ours, merchant_key=other.merchant_key))
    with pytest.raises(GatewayError) as refused:
        impostor.query("Tanything-0001")
    assert (refused.value.code, refused.value.retryable) == ("SIGN_ERROR", False)

    # A reply signed by someone other than WeChat Pay is never believed.
    wrong_platform = gateway(fake, key_dir, keys=replace(ours, public_key=other.public_key))
    with pytest.raises(GatewayError) as forged:
        new_trade(wrong_platform)
    assert "signature" in str(forged.value)


def test_the_bill_of_a_day_is_fetched_checked_and_read_as_plain_rows(fake, key_dir, tmp_path):
    pay = gateway(fake, key_dir)
    number, _ = new_trade(pay, total_fen=12345)
    control(fake, "pay", out_trade_no=number, notify="missing")
    text = pay.download_bill(datetime.now(BEIJING).date())
    path = tmp_path / "bill.csv"
    path.write_text(text, encoding="utf-8")
    rows = pay.read_bill(path).frame()
    row = rows.filter(rows["order_no"] == number).row(0, named=True)
    assert (row["paid_fen"], row["is_refund"]) == (12345, False)
    assert pay.download_bill((datetime.now(BEIJING) - timedelta(days=40)).date()) is None


def test_the_factory_builds_the_api_asked_for_and_names_missing_keys(fake, key_dir, tmp_path):
    cfg = Config(FAKE_WECHAT_URL=fake.url, WECHAT_PAY_API="v3", WECHAT_V3_KEY_DIR=str(key_dir))
    assert isinstance(gateway_from_config(cfg), WeChatPayV3Gateway)
    assert not isinstance(gateway_from_config(cfg, "v2"), WeChatPayV3Gateway)
    (tmp_path / "partial").mkdir()
    cfg.WECHAT_V3_KEY_DIR = str(tmp_path / "partial")
    with pytest.raises(v3_keys.KeyProblem) as missing:
        gateway_from_config(cfg)
    assert "merchant_key.pem is missing" in str(missing.value)
    cfg.WECHAT_PAY_API = "v4"
    with pytest.raises(ValueError, match="v2 or v3"):
        gateway_from_config(cfg)


def test_the_acknowledgement_is_what_v3_reads(fake, key_dir):
    pay = gateway(fake, key_dir)
    assert pay.acknowledgement(True) == (b"", "text/plain")
    body, content_type = pay.acknowledgement(False, "签名错误")
    assert content_type == "application/json" and json.loads(body)["code"] == "FAIL"

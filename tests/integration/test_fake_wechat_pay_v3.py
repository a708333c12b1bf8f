"""The fake WeChat Pay API v3, driven over real HTTP by wechatpayv3 2.0.4 as the backend drives it.

The client runs in public-key mode (it never fetches /v3/certificates) with its gateway repointed
at the fake, and verifies every 2xx answer's signature itself: a reply the fake signed wrongly
makes the call raise. Callbacks are checked with wechatpayv3's own `callback` (signature and
AES-256-GCM), as a merchant checks them.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from flask import Flask, request
from wechatpayv3 import WeChatPay, WeChatPayType

from backend.config import Config
from fakes.wechat.server import create_app as create_fake_wechat
from fakes.wechat.v3keys import ensure_keys
from tests.support.servers import ServerThread

SCALE = 0.01  # WeChat's 15 s first retry becomes 0.15 s
REFUND_SETTLE_S = 30  # PROCESSING for 0.3 s at this scale
CONFIG = Config()
APPID, MCH_ID = CONFIG.WECHAT_APPID, CONFIG.WECHAT_MCH_ID
OPENID = "oPayer000000000000000000003"
BEIJING = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return ensure_keys(tmp_path_factory.mktemp("v3keys"))


@pytest.fixture(scope="module")
def fake(keys):
    app = create_fake_wechat(
        time_scale=SCALE,
        refund_settle_seconds=REFUND_SETTLE_S,
        notify_timeout=2,
        v3_keys_dir=str(keys.directory),
    )
    with ServerThread(app) as server:
        yield server
    app.extensions["fake_wechat"].close()


@pytest.fixture(autouse=True)
def clean(fake):
    requests.post(f"{fake.url}/_control/reset", timeout=5)
    yield
    requests.post(f"{fake.url}/_control/reset", timeout=5)


class Receiver:
    """A merchant's notify_url: records each POST's headers and body, answers `statuses` in turn
    (then the last one again)."""

    def __init__(self) -> None:
        self.statuses = [204]
        self.hits: list[tuple[dict[str, str], bytes]] = []
        self._lock = threading.Lock()
        app = Flask("merchant")

        @app.post("/notify")
        def receive():
            with self._lock:
                self.hits.append((dict(request.headers), request.get_data()))
                status = self.statuses[min(len(self.hits), len(self.statuses)) - 1]
            return ("", status) if status == 204 else ({"code": "FAIL"}, status)

        self.server = ServerThread(app)
        self.url = self.server.url + "/notify"

    def clear(self) -> None:
        with self._lock:
            self.statuses = [204]
            self.hits.clear()

    def wait_for(self, count: int, timeout: float = 3.0) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.hits) >= count:
                    break
            time.sleep(0.01)
        with self._lock:
            return list(self.hits)


@pytest.fixture(scope="module")
def merchant():
    r = Receiver()
    with r.server:
        yield r


@pytest.fixture
def receiver(merchant):
    merchant.clear()
    return merchant


def client(fake, keys, kind=WeChatPayType.MINIPROG, notify_url=None, private_key=None):
    pay = WeChatPay(
        wechatpay_type=kind,
        mchid=MCH_ID,
        private_key=private_key or keys.merchant_key_pem,
        cert_serial_no=keys.merchant_serial,
        appid=APPID,
        apiv3_key=keys.apiv3_key,
        notify_url=notify_url or "http://127.0.0.1:9/wechat/v3/notify",
        public_key=keys.platform_public_pem,
        public_key_id=keys.platform_key_id,
        timeout=(3, 10),
    )
    pay._core._gate_way = fake.url  # the library's only host setting (private, no trailing /)
    return pay


@pytest.fixture
def wxpay(fake, keys, receiver):
    return client(fake, keys, notify_url=receiver.url)


def new_no(prefix: str = "V3") -> str:
    return prefix + uuid.uuid4().hex[:20]


def order(wxpay: WeChatPay, no: str, fen: int = 30000, **extra) -> tuple[int, dict]:
    code, text = wxpay.pay(
        description="城乡居民医保",
        out_trade_no=no,
        amount={"total": fen, "currency": "CNY"},
        payer={"openid": OPENID},
        attach="order-1",
        **extra,
    )
    return code, json.loads(text)


def query(wxpay: WeChatPay, **by) -> tuple[int, dict]:
    code, text = wxpay.query(**by)
    return code, json.loads(text)


def control(fake, path: str, **body) -> requests.Response:
    return requests.post(f"{fake.url}/_control/{path}", json=body, timeout=5)


def pay_sign(keys, *parts: str) -> str:
    key = load_pem_private_key(keys.merchant_key_pem.encode(), password=None)
    message = "".join(p + "\n" for p in parts).encode()
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def test_jsapi_order_is_paid_through_request_payment_and_notified_in_v3_form(
    fake, keys, wxpay, receiver
):
    no = new_no()
    code, answer = order(wxpay, no)
    assert code == 200 and answer["prepay_id"].startswith("wx")
    assert query(wxpay, out_trade_no=no)[1]["trade_state"] == "NOTPAY"

    # The mini-program's wx.requestPayment with an RSA paySign made by the merchant key.
    timestamp, nonce, package = (
        str(int(time.time())),
        uuid.uuid4().hex,
        f"prepay_id={answer['prepay_id']}",
    )
    params = {"timeStamp": timestamp, "nonceStr": nonce, "package": package, "signType": "RSA"}
    forged = control(
        fake, "request-payment", **params, paySign=pay_sign(keys, APPID, timestamp, nonce, "x")
    )
    assert forged.status_code == 400
    assert forged.json()["errMsg"] == "requestPayment:fail 支付验证签名失败"
    # wechatpayv3's own sign() makes the paySign the backend hands the mini-program.
    signed = wxpay.sign([APPID, timestamp, nonce, package])
    paid = control(fake, "request-payment", appId=APPID, **params, paySign=signed)
    assert paid.status_code == 200, paid.text
    assert paid.json()["errMsg"] == "requestPayment:ok"

    headers, body = receiver.wait_for(1)[0]
    assert headers["Content-Type"] == "application/json"
    assert headers["Wechatpay-Serial"] == keys.platform_key_id
    notice = wxpay.callback(headers, body)
    assert notice is not None, "the callback must verify and decrypt with the merchant's keys"
    assert notice["event_type"] == "TRANSACTION.SUCCESS"
    assert notice["resource_type"] == "encrypt-resource"
    resource = notice["resource"]
    assert resource["out_trade_no"] == no and resource["trade_state"] == "SUCCESS"
    assert resource["amount"]["total"] == 30000 and resource["amount"]["payer_total"] == 30000
    assert resource["payer"]["openid"] == OPENID and resource["attach"] == "order-1"
    assert datetime.fromisoformat(resource["success_time"]).utcoffset() == timedelta(hours=8)
    # The encrypted envelope is what WeChat sends: AEAD_AES_256_GCM, 12-character nonce.
    sealed = json.loads(body)["resource"]
    assert sealed["algorithm"] == "AEAD_AES_256_GCM" and len(sealed["nonce"]) == 12
    assert sealed["associated_data"] == "transaction" == sealed["original_type"]

    # A tampered body no longer verifies.
    assert wxpay.callback(headers, body.replace(b"TRANSACTION", b"TRANSACTIOM")) is None

    code, state = query(wxpay, transaction_id=resource["transaction_id"])
    assert code == 200 and state["trade_state"] == "SUCCESS"
    assert state["out_trade_no"] == no and state["payer"] == {"openid": OPENID}


def test_native_order_is_scanned_and_its_callback_retried_until_acknowledged(fake, keys, receiver):
    receiver.statuses = [500, 200, 204]  # the first answer fails: WeChat retries after 15 s
    native = client(fake, keys, kind=WeChatPayType.NATIVE, notify_url=receiver.url)
    no = new_no()
    code, text = native.pay(description="城乡居民养老", out_trade_no=no, amount={"total": 18000})
    assert code == 200
    code_url = json.loads(text)["code_url"]
    assert code_url.startswith("weixin://wxpay/bizpayurl?pr=")

    assert control(fake, "scan", code_url=code_url, user="villager").status_code == 200
    hits = receiver.wait_for(3, timeout=3)
    time.sleep(0.5)  # an acknowledged callback is not sent again
    assert len(receiver.wait_for(3)) == 2
    first, second = hits[0], hits[1]
    assert first[1] == second[1], "a retry carries the same event"
    assert native.callback(*second)["resource"]["trade_type"] == "NATIVE"
    attempts = requests.get(f"{fake.url}/_control/trades/{no}", timeout=5).json()["notify_attempts"]
    assert [(a["status"], a["acknowledged"]) for a in attempts] == [(500, False), (200, True)]


def test_reorder_is_idempotent_and_other_terms_are_refused(wxpay):
    no = new_no()
    code, first = order(wxpay, no)
    assert code == 200
    assert order(wxpay, no) == (200, first)
    code, error = order(wxpay, no, fen=30001)
    assert code == 403 and error["code"] == "OUT_TRADE_NO_USED"


def test_order_input_is_checked(fake, keys, wxpay):
    code, error = order(wxpay, "short")
    assert code == 400 and error["code"] == "PARAM_ERROR"
    code, error = order(wxpay, new_no(), time_expire="20261204100000")
    assert code == 400 and error["code"] == "PARAM_ERROR" and "RFC 3339" in error["message"]
    other_app = client(fake, keys)
    other_app._appid = "wx0000000000000000"
    code, error = order(other_app, new_no())
    assert code == 400 and error["code"] == "APPID_MCHID_NOT_MATCH"


def test_an_order_past_its_time_expire_is_closed(wxpay):
    no = new_no()
    soon = (datetime.now(BEIJING) + timedelta(seconds=2)).isoformat(timespec="seconds")
    assert order(wxpay, no, time_expire=soon)[0] == 200
    assert query(wxpay, out_trade_no=no)[1]["trade_state"] == "NOTPAY"
    time.sleep(2.2)
    assert query(wxpay, out_trade_no=no)[1]["trade_state"] == "CLOSED"


def test_close_answers_a_signed_204_and_a_paid_order_cannot_be_closed(fake, wxpay):
    no = new_no()
    order(wxpay, no)
    code, body = wxpay.close(out_trade_no=no)  # a 204 is verified too: an unsigned one raises
    assert (code, body) == (204, b"")
    assert query(wxpay, out_trade_no=no)[1]["trade_state"] == "CLOSED"
    paid = control(fake, "pay", out_trade_no=no)
    assert paid.status_code == 409 and paid.json()["err_code"] == "ORDERCLOSED"

    other = new_no()
    order(wxpay, other)
    assert control(fake, "pay", out_trade_no=other, notify="missing").status_code == 200
    code, text = wxpay.close(out_trade_no=other)
    assert code == 400 and json.loads(text)["code"] == "ORDERPAID"


def test_unknown_order_is_404_order_not_exist(wxpay):
    code, error = query(wxpay, out_trade_no=new_no())
    assert code == 404 and error["code"] == "ORDER_NOT_EXIST"
    code, text = wxpay.close(out_trade_no=new_no())
    assert code == 404 and json.loads(text)["code"] == "ORDER_NOT_EXIST"


def test_refund_processes_then_succeeds_and_is_notified(fake, wxpay, receiver):
    no = new_no()
    order(wxpay, no, fen=30000)
    control(fake, "pay", out_trade_no=no, notify="missing")
    code, text = wxpay.refund(
        out_refund_no="R" + no, amount={"refund": 10000, "total": 30000, "currency": "CNY"},
        out_trade_no=no, reason="多缴退费",
    )  # fmt: skip
    assert code == 200, text
    made = json.loads(text)
    assert made["status"] == "PROCESSING" and made["amount"]["refund"] == 10000

    # The same out_refund_no again is the same refund; other amounts under it are refused.
    again = wxpay.refund(
        out_refund_no="R" + no, amount={"refund": 10000, "total": 30000}, out_trade_no=no
    )
    assert again[0] == 200 and json.loads(again[1])["refund_id"] == made["refund_id"]
    other = wxpay.refund(
        out_refund_no="R" + no, amount={"refund": 9000, "total": 30000}, out_trade_no=no
    )
    assert other[0] == 400 and json.loads(other[1])["code"] == "INVALID_REQUEST"
    # Cumulative refunds never exceed the payment.
    over = wxpay.refund(
        out_refund_no="S" + no, amount={"refund": 20001, "total": 30000}, out_trade_no=no
    )
    assert over[0] == 400 and json.loads(over[1])["code"] == "INVALID_REQUEST"

    headers, body = receiver.wait_for(1, timeout=3)[0]
    notice = wxpay.callback(headers, body)
    assert notice["event_type"] == "REFUND.SUCCESS"
    resource = notice["resource"]
    assert resource["out_refund_no"] == "R" + no and resource["refund_status"] == "SUCCESS"
    assert resource["amount"] == {
        "total": 30000,
        "refund": 10000,
        "payer_total": 30000,
        "payer_refund": 10000,
    }
    assert json.loads(body)["resource"]["associated_data"] == "refund"

    code, text = wxpay.query_refund(out_refund_no="R" + no)
    assert code == 200 and json.loads(text)["status"] == "SUCCESS"
    assert query(wxpay, out_trade_no=no)[1]["trade_state"] == "REFUND"
    code, text = wxpay.query_refund(out_refund_no="R" + new_no())
    assert code == 404 and json.loads(text)["code"] == "RESOURCE_NOT_EXISTS"


def test_refund_of_an_unpaid_order_is_refused(wxpay):
    no = new_no()
    order(wxpay, no)
    code, text = wxpay.refund(
        out_refund_no="R" + no, amount={"refund": 1, "total": 30000}, out_trade_no=no
    )
    assert code == 404 and json.loads(text)["code"] == "RESOURCE_NOT_EXISTS"


def test_trade_bill_matches_the_v2_bill_gzipped_and_hashed(fake, wxpay):
    v2_no, no = new_no("B2"), new_no()
    order(wxpay, no, fen=12345)
    control(fake, "pay", out_trade_no=no, notify="missing")
    day = datetime.now(BEIJING).strftime("%Y-%m-%d")

    code, text = wxpay.trade_bill(bill_date=day)  # the library asks for GZIP by default
    assert code == 200
    answer = json.loads(text)
    assert answer["hash_type"] == "SHA1" and answer["download_url"].startswith(fake.url + "/v3/")
    code, packed = wxpay.download_bill(answer["download_url"])
    assert code == 200
    bill = gzip.decompress(packed)
    assert hashlib.sha1(bill).hexdigest() == answer["hash_value"]
    lines = bill.decode().split("\r\n")
    assert lines[0].startswith("交易时间,公众账号ID,商户号")
    assert any(f",`{no}," in line and ",`123.45," in line for line in lines)
    assert v2_no not in bill.decode()

    code, text = wxpay.trade_bill(bill_date=day, tar_type="")
    code, plain = wxpay.download_bill(json.loads(text)["download_url"])
    assert plain == bill, "the plain download is the same bill"

    tomorrow = (datetime.now(BEIJING) + timedelta(days=1)).strftime("%Y-%m-%d")
    code, text = wxpay.trade_bill(bill_date=tomorrow)
    assert code == 400 and json.loads(text)["code"] == "NO_STATEMENT_EXIST"
    code, text = wxpay.trade_bill(bill_date="2020-01-01")
    assert code == 400 and json.loads(text)["code"] == "NO_STATEMENT_EXIST"
    code, text = wxpay.trade_bill(bill_date="20200101")
    assert code == 400 and json.loads(text)["code"] == "PARAM_ERROR"


def test_the_v2_and_v3_bills_of_a_day_are_the_same_text(fake, wxpay):
    from wechatpy.pay import WeChatPay as WeChatPayV2

    no = new_no()
    order(wxpay, no, fen=500)
    control(fake, "pay", out_trade_no=no, notify="missing")
    v2 = WeChatPayV2(APPID, CONFIG.WECHAT_API_KEY, MCH_ID)
    v2.API_BASE_URL = fake.url + "/"
    today = datetime.now(BEIJING)
    v2_bill = v2.tools.download_bill(today.date())
    _, text = wxpay.trade_bill(bill_date=today.strftime("%Y-%m-%d"), tar_type="")
    assert wxpay.download_bill(json.loads(text)["download_url"])[1] == v2_bill.encode()


def test_bad_signatures_are_401_sign_error(fake, keys, wxpay):
    no = new_no()
    order(wxpay, no)
    path = f"/v3/pay/transactions/out-trade-no/{no}?mchid={MCH_ID}"
    good = wxpay._core  # a request signed by the library, then tampered with
    from wechatpayv3.utils import build_authorization

    auth = build_authorization(path, "GET", MCH_ID, keys.merchant_serial, good._private_key)
    ok = requests.get(fake.url + path, headers={"Authorization": auth}, timeout=5)
    assert ok.status_code == 200
    tampered = requests.get(
        fake.url + path.replace(MCH_ID, MCH_ID + "0"), headers={"Authorization": auth}, timeout=5
    )
    assert tampered.status_code == 401 and tampered.json()["code"] == "SIGN_ERROR"
    missing = requests.get(fake.url + path, timeout=5)
    assert missing.status_code == 401 and missing.json()["code"] == "SIGN_ERROR"
    wrong_serial = build_authorization(path, "GET", MCH_ID, "0" * 40, good._private_key)
    assert (
        requests.get(
            fake.url + path, headers={"Authorization": wrong_serial}, timeout=5
        ).status_code
        == 401
    )

    then, nonce = str(int(time.time()) - 400), uuid.uuid4().hex
    stale = (
        f'WECHATPAY2-SHA256-RSA2048 mchid="{MCH_ID}",nonce_str="{nonce}",'
        f'signature="{pay_sign(keys, "GET", path, then, nonce, "")}",'
        f'timestamp="{then}",serial_no="{keys.merchant_serial}"'
    )
    refused = requests.get(fake.url + path, headers={"Authorization": stale}, timeout=5)
    assert refused.status_code == 401, "a request signed 400 s ago is refused"

    # A client holding another merchant key is refused too (through the library).
    stranger = ensure_keys(keys.directory / "stranger")
    impostor = client(fake, keys, private_key=stranger.merchant_key_pem)
    code, text = impostor.query(out_trade_no=no)
    assert code == 401 and json.loads(text)["code"] == "SIGN_ERROR"


def test_replies_signed_with_another_platform_key_are_rejected_by_the_client(fake, keys, tmp_path):
    """The library really verifies: with the wrong WeChat Pay public key every 2xx call raises."""
    stranger = ensure_keys(tmp_path)
    pay = client(fake, keys)
    pay._core._public_key = client(fake, stranger)._core._public_key
    with pytest.raises(Exception, match="failed to verify the signature"):
        pay.pay(
            description="城乡居民医保",
            out_trade_no=new_no(),
            amount={"total": 100},
            payer={"openid": OPENID},
        )


def test_v3_routes_are_off_without_keys():
    app = create_fake_wechat()
    try:
        assert app.test_client().post("/v3/pay/transactions/jsapi", json={}).status_code == 404
    finally:
        app.extensions["fake_wechat"].close()


def test_duplicate_callbacks_are_each_signed_afresh(fake, wxpay, receiver):
    no = new_no()
    order(wxpay, no)
    assert control(fake, "pay", out_trade_no=no, notify="twice").status_code == 200
    hits = receiver.wait_for(2)
    assert len(hits) == 2 and hits[0][1] == hits[1][1], "the same event, delivered twice"
    assert hits[0][0]["Wechatpay-Nonce"] != hits[1][0]["Wechatpay-Nonce"]
    assert all(wxpay.callback(*hit)["resource"]["out_trade_no"] == no for hit in hits)
    # The operator's replay goes out in v3 form as well.
    assert control(fake, "notify", out_trade_no=no).status_code == 200
    third = receiver.wait_for(3)[2]
    assert wxpay.callback(*third)["event_type"] == "TRANSACTION.SUCCESS"

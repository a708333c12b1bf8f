"""The fake WeChat Pay v2 server, driven over real HTTP by wechatpy 1.8.18 as the backend drives it.

If the fake answers unlike WeChat, the payment adapter's tests prove nothing, so these tests hold
it to the protocol: signatures both ways, order and refund rules, the bill text, the sandbox key,
and notifications retried on WeChat's schedule (scaled down 100 times) until acknowledged.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

import pytest
import requests
import xmltodict
from flask import Flask, request
from wechatpy.exceptions import InvalidSignatureException, WeChatPayException
from wechatpy.pay import WeChatPay
from wechatpy.pay.utils import calculate_signature, calculate_signature_hmac

from backend.config import Config
from fakes.wechat.server import create_app as create_fake_wechat
from fakes.wechat.state import PlatformState
from tests.support import running
from tests.support.servers import ServerThread

SCALE = 0.01  # WeChat's 15 s first retry becomes 0.15 s
REFUND_SETTLE_S = 30  # PROCESSING for 0.3 s at this scale
CONFIG = Config()
APPID, MCH_ID, API_KEY = CONFIG.WECHAT_APPID, CONFIG.WECHAT_MCH_ID, CONFIG.WECHAT_API_KEY
BEIJING = timedelta(hours=8)
OK = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
FAIL = "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[busy]]></return_msg></xml>"


def start_fake(**options):
    app = create_fake_wechat(
        time_scale=SCALE, refund_settle_seconds=REFUND_SETTLE_S, notify_timeout=2, **options
    )
    return app, ServerThread(app)


@pytest.fixture(scope="module")
def fake():
    app, server = start_fake()
    with server:
        yield server
    app.extensions["fake_wechat"].close()


@pytest.fixture(autouse=True)
def clean(fake):
    requests.post(f"{fake.url}/_control/reset", timeout=5)
    yield
    requests.post(f"{fake.url}/_control/reset", timeout=5)


class Receiver:
    """A merchant's notify_url: records every POST; answers FAIL to the first `failures`, and
    with `status` instead of 200 when set."""

    def __init__(self) -> None:
        self.failures = 0
        self.status = 200
        self.hits: list[tuple[float, str, bytes]] = []
        self._lock = threading.Lock()
        app = Flask("merchant")

        @app.post("/<kind>")
        def receive(kind: str):
            with self._lock:
                self.hits.append((time.monotonic(), kind, request.get_data()))
                failing = len(self.hits) <= self.failures
            return (FAIL if failing else OK), self.status, {"Content-Type": "text/xml"}

        self.server = ServerThread(app)
        self.url = self.server.url

    def clear(self) -> None:
        with self._lock:
            self.failures, self.status = 0, 200
            self.hits.clear()

    def bodies(self, kind: str = "notify") -> list[bytes]:
        with self._lock:
            return [body for _, k, body in self.hits if k == kind]

    def times(self) -> list[float]:
        with self._lock:
            return [at for at, _, _ in self.hits]

    def wait_for(self, count: int, kind: str = "notify", timeout: float = 3.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while len(self.bodies(kind)) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.bodies(kind)


@pytest.fixture(scope="module")
def merchant():
    r = Receiver()
    with r.server:
        yield r


@pytest.fixture
def receiver(merchant):
    merchant.clear()
    return merchant


def wechat_pay(server, sandbox: bool = False, api_key: str = API_KEY) -> WeChatPay:
    pay = WeChatPay(APPID, api_key, MCH_ID, sandbox=sandbox)
    pay.API_BASE_URL = server.url + "/"
    return pay


def new_no(prefix: str = "SI") -> str:
    return prefix + uuid.uuid4().hex[:20]


def jsapi(pay: WeChatPay, no: str | None = None, fen: int = 30000, **extra) -> dict:
    extra.setdefault("notify_url", "http://127.0.0.1:9/wechat/notify")
    return pay.order.create(
        "JSAPI",
        "城乡居民医保",
        fen,
        client_ip="127.0.0.1",
        user_id="oPayer000000000000000000001",
        out_trade_no=no or new_no(),
        attach="order-1",
        **extra,
    )


def native(pay: WeChatPay, no: str, fen: int = 18000) -> dict:
    return pay.order.create(
        "NATIVE",
        "城乡居民养老",
        fen,
        "http://127.0.0.1:9/wechat/notify",
        client_ip="127.0.0.1",
        product_id="pension-2025",
        out_trade_no=no,
    )


def control(server, path: str, **body) -> requests.Response:
    return requests.post(f"{server.url}/_control/{path}", json=body, timeout=5)


def trade_view(server, no: str) -> dict:
    return requests.get(f"{server.url}/_control/trades/{no}", timeout=5).json()


wait_until = partial(running.wait_until, timeout=3.0, every=0.01)


def refused(call) -> WeChatPayException:
    with pytest.raises(WeChatPayException) as info:
        call()
    return info.value


def raw_post(server, path: str, params: dict, key: str = API_KEY, sign: str | None = None):
    """A hand-built request (not through wechatpy), signed MD5 unless `sign` is given."""
    params = {"mch_id": MCH_ID, "nonce_str": uuid.uuid4().hex, **params}
    params["sign"] = sign if sign is not None else calculate_signature(params, key)
    body = "<xml>" + "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in params.items()) + "</xml>"
    answer = requests.post(f"{server.url}/{path}", data=body.encode(), timeout=5)
    return answer, xmltodict.parse(answer.text)["xml"]


# -- orders ------------------------------------------------------------------------------------


def test_a_jsapi_order_gets_a_prepay_id_in_a_signed_reply(fake):
    answer = jsapi(wechat_pay(fake))
    assert answer["prepay_id"].startswith("wx") and len(answer["prepay_id"]) == 36
    assert answer["trade_type"] == "JSAPI"
    assert (answer["appid"], answer["mch_id"]) == (APPID, MCH_ID)
    assert answer["nonce_str"]
    fields = {k: v for k, v in answer.items() if k != "sign"}
    assert answer["sign"] == calculate_signature(fields, API_KEY)


def test_a_native_order_gets_a_code_url(fake):
    answer = native(wechat_pay(fake), new_no())
    assert answer["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")
    assert answer["trade_type"] == "NATIVE"


def test_an_hmac_request_gets_an_hmac_signed_reply(fake):
    answer = jsapi(wechat_pay(fake), sign_type="HMAC-SHA256")
    fields = {k: v for k, v in answer.items() if k != "sign"}
    assert len(answer["sign"]) == 64
    assert answer["sign"] == calculate_signature_hmac(fields, API_KEY)


def test_repeating_an_order_gives_the_same_prepay_id_unless_its_terms_changed(fake):
    pay, no = wechat_pay(fake), new_no()
    first = jsapi(pay, no)
    assert jsapi(pay, no)["prepay_id"] == first["prepay_id"]
    code = native(pay, no2 := new_no())["code_url"]
    assert native(pay, no2)["code_url"] == code

    changed = refused(lambda: jsapi(pay, no, fen=30001))
    assert (changed.result_code, changed.errcode) == ("FAIL", "OUT_TRADE_NO_USED")


def test_concurrent_identical_orders_make_one_trade(fake):
    pay, no = wechat_pay(fake), new_no()
    results: list[str] = []

    def create():
        results.append(jsapi(pay, no)["prepay_id"])

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and len(set(results)) == 1


def test_a_paid_order_cannot_be_ordered_or_closed_again(fake):
    pay, no = wechat_pay(fake), new_no()
    jsapi(pay, no)
    assert control(fake, "pay", out_trade_no=no, notify="missing").status_code == 200
    assert refused(lambda: jsapi(pay, no)).errcode == "ORDERPAID"
    assert refused(lambda: pay.order.close(no)).errcode == "ORDERPAID"
    assert control(fake, "pay", out_trade_no=no).status_code == 409


def test_closing_an_order_and_what_follows(fake):
    pay, no = wechat_pay(fake), new_no()
    jsapi(pay, no)
    assert pay.order.close(no)["result_code"] == "SUCCESS"
    assert pay.order.query(out_trade_no=no)["trade_state"] == "CLOSED"
    assert refused(lambda: jsapi(pay, no)).errcode == "ORDERCLOSED"
    assert refused(lambda: pay.order.close(no)).errcode == "ORDERCLOSED"
    assert refused(lambda: pay.order.close(new_no())).errcode == "ORDERNOTEXIST"
    assert control(fake, "pay", out_trade_no=no).status_code == 409

    # The payment that went through just as the order closed.
    forced = control(fake, "pay", out_trade_no=no, force=True, notify="missing")
    assert forced.status_code == 200
    assert pay.order.query(out_trade_no=no)["trade_state"] == "SUCCESS"


def test_an_order_past_its_time_expire_is_closed(fake):
    pay, no = wechat_pay(fake), new_no()
    now = datetime.utcnow() + BEIJING  # naive Beijing time, as wechatpy sends it
    jsapi(pay, no, time_start=now - timedelta(minutes=10), time_expire=now - timedelta(seconds=1))
    assert pay.order.query(out_trade_no=no)["trade_state"] == "CLOSED"
    assert refused(lambda: jsapi(pay, no)).errcode == "ORDERCLOSED"
    assert control(fake, "pay", out_trade_no=no).status_code == 409


def test_order_query_reports_states_and_paid_fields(fake):
    pay, no = wechat_pay(fake), new_no()
    jsapi(pay, no)
    unpaid = pay.order.query(out_trade_no=no)
    assert (unpaid["trade_state"], unpaid["attach"]) == ("NOTPAY", "order-1")
    assert "transaction_id" not in unpaid

    paid = control(fake, "pay", out_trade_no=no, notify="missing").json()
    assert paid["trade_state"] == "SUCCESS"
    answer = pay.order.query(out_trade_no=no)
    assert answer["trade_state"] == "SUCCESS"
    assert answer["transaction_id"] == paid["transaction_id"]
    assert len(answer["transaction_id"]) == 28 and answer["transaction_id"].startswith("42")
    assert answer["openid"] == "oPayer000000000000000000001"
    assert (answer["total_fee"], answer["cash_fee"], answer["trade_type"]) == (
        "30000",
        "30000",
        "JSAPI",
    )
    time_end = datetime.strptime(answer["time_end"], "%Y%m%d%H%M%S")
    assert abs(time_end - (datetime.utcnow() + BEIJING)) < timedelta(seconds=5)
    fields = {k: v for k, v in answer.items() if k != "sign"}
    assert answer["sign"] == calculate_signature(fields, API_KEY)

    # transaction_id wins over out_trade_no.
    by_id = pay.order.query(transaction_id=paid["transaction_id"], out_trade_no="nonexistent")
    assert by_id["out_trade_no"] == no
    assert refused(lambda: pay.order.query(out_trade_no=new_no())).errcode == "ORDERNOTEXIST"


@pytest.mark.parametrize(
    ("change", "err_code"),
    [
        ({"out_trade_no": "SI123"}, "PARAM_ERROR"),  # shorter than 6
        ({"out_trade_no": "SI-2025/01"}, "PARAM_ERROR"),  # "/" not allowed
        ({"total_fee": -5}, "PARAM_ERROR"),
        ({"user_id": None}, "PARAM_ERROR"),  # JSAPI without openid
        ({"notify_url": "http://127.0.0.1:9/notify?order=1"}, "PARAM_ERROR"),
        ({"notify_url": ""}, "LACK_PARAMS"),
        ({"body": ""}, "LACK_PARAMS"),
    ],
)
def test_malformed_orders_are_refused_with_a_reason(fake, change, err_code):
    args = {
        "trade_type": "JSAPI",
        "body": "城乡居民医保",
        "total_fee": 100,
        "notify_url": "http://127.0.0.1:9/notify",
        "client_ip": "127.0.0.1",
        "user_id": "oPayer",
        "out_trade_no": new_no(),
        **change,
    }
    error = refused(lambda: wechat_pay(fake).order.create(**args))
    assert (error.result_code, error.errcode) == ("FAIL", err_code)
    assert error.errmsg


def test_a_native_order_needs_a_product_id(fake):
    pay = wechat_pay(fake)
    error = refused(
        lambda: pay.order.create("NATIVE", "b", 100, "http://127.0.0.1:9/n", client_ip="127.0.0.1")
    )
    assert error.errcode == "PARAM_ERROR"


# -- envelope and signatures -------------------------------------------------------------------


def test_a_wrong_signature_is_refused(fake):
    params = {"appid": APPID, "out_trade_no": new_no()}
    answer, reply = raw_post(fake, "pay/orderquery", params, sign="0" * 32)
    assert answer.status_code == 200
    assert (reply["return_code"], reply["return_msg"]) == ("FAIL", "签名错误")
    assert "sign" not in reply

    _, signed_well = raw_post(fake, "pay/orderquery", params)
    assert signed_well["return_code"] == "SUCCESS"
    assert signed_well["err_code"] == "ORDERNOTEXIST"


def test_the_wrong_key_is_a_signature_error(fake):
    error = refused(lambda: jsapi(wechat_pay(fake, api_key="f" * 32)))
    assert (error.return_code, error.return_msg) == ("FAIL", "签名错误")


def test_unknown_merchant_and_unreadable_bodies_are_refused(fake):
    _, reply = raw_post(fake, "pay/orderquery", {"mch_id": "1234567890", "appid": APPID})
    assert reply["return_code"] == "FAIL"
    for body in (b"", b"{}", b"<xml><mch_id>1"):
        answer = requests.post(f"{fake.url}/pay/orderquery", data=body, timeout=5)
        assert xmltodict.parse(answer.text)["xml"]["return_code"] == "FAIL"


def test_another_appid_does_not_match_the_merchant(fake):
    _, reply = raw_post(fake, "pay/orderquery", {"appid": "wxsomeoneelse", "out_trade_no": "x" * 8})
    assert (reply["result_code"], reply["err_code"]) == ("FAIL", "APPID_MCHID_NOT_MATCH")


# -- refunds -----------------------------------------------------------------------------------


def paid_order(fake, pay, fen: int = 30000, **extra) -> tuple[str, str]:
    no = new_no()
    jsapi(pay, no, fen=fen, **extra)
    paid = control(fake, "pay", out_trade_no=no, notify="missing").json()
    return no, paid["transaction_id"]


def test_refunds_are_accepted_settle_and_add_up_to_the_total_at_most(fake):
    pay = wechat_pay(fake)
    no, transaction_id = paid_order(fake, pay, fen=1000)

    first = pay.refund.apply(1000, 600, "RF" + no, out_trade_no=no)
    assert (first["refund_fee"], first["transaction_id"]) == ("600", transaction_id)
    assert first["refund_id"]
    query = pay.refund.query(out_refund_no="RF" + no)
    assert query["refund_status_0"] == "PROCESSING"
    assert pay.order.query(out_trade_no=no)["trade_state"] == "REFUND"

    # The same refund number again is the same refund, not a second one.
    again = pay.refund.apply(1000, 600, "RF" + no, out_trade_no=no)
    assert again["refund_id"] == first["refund_id"]
    over = refused(lambda: pay.refund.apply(1000, 401, "RG" + no, out_trade_no=no))
    assert (over.result_code, over.errcode) == ("FAIL", "ERROR")
    pay.refund.apply(1000, 400, "RG" + no, transaction_id=transaction_id)

    settled = wait_until(
        lambda: (q := pay.refund.query(out_trade_no=no))["refund_status_1"] == "SUCCESS" and q
    )
    assert settled["refund_count"] == settled["total_refund_count"] == "2"
    assert settled["refund_fee"] == "1000"
    assert [settled[f"out_refund_no_{n}"] for n in (0, 1)] == ["RF" + no, "RG" + no]
    assert [settled[f"refund_fee_{n}"] for n in (0, 1)] == ["600", "400"]
    assert settled["refund_status_0"] == "SUCCESS"
    assert datetime.strptime(settled["refund_success_time_0"], "%Y-%m-%d %H:%M:%S")
    assert settled["refund_recv_accout_0"]
    fields = {k: v for k, v in settled.items() if k != "sign"}
    assert settled["sign"] == calculate_signature(fields, API_KEY)
    assert refused(lambda: pay.refund.apply(1000, 1, "RH" + no, out_trade_no=no)).errcode == "ERROR"


def test_a_refund_can_be_settled_at_once_through_control(fake):
    pay = wechat_pay(fake)
    no, _ = paid_order(fake, pay)
    pay.refund.apply(30000, 30000, "RS" + no, out_trade_no=no)
    settled = control(fake, "refunds/settle", out_refund_no="RS" + no)
    assert settled.json()["refund_status"] == "SUCCESS"
    assert pay.refund.query(out_refund_no="RS" + no)["refund_status_0"] == "SUCCESS"
    assert control(fake, "refunds/settle", out_refund_no="nope").status_code == 404


def test_refunds_need_a_paid_order(fake):
    pay, no = wechat_pay(fake), new_no()
    assert refused(lambda: pay.refund.apply(100, 100, "R" + no, out_trade_no=no)).errcode == (
        "ORDERNOTEXIST"
    )
    jsapi(pay, no, fen=100)
    assert refused(lambda: pay.refund.apply(100, 100, "R" + no, out_trade_no=no)).errcode == (
        "ORDERNOTEXIST"
    )
    pay.order.close(no)
    assert refused(lambda: pay.refund.apply(100, 100, "R" + no, out_trade_no=no)).errcode == (
        "TRADE_STATE_ERROR"
    )
    assert refused(lambda: pay.refund.query(out_trade_no=no)).errcode == "REFUNDNOTEXIST"
    assert refused(lambda: pay.refund.query(out_refund_no="R" + no)).errcode == "REFUNDNOTEXIST"


def test_a_refund_with_a_notify_url_is_announced_encrypted(fake, receiver):
    pay = wechat_pay(fake)
    no, transaction_id = paid_order(fake, pay, fen=500)
    pay.refund.apply(500, 200, "RN" + no, out_trade_no=no, notify_url=receiver.url + "/refund")

    [body] = receiver.wait_for(1, kind="refund")
    outer = xmltodict.parse(body)["xml"]
    assert "sign" not in outer and outer["return_code"] == "SUCCESS"
    details = pay.parse_refund_notify_result(body)
    assert details["out_refund_no"] == "RN" + no
    assert details["transaction_id"] == transaction_id
    assert (details["refund_fee"], details["total_fee"]) == (200, 500)
    assert details["refund_status"] == "SUCCESS"
    assert details["refund_request_source"] == "API"
    attempts = wait_until(lambda: trade_view(fake, no)["refunds"][0]["notify_attempts"])
    assert attempts[0]["acknowledged"] is True


def test_a_refund_system_error_can_be_retried_with_the_same_number(fake):
    pay = wechat_pay(fake)
    no, _ = paid_order(fake, pay, fen=100)
    control(fake, "faults", refund_systemerror=True)
    assert refused(lambda: pay.refund.apply(100, 100, "RX" + no, out_trade_no=no)).errcode == (
        "SYSTEMERROR"
    )
    control(fake, "faults", refund_systemerror=False)
    assert pay.refund.apply(100, 100, "RX" + no, out_trade_no=no)["refund_fee"] == "100"


# -- the bill ----------------------------------------------------------------------------------


class WallClock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def beijing(self) -> datetime:
        return datetime.utcfromtimestamp(self()) + BEIJING


def parse_bill(text: str) -> tuple[list[dict[str, str]], dict[str, Decimal]]:
    """How a reconciler reads the bill: strip the backticks, read money as Decimal yuan."""
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if line]
    header, *rows, summary_header, summary = lines
    records = [
        dict(zip(header.split(","), (v.lstrip("`") for v in r.split(",")), strict=True))
        for r in rows
    ]
    totals = {
        name: Decimal(value.lstrip("`"))
        for name, value in zip(summary_header.split(","), summary.split(","), strict=True)
    }
    return records, totals


def test_the_bill_lists_a_days_payments_and_refunds_with_totals(tmp_path):
    clock = WallClock()
    app, server = start_fake(wall_clock=clock)
    with server:
        pay = wechat_pay(server)

        def paid(fen: int) -> str:
            no = new_no()
            start = clock.beijing()
            jsapi(pay, no, fen=fen, time_start=start, time_expire=start + timedelta(hours=2))
            control(server, "pay", out_trade_no=no, notify="missing")
            return no

        first_day = clock.beijing()
        early = paid(30000)
        paid(1234)
        clock.offset = 86400  # the next Beijing day
        next_day = clock.beijing()
        pay.refund.apply(30000, 10000, "RB" + early, out_trade_no=early)
        control(server, "refunds/settle", out_refund_no="RB" + early)
        late = paid(500)

        text = pay.tools.download_bill(first_day.date())
        assert isinstance(text, str) and "\r\n" in text
        records, totals = parse_bill(text)
        assert len(records[0]) == 27
        assert [r["商户订单号"] for r in records] == [early, records[1]["商户订单号"]]
        assert {r["交易状态"] for r in records} == {"SUCCESS"}
        assert totals["总交易单数"] == 2
        assert totals["应结订单总金额"] == totals["订单总金额"] == Decimal("312.34")
        assert totals["手续费总金额"] == Decimal("1.80") + Decimal("0.07")
        assert totals["退款总金额"] == 0

        records, totals = parse_bill(pay.tools.download_bill(next_day.date()))
        assert [(r["商户订单号"], r["交易状态"]) for r in records] == [
            (early, "REFUND"),
            (late, "SUCCESS"),
        ]
        assert records[0]["交易时间"].startswith(first_day.strftime("%Y-%m-%d"))
        assert records[0]["退款金额"] == "100.00"
        assert totals["退款总金额"] == Decimal("100.00")
        assert totals["应结订单总金额"] == Decimal("5.00")
        assert totals["手续费总金额"] == Decimal("-0.60") + Decimal("0.03")

        refunds, _ = parse_bill(pay.tools.download_bill(next_day.date(), bill_type="REFUND"))
        assert len(refunds) == 1 and len(refunds[0]) == 29
        successes, _ = parse_bill(pay.tools.download_bill(next_day.date(), bill_type="SUCCESS"))
        assert [r["商户订单号"] for r in successes] == [late] and len(successes[0]) == 20

        empty = refused(lambda: pay.tools.download_bill((first_day - timedelta(days=1)).date()))
        assert (empty.return_code, empty.return_msg) == ("FAIL", "No Bill Exist")
        bad = refused(lambda: pay.tools.download_bill("2024-01-05"))
        assert (bad.return_code, bad.return_msg) == ("FAIL", "invalid bill_date")
    app.extensions["fake_wechat"].close()


# -- sandbox -----------------------------------------------------------------------------------


def test_the_sandbox_uses_its_own_key_and_its_own_orders(fake, receiver):
    sandbox = wechat_pay(fake, sandbox=True)
    sandbox_key = sandbox.sandbox_api_key
    assert sandbox_key and sandbox_key != API_KEY
    no = new_no()
    answer = jsapi(sandbox, no, notify_url=receiver.url + "/notify")
    fields = {k: v for k, v in answer.items() if k != "sign"}
    assert answer["sign"] == calculate_signature(fields, sandbox_key)
    assert sandbox.order.query(out_trade_no=no)["trade_state"] == "NOTPAY"
    assert refused(lambda: wechat_pay(fake).order.query(out_trade_no=no)).errcode == "ORDERNOTEXIST"

    # A sandbox path signed with the live key is refused.
    _, reply = raw_post(fake, "sandboxnew/pay/orderquery", {"appid": APPID, "out_trade_no": no})
    assert reply["return_msg"] == "签名错误"

    control(fake, "pay", out_trade_no=no)
    [body] = receiver.wait_for(1)
    assert sandbox.parse_payment_result(body)["out_trade_no"] == no
    with pytest.raises(InvalidSignatureException):
        wechat_pay(fake).parse_payment_result(body)


# -- payment notifications ---------------------------------------------------------------------


def test_a_payment_is_notified_once_with_a_verifiable_signature(fake, receiver):
    pay, no = wechat_pay(fake), new_no()
    jsapi(pay, no, notify_url=receiver.url + "/notify")
    paid = control(fake, "pay", out_trade_no=no).json()

    [body] = receiver.wait_for(1)
    notice = pay.parse_payment_result(body)
    assert notice["result_code"] == notice["return_code"] == "SUCCESS"
    assert notice["out_trade_no"] == no and notice["transaction_id"] == paid["transaction_id"]
    assert (notice["total_fee"], notice["cash_fee"]) == (30000, 30000)
    assert notice["openid"] == "oPayer000000000000000000001"
    assert notice["attach"] == "order-1"
    assert notice["time_end"] == pay.order.query(out_trade_no=no)["time_end"]
    for field in (
        "appid",
        "mch_id",
        "nonce_str",
        "trade_type",
        "bank_type",
        "fee_type",
        "is_subscribe",
    ):
        assert notice[field]
    attempts = wait_until(lambda: trade_view(fake, no)["notify_attempts"])
    assert [(a["status"], a["acknowledged"]) for a in attempts] == [(200, True)]
    time.sleep(0.3)  # an acknowledged notification is not repeated
    assert len(receiver.bodies()) == 1


def test_an_unacknowledged_notification_is_retried_on_the_scaled_schedule(fake, receiver):
    receiver.failures = 3
    pay, no = wechat_pay(fake), new_no()
    jsapi(pay, no, notify_url=receiver.url + "/notify")
    control(fake, "pay", out_trade_no=no)

    bodies = receiver.wait_for(4)
    assert len(bodies) == 4 and len(set(bodies)) == 1
    at = receiver.times()
    gaps = [later - earlier for earlier, later in itertools.pairwise(at)]
    for gap, expected in zip(gaps, (15 * SCALE, 15 * SCALE, 30 * SCALE), strict=True):
        assert expected - 0.02 <= gap <= expected + 0.12, gaps
    attempts = wait_until(lambda: len(v := trade_view(fake, no)["notify_attempts"]) == 4 and v)
    assert [a["acknowledged"] for a in attempts] == [False, False, False, True]
    time.sleep(0.4)
    assert len(receiver.bodies()) == 4


def test_only_http_200_counts_as_an_acknowledgement(fake, receiver):
    receiver.status = 201  # with a SUCCESS body
    pay, no = wechat_pay(fake), new_no()
    jsapi(pay, no, notify_url=receiver.url + "/notify")
    control(fake, "pay", out_trade_no=no)
    assert len(receiver.wait_for(2)) == 2
    attempts = trade_view(fake, no)["notify_attempts"]
    assert attempts[0]["status"] == 201 and attempts[0]["acknowledged"] is False


def test_an_unreachable_notify_url_is_retried(fake):
    pay, no = wechat_pay(fake), new_no()
    jsapi(pay, no)  # notify_url on a closed port
    control(fake, "pay", out_trade_no=no)
    attempts = wait_until(lambda: len(v := trade_view(fake, no)["notify_attempts"]) >= 2 and v)
    assert attempts[0]["status"] is None and attempts[0]["acknowledged"] is False
    assert attempts[0]["error"]


def test_a_missing_notification_leaves_the_order_paid(fake, receiver):
    pay, no = wechat_pay(fake), new_no()
    jsapi(pay, no, notify_url=receiver.url + "/notify")
    control(fake, "pay", out_trade_no=no, notify="missing")
    time.sleep(0.4)
    assert receiver.bodies() == []
    assert pay.order.query(out_trade_no=no)["trade_state"] == "SUCCESS"
    assert trade_view(fake, no)["notify_attempts"] == []


def test_a_notification_can_arrive_twice_at_once(fake, receiver):
    pay, no = wechat_pay(fake), new_no()
    jsapi(pay, no, notify_url=receiver.url + "/notify")
    control(fake, "pay", out_trade_no=no, notify="twice")
    first, second = receiver.wait_for(2)
    assert first == second
    at = receiver.times()
    assert at[1] - at[0] < 0.1
    time.sleep(0.3)
    assert len(receiver.bodies()) == 2


def test_a_late_notification_comes_after_its_delay(fake, receiver):
    pay, no = wechat_pay(fake), new_no()
    jsapi(pay, no, notify_url=receiver.url + "/notify")
    started = time.monotonic()
    control(fake, "pay", out_trade_no=no, notify="late", delay_seconds=0.5)
    assert pay.order.query(out_trade_no=no)["trade_state"] == "SUCCESS"
    [_] = receiver.wait_for(1)
    assert receiver.times()[0] - started >= 0.5


def test_a_notification_can_be_replayed(fake, receiver):
    pay, no = wechat_pay(fake), new_no()
    jsapi(pay, no, notify_url=receiver.url + "/notify")
    control(fake, "pay", out_trade_no=no)
    receiver.wait_for(1)
    assert control(fake, "notify", out_trade_no=no).status_code == 200
    first, second = receiver.wait_for(2)
    assert (
        pay.parse_payment_result(first)["transaction_id"]
        == (pay.parse_payment_result(second)["transaction_id"])
    )
    assert control(fake, "notify", out_trade_no=new_no()).status_code == 404


def test_an_hmac_order_is_notified_with_hmac_and_no_sign_type(fake, receiver):
    pay, no = wechat_pay(fake), new_no()
    jsapi(pay, no, notify_url=receiver.url + "/notify", sign_type="HMAC-SHA256")
    control(fake, "pay", out_trade_no=no)
    [body] = receiver.wait_for(1)
    fields = xmltodict.parse(body)["xml"]
    sign = fields.pop("sign")
    assert "sign_type" not in fields
    assert sign == calculate_signature_hmac(fields, API_KEY)
    with pytest.raises(InvalidSignatureException):  # wechatpy only checks MD5
        pay.parse_payment_result(body)


def test_reset_drops_pending_retries(fake, receiver):
    receiver.failures = 100
    pay, no = wechat_pay(fake), new_no()
    jsapi(pay, no, notify_url=receiver.url + "/notify")
    control(fake, "pay", out_trade_no=no)
    receiver.wait_for(1)
    requests.post(f"{fake.url}/_control/reset", timeout=5)
    count = len(receiver.bodies())
    time.sleep(0.4)
    assert len(receiver.bodies()) == count


# -- the payer's side --------------------------------------------------------------------------


def test_request_payment_accepts_what_wechatpy_signs_and_refuses_forgeries(fake, receiver):
    pay, no = wechat_pay(fake), new_no()
    prepay_id = jsapi(pay, no, notify_url=receiver.url + "/notify")["prepay_id"]
    params = pay.jsapi.get_jsapi_params(prepay_id)

    forged = control(fake, "request-payment", **{**params, "paySign": "0" * 32})
    assert forged.status_code == 400
    assert forged.json()["errMsg"] == "requestPayment:fail 支付验证签名失败"
    millis = pay.jsapi.get_jsapi_params(prepay_id, timestamp=str(int(time.time() * 1000)))
    assert control(fake, "request-payment", **millis).status_code == 400
    unknown = pay.jsapi.get_jsapi_params("wx" + "0" * 34)
    assert control(fake, "request-payment", **unknown).status_code == 400
    assert pay.order.query(out_trade_no=no)["trade_state"] == "NOTPAY"

    accepted = control(fake, "request-payment", **params)
    assert accepted.status_code == 200
    assert accepted.json()["errMsg"] == "requestPayment:ok"
    assert pay.order.query(out_trade_no=no)["trade_state"] == "SUCCESS"
    assert pay.parse_payment_result(receiver.wait_for(1)[0])["out_trade_no"] == no
    again = control(fake, "request-payment", **params)
    assert again.status_code == 409 and again.json()["errMsg"].startswith("requestPayment:fail")


def test_request_payment_needs_the_orders_sign_type(fake):
    pay, no = wechat_pay(fake), new_no()
    prepay_id = jsapi(pay, no, sign_type="HMAC-SHA256")["prepay_id"]
    md5_params = pay.jsapi.get_jsapi_params(prepay_id)  # wechatpy always signs these MD5
    answer = control(fake, "request-payment", **md5_params)
    assert answer.status_code == 400 and "signType" in answer.json()["reason"]


def test_scanning_a_native_code_pays_it_as_that_user(fake):
    pay, no = wechat_pay(fake), new_no()
    code_url = native(pay, no)["code_url"]
    answer = control(fake, "scan", code_url=code_url, user="wang", notify="missing")
    assert answer.status_code == 200
    query = pay.order.query(out_trade_no=no)
    assert query["trade_state"] == "SUCCESS"
    assert query["openid"] == PlatformState.openid_for("wang")
    assert control(fake, "scan", code_url="weixin://wxpay/bizpayurl?pr=nothing").status_code == 404


def test_a_payer_who_backs_out_pays_nothing(fake):
    pay, no = wechat_pay(fake), new_no()
    jsapi(pay, no)
    answer = control(fake, "cancel", out_trade_no=no)
    assert answer.json()["errMsg"] == "requestPayment:fail cancel"
    assert pay.order.query(out_trade_no=no)["trade_state"] == "NOTPAY"


def test_control_calls_name_unknown_trades_and_bad_options(fake):
    assert control(fake, "pay", out_trade_no="nothing-here").status_code == 404
    assert requests.get(f"{fake.url}/_control/trades/nothing-here", timeout=5).status_code == 404
    no = new_no()
    jsapi(wechat_pay(fake), no)
    assert control(fake, "pay", out_trade_no=no, notify="sometimes").status_code == 400
    view = trade_view(fake, no)
    assert (view["trade_state"], view["total_fee"], view["transaction_id"]) == (
        "NOTPAY",
        30000,
        None,
    )


# -- faults ------------------------------------------------------------------------------------


def test_fault_switches_break_the_pay_api_until_switched_off(fake):
    pay, no = wechat_pay(fake), new_no()
    jsapi(pay, no)
    control(fake, "faults", pay_systemerror=True)
    for call in (
        lambda: jsapi(pay),
        lambda: pay.order.query(out_trade_no=no),
        lambda: pay.order.close(no),
    ):
        assert refused(call).errcode == "SYSTEMERROR"
    control(fake, "faults", pay_systemerror=False, pay_http_500=True)
    assert refused(lambda: pay.order.query(out_trade_no=no)).return_code is None  # HTTP 500
    control(fake, "faults", pay_http_500=False, bill_creating=True)
    assert refused(lambda: pay.tools.download_bill("20240105")).return_msg == "Bill Creating"
    control(fake, "faults", bill_creating=False)
    assert pay.order.query(out_trade_no=no)["trade_state"] == "NOTPAY"
    assert control(fake, "faults", pay_everything=True).status_code == 400


# -- persistence -------------------------------------------------------------------------------


def test_trades_survive_a_restart_with_a_state_file(tmp_path):
    state_file = tmp_path / "fake-wechat.json"
    app, server = start_fake(state_file=str(state_file))
    with server:
        pay = wechat_pay(server)
        no, transaction_id = paid_order(server, pay, fen=2500)
        pay.refund.apply(2500, 500, "RP" + no, out_trade_no=no)
    app.extensions["fake_wechat"].close()
    assert json.loads(state_file.read_text(encoding="utf-8"))["trades"][0]["out_trade_no"] == no

    app, server = start_fake(state_file=str(state_file))
    with server:
        pay = wechat_pay(server)
        query = pay.order.query(out_trade_no=no)
        assert (query["trade_state"], query["transaction_id"]) == ("REFUND", transaction_id)
        assert pay.refund.query(out_refund_no="RP" + no)["refund_fee_0"] == "500"
        records, _ = parse_bill(pay.tools.download_bill(datetime.utcnow() + BEIJING))
        assert records[0]["商户订单号"] == no
    app.extensions["fake_wechat"].close()


def test_the_sandbox_key_is_the_md5_signed_getsignkey_answer(fake):
    _, reply = raw_post(fake, "sandboxnew/pay/getsignkey", {})
    assert reply["return_code"] == "SUCCESS"
    fields = {k: v for k, v in reply.items() if k != "sign"}
    assert reply["sign"] == calculate_signature(fields, API_KEY)
    assert len(reply["sandbox_signkey"]) == 32
    assert reply["sandbox_signkey"] == wechat_pay(fake, sandbox=True).sandbox_api_key

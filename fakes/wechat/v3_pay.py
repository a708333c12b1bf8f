"""WeChat Pay API v3 (JSON) as api.mch.weixin.qq.com answers it, for wechatpayv3 unmodified.

    POST /v3/pay/transactions/jsapi                              {prepay_id}
    POST /v3/pay/transactions/native                             {code_url}
    GET  /v3/pay/transactions/out-trade-no/{no}?mchid=           the transaction
    GET  /v3/pay/transactions/id/{transaction_id}?mchid=         the transaction
    POST /v3/pay/transactions/out-trade-no/{no}/close {mchid}    204
    POST /v3/refund/domestic/refunds                             the refund (PROCESSING)
    GET  /v3/refund/domestic/refunds/{out_refund_no}             the refund
    GET  /v3/bill/tradebill?bill_date=&bill_type=&tar_type=      {download_url, hash_type, hash_value}
    GET  /v3/billdownload/file?token=                            the bill (unsigned, as WeChat's)

Every request must carry a valid merchant Authorization (else 401 SIGN_ERROR); every answer is
signed with the platform key. Errors are an HTTP status with `{code, message}`. Orders share the
v2 ledger: a v3 order is paid, billed and refunded by the same machinery, and remembers (its
sign_type RSA) that its callbacks go out in v3 form.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from flask import Blueprint, Flask, Response, current_app, request

from fakes.wechat import beijing, bill, v3_wire
from fakes.wechat.pay_state import Merchant, PayError, PayLedger
from fakes.wechat.state import PlatformState
from fakes.wechat.trades import LIVE, V3_SIGN_TYPE
from fakes.wechat.v3_notices import V3Notices, dumps, refund, transaction
from fakes.wechat.v3keys import V3Keys, ensure_keys

blp = Blueprint("pay_v3", __name__, url_prefix="/v3")

OUT_TRADE_NO = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")
OUT_REFUND_NO = re.compile(r"[0-9A-Za-z_\-|*@]{1,64}")
BILL_TYPES = ("ALL", "SUCCESS", "REFUND")
BILL_URL_LIFETIME_S = 30  # a download_url works for thirty seconds
MAX_FEN = 10**10

# The ledger's (v2) refusals in v3 terms: HTTP status, code, message.
V3_ERRORS = {
    "ORDERNOTEXIST": (404, "ORDER_NOT_EXIST", "订单不存在"),
    "ORDERPAID": (400, "ORDERPAID", "订单已支付"),
    "ORDERCLOSED": (400, "ORDER_CLOSED", "订单已关闭"),
    "OUT_TRADE_NO_USED": (403, "OUT_TRADE_NO_USED", "商户订单号重复"),
    "SYSTEMERROR": (500, "SYSTEM_ERROR", "系统错误"),
    "REFUNDNOTEXIST": (404, "RESOURCE_NOT_EXISTS", "退款单不存在"),
    "TRADE_STATE_ERROR": (400, "INVALID_REQUEST", "订单已关闭，不能退款"),
    "ERROR": (400, "INVALID_REQUEST", "申请退款金额超过订单可退金额"),
}


class V3Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


def _param(message: str) -> V3Error:
    return V3Error(400, "PARAM_ERROR", message)


@dataclass
class V3Platform:
    """The v3 side of the platform: its keys, the merchant they belong to, pending downloads."""

    keys: V3Keys
    merchant: Merchant
    platform_key: Any
    merchant_public: Any
    downloads: dict[str, tuple[bytes, float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sign(self, text: str) -> dict[str, str]:
        return v3_wire.signed_headers(
            self.platform_key, self.keys.platform_key_id, text, time.time()
        )


def install(app: Flask, keys_dir: str) -> None:
    """Speak v3 with the key set in `keys_dir` (made if missing), for the ledger's merchant."""
    keys = ensure_keys(keys_dir)
    state: PlatformState = app.extensions["fake_wechat"]
    ledger = state.pay
    assert ledger is not None
    app.extensions["fake_wechat_v3"] = V3Platform(
        keys=keys,
        merchant=next(iter(ledger.merchants.values())),
        platform_key=v3_wire.load_private(keys.platform_key_pem),
        merchant_public=v3_wire.load_public(keys.merchant_public_pem),
    )
    ledger.v3 = V3Notices(keys, ledger.clock)
    app.register_blueprint(blp)


def pay_sign_verifies(params: dict[str, str]) -> bool:
    """A v3 wx.requestPayment paySign: SHA256withRSA by the merchant key over appId, timeStamp,
    nonceStr and package, each followed by a newline."""
    v3: V3Platform | None = current_app.extensions.get("fake_wechat_v3")
    if v3 is None:
        return False
    message = v3_wire.pay_sign_message(
        params["appId"], params["timeStamp"], params["nonceStr"], params["package"]
    )
    return v3_wire.rsa_verify(v3.merchant_public, message, params["paySign"])


def _v3() -> V3Platform:
    return current_app.extensions["fake_wechat_v3"]


def _state() -> PlatformState:
    return current_app.extensions["fake_wechat"]


def _ledger() -> PayLedger:
    ledger = _state().pay
    assert ledger is not None
    return ledger


def _answer(status: int, data: dict[str, Any] | None = None) -> Response:
    text = dumps(data) if data is not None else ""
    response = Response(text, status=status)
    if data is not None:
        response.content_type = "application/json; charset=utf-8"
    response.headers.update(_v3().sign(text))
    return response


@blp.errorhandler(V3Error)
def _v3_error(exc: V3Error) -> Response:
    return _answer(exc.status, {"code": exc.code, "message": exc.message})


@blp.errorhandler(PayError)
def _pay_error(exc: PayError) -> Response:
    status, code, message = V3_ERRORS.get(exc.code, (400, exc.code, exc.des))
    if exc.code == "PARAM_ERROR":
        message = exc.des
    return _answer(status, {"code": code, "message": message})


def _targets() -> list[str]:
    """PATH?QUERY as the client may have signed it: as sent, and percent-decoded."""
    env = request.environ
    raw = env.get("RAW_URI") or env.get("REQUEST_URI")
    if not raw:
        query = env.get("QUERY_STRING", "")
        raw = request.path + (f"?{query}" if query else "")
    return list(dict.fromkeys([raw, unquote(raw)]))


@blp.before_request
def _authenticate() -> Response | tuple[str, int] | None:
    faults = _state().faults
    if faults.get("pay_slow"):
        time.sleep(faults["pay_slow"])  # real seconds, as for v2
    if faults.get("pay_http_500"):
        return "Internal Server Error", 500
    v3 = _v3()
    try:
        v3_wire.authenticate(
            authorization=request.headers.get("Authorization", ""),
            method=request.method,
            targets=_targets(),
            body=request.get_data(as_text=True),
            mchid=v3.merchant.mch_id,
            serial_no=v3.keys.merchant_serial,
            public_key=v3.merchant_public,
            now=time.time(),
        )
    except v3_wire.SignError as exc:
        raise V3Error(401, "SIGN_ERROR", str(exc)) from None
    return None


# -- request bodies ------------------------------------------------------------------------------


def _json() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise V3Error(400, "INVALID_REQUEST", "请求体不是合法的 JSON 对象")
    return body


def _text(data: dict[str, Any], name: str, limit: int, required: bool = True) -> str:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise _param(
                f"输入源“/body/{name}”映射到字段“{name}”必填性规则校验失败，此字段为必填项"
            )
        return ""
    if not isinstance(value, str):
        raise _param(f"字段“{name}”类型应为字符串")
    if len(value) > limit:
        raise _param(f"字段“{name}”长度超过 {limit}")
    return value


def _fen(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < MAX_FEN:
        raise _param(f"amount.{name} 应为以分为单位的正整数")
    return value


def _mchid(value: str) -> None:
    if value != _v3().merchant.mch_id:
        raise V3Error(400, "MCH_NOT_EXISTS", "商户号不存在或与请求签名的商户号不符")


def _notify_url(data: dict[str, Any], required: bool) -> str:
    url = _text(data, "notify_url", 255, required)
    if url and (not re.fullmatch(r"https?://\S+", url) or "?" in url):
        raise _param("notify_url 应为不带查询串的 http(s) 地址")
    return url


def _time_expire(value: str) -> str:
    """RFC 3339 (`2026-12-04T10:00:00+08:00`) to the ledger's compact Beijing time."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _param("time_expire 应为 RFC 3339 格式，如 2018-06-08T10:34:56+08:00") from None
    if "T" not in value or moment.tzinfo is None:
        raise _param("time_expire 应为 RFC 3339 格式，如 2018-06-08T10:34:56+08:00")
    return beijing.compact(moment.timestamp())


def _order(trade_type: str) -> dict[str, Any]:
    if _state().faults.get("pay_systemerror"):
        raise PayError("SYSTEMERROR", "系统错误")
    data = _json()
    v3 = _v3()
    _mchid(_text(data, "mchid", 32))
    if _text(data, "appid", 32) != v3.merchant.appid:
        raise V3Error(400, "APPID_MCHID_NOT_MATCH", "AppID和mch_id不匹配")
    out_trade_no = _text(data, "out_trade_no", 32)
    if not OUT_TRADE_NO.fullmatch(out_trade_no):
        raise _param("out_trade_no 应为 6-32 位数字、大小写字母或_-|*")
    amount = data.get("amount")
    if not isinstance(amount, dict):
        raise _param("amount 为必填对象")
    if amount.get("currency", "CNY") != "CNY":
        raise _param("amount.currency 仅支持 CNY")
    params = {
        "out_trade_no": out_trade_no,
        "body": _text(data, "description", 127),
        "total_fee": str(_fen(amount, "total")),
        "trade_type": trade_type,
        "notify_url": _notify_url(data, required=True),
        "attach": _text(data, "attach", 128, required=False),
        "spbill_create_ip": "",
    }
    scene = data.get("scene_info")
    if isinstance(scene, dict) and isinstance(scene.get("payer_client_ip"), str):
        params["spbill_create_ip"] = scene["payer_client_ip"]
    expire = _text(data, "time_expire", 64, required=False)
    if expire:
        params["time_expire"] = _time_expire(expire)
    if trade_type == "JSAPI":
        payer = data.get("payer")
        if not isinstance(payer, dict):
            raise _param("JSAPI 下单 payer 为必填对象")
        params["openid"] = _text(payer, "openid", 128)
    trade = _ledger().create_order(LIVE, v3.merchant, params, V3_SIGN_TYPE)
    return {"prepay_id": trade.prepay_id} if trade_type == "JSAPI" else {"code_url": trade.code_url}


# -- routes --------------------------------------------------------------------------------------


@blp.post("/pay/transactions/jsapi")
def jsapi():
    return _answer(200, _order("JSAPI"))


@blp.post("/pay/transactions/native")
def native():
    return _answer(200, _order("NATIVE"))


def _query(transaction_id: str = "", out_trade_no: str = "") -> Response:
    if _state().faults.get("pay_systemerror"):
        raise PayError("SYSTEMERROR", "系统错误")
    mchid = request.args.get("mchid", "")
    if not mchid:
        raise _param("缺少查询参数 mchid")
    _mchid(mchid)
    trade, state = _ledger().query(LIVE, mchid, transaction_id, out_trade_no)
    return _answer(200, transaction(trade, state))


@blp.get("/pay/transactions/out-trade-no/<out_trade_no>")
def query_by_out_trade_no(out_trade_no: str):
    return _query(out_trade_no=out_trade_no)


@blp.get("/pay/transactions/id/<transaction_id>")
def query_by_id(transaction_id: str):
    return _query(transaction_id=transaction_id)


@blp.post("/pay/transactions/out-trade-no/<out_trade_no>/close")
def close(out_trade_no: str):
    if _state().faults.get("pay_systemerror"):
        raise PayError("SYSTEMERROR", "系统错误")
    _mchid(_text(_json(), "mchid", 32))
    _ledger().close_order(LIVE, _v3().merchant.mch_id, out_trade_no)
    return _answer(204)


@blp.post("/refund/domestic/refunds")
def create_refund():
    if _state().faults.get("refund_systemerror"):
        raise PayError("SYSTEMERROR", "系统繁忙，请使用相同的退款单号重试")
    data = _json()
    transaction_id = _text(data, "transaction_id", 32, required=False)
    out_trade_no = _text(data, "out_trade_no", 32, required=False)
    if not (transaction_id or out_trade_no):
        raise _param("transaction_id 与 out_trade_no 必填其一")
    out_refund_no = _text(data, "out_refund_no", 64)
    if not OUT_REFUND_NO.fullmatch(out_refund_no):
        raise _param("out_refund_no 应为 1-64 位数字、大小写字母或_-|*@")
    amount = data.get("amount")
    if not isinstance(amount, dict):
        raise _param("amount 为必填对象")
    total, refund_fee = _fen(amount, "total"), _fen(amount, "refund")
    if amount.get("currency", "CNY") != "CNY":
        raise _param("amount.currency 仅支持 CNY")
    if refund_fee > total:
        raise _param("退款金额不能大于订单金额")
    funds = _text(data, "funds_account", 32, required=False)
    if funds not in ("", "AVAILABLE", "UNSETTLED"):
        raise _param("funds_account 仅支持 AVAILABLE")
    params = {
        "transaction_id": transaction_id,
        "out_trade_no": out_trade_no,
        "out_refund_no": out_refund_no,
        "total_fee": str(total),
        "refund_fee": str(refund_fee),
        "refund_desc": _text(data, "reason", 80, required=False),
        "notify_url": _notify_url(data, required=False),
        "refund_account": "REFUND_SOURCE_RECHARGE_FUNDS" if funds == "AVAILABLE" else "",
    }
    ledger = _ledger()
    try:
        trade, made = ledger.refund(LIVE, _v3().merchant.mch_id, params)
    except PayError as exc:
        if exc.code == "ORDERNOTEXIST":  # unknown or unpaid: nothing to refund
            raise V3Error(404, "RESOURCE_NOT_EXISTS", "订单不存在") from None
        if exc.code == "PARAM_ERROR":  # the same out_refund_no with other amounts
            raise V3Error(400, "INVALID_REQUEST", exc.des) from None
        raise
    return _answer(200, refund(trade, made))


@blp.get("/refund/domestic/refunds/<out_refund_no>")
def query_refund(out_refund_no: str):
    trade, found = _ledger().query_refunds(
        LIVE, _v3().merchant.mch_id, {"out_refund_no": out_refund_no}
    )
    return _answer(200, refund(trade, found[0]))


@blp.get("/bill/tradebill")
def trade_bill():
    day = request.args.get("bill_date", "")
    bill_type = request.args.get("bill_type") or "ALL"
    tar_type = request.args.get("tar_type", "")
    try:
        date = datetime.strptime(day, "%Y-%m-%d")
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
            raise ValueError(day)
    except ValueError:
        raise _param("bill_date 应为 YYYY-MM-DD") from None
    if bill_type not in BILL_TYPES:
        raise _param("bill_type 仅支持 ALL、SUCCESS、REFUND")
    if tar_type not in ("", "GZIP"):
        raise _param("tar_type 仅支持 GZIP")
    if _state().faults.get("bill_creating"):
        raise V3Error(400, "STATEMENT_CREATING", "账单生成中")
    ledger = _ledger()
    compact = date.strftime("%Y%m%d")
    text = None
    if compact <= beijing.day_of(ledger.now()):  # a future day has no bill
        text = bill.render(bill_type, compact, ledger.paid_trades(LIVE, _v3().merchant.mch_id))
    if text is None:
        raise V3Error(400, "NO_STATEMENT_EXIST", "账单文件不存在")
    raw = text.encode()
    token = secrets.token_urlsafe(24)
    v3 = _v3()
    with v3.lock:
        now = time.monotonic()
        v3.downloads = {t: d for t, d in v3.downloads.items() if d[1] > now}
        payload = gzip.compress(raw) if tar_type == "GZIP" else raw
        v3.downloads[token] = (payload, now + BILL_URL_LIFETIME_S)
    return _answer(
        200,
        {
            "hash_type": "SHA1",
            "hash_value": hashlib.sha1(raw).hexdigest(),  # of the bill, not of its gzip
            "download_url": f"{request.host_url}v3/billdownload/file?token={token}",
        },
    )


@blp.get("/billdownload/file")
def download_bill():
    v3 = _v3()
    with v3.lock:
        found = v3.downloads.get(request.args.get("token", ""))
    if found is None or found[1] <= time.monotonic():
        raise V3Error(400, "INVALID_REQUEST", "下载链接无效或已过期，请重新申请账单")
    # The file itself is not signed: its SHA1 came signed with the download_url.
    return Response(found[0], content_type="application/octet-stream")

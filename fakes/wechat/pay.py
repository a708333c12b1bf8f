"""WeChat Pay API v2 as api.mch.weixin.qq.com answers it, for wechatpy 1.8.18 unmodified.

POST pay/unifiedorder, pay/orderquery, pay/closeorder, secapi/pay/refund, pay/refundquery and
pay/downloadbill, each also under sandboxnew/ (signed there with the getsignkey key), plus
sandboxnew/pay/getsignkey. Bodies are `<xml>` documents whatever the Content-Type says.
The merchant certificate that real refunds require (mutual TLS) is not checked over plain HTTP.
"""

from __future__ import annotations

import gzip
import ipaddress
import re
import time
from collections.abc import Callable
from datetime import datetime

from flask import Blueprint, Response, current_app, request

from fakes.wechat import beijing, bill, signing
from fakes.wechat.notices import RECEIVED_INTO
from fakes.wechat.pay_call import Call, EnvelopeError, envelope_failure
from fakes.wechat.pay_state import PayError, PayLedger
from fakes.wechat.state import PlatformState
from fakes.wechat.trades import LIVE, SANDBOX

blp = Blueprint("pay", __name__)

OUT_TRADE_NO = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")
OUT_REFUND_NO = re.compile(r"[0-9A-Za-z_\-|*@]{1,64}")
FEN = re.compile(r"[1-9][0-9]{0,9}")
TRADE_TYPES = ("JSAPI", "NATIVE")  # the fake's scope; APP and MWEB are refused
REFUND_ACCOUNTS = ("REFUND_SOURCE_UNSETTLED_FUNDS", "REFUND_SOURCE_RECHARGE_FUNDS")
TRADE_STATE_DESC = {
    "NOTPAY": "订单未支付",
    "SUCCESS": "支付成功",
    "REFUND": "订单发生过退款，退款详情请查询退款单",
    "CLOSED": "订单已关闭",
}
# Faults that turn the order calls (not refunds or bills) into result_code=FAIL SYSTEMERROR.
SYSTEMERROR_CALLS = ("unifiedorder", "orderquery", "closeorder")


def _platform() -> PlatformState:
    return current_app.extensions["fake_wechat"]


def _ledger() -> PayLedger:
    ledger = _platform().pay
    assert ledger is not None
    return ledger


def _param_error(message: str) -> PayError:
    return PayError("PARAM_ERROR", message)


def _check_fen(call: Call, name: str) -> None:
    if not FEN.fullmatch(call.get(name)):
        raise _param_error(f"{name}参数格式错误：以分为单位的正整数")


def _check_url(call: Call, name: str) -> None:
    url = call.get(name)
    if not re.fullmatch(r"https?://\S+", url) or len(url) > 256:
        raise _param_error(f"{name}参数格式错误")
    if "?" in url:
        raise _param_error(f"{name}不能携带参数")


def unifiedorder(call: Call) -> Response:
    call.require(
        "body", "out_trade_no", "total_fee", "spbill_create_ip", "notify_url", "trade_type"
    )
    if not OUT_TRADE_NO.fullmatch(call.get("out_trade_no")):
        raise _param_error("out_trade_no参数格式错误：6-32位数字、大小写字母或_-|*")
    _check_fen(call, "total_fee")
    if len(call.get("body")) > 128:
        raise _param_error("body参数长度有误")
    if len(call.get("attach")) > 127:
        raise _param_error("attach参数长度有误")
    if call.get("fee_type") not in ("", "CNY"):
        raise _param_error("fee_type参数格式错误")
    try:
        ipaddress.ip_address(call.get("spbill_create_ip"))
    except ValueError:
        raise _param_error("spbill_create_ip参数格式错误") from None
    _check_url(call, "notify_url")
    for name in ("time_start", "time_expire"):
        if call.get(name):
            try:
                beijing.parse_compact(call.get(name))
            except ValueError:
                raise _param_error(f"{name}参数格式错误：yyyyMMddHHmmss") from None
    trade_type = call.get("trade_type")
    if trade_type not in TRADE_TYPES:
        raise _param_error("trade_type参数格式错误")
    if trade_type == "JSAPI" and not call.get("openid"):
        raise _param_error("JSAPI支付必须传openid")
    if trade_type == "NATIVE" and not call.get("product_id"):
        raise _param_error("NATIVE支付必须传product_id")
    trade = _ledger().create_order(call.realm, call.merchant, call.params, call.sign_type)
    return call.reply(
        device_info=trade.device_info,
        trade_type=trade.trade_type,
        prepay_id=trade.prepay_id,
        code_url=trade.code_url,
    )


def orderquery(call: Call) -> Response:
    if not (call.get("transaction_id") or call.get("out_trade_no")):
        raise PayError("LACK_PARAMS", "缺少参数transaction_id或out_trade_no")
    trade, state = _ledger().query(
        call.realm, call.merchant.mch_id, call.get("transaction_id"), call.get("out_trade_no")
    )
    fields: dict[str, object] = {
        "device_info": trade.device_info,
        "out_trade_no": trade.out_trade_no,
        "attach": trade.attach,
        "trade_state": state,
        "trade_state_desc": TRADE_STATE_DESC[state],
    }
    if trade.paid_at is not None:
        fields.update(
            openid=trade.openid,
            is_subscribe=trade.is_subscribe,
            trade_type=trade.trade_type,
            bank_type=trade.bank_type,
            total_fee=trade.total_fee,
            fee_type="CNY",
            cash_fee=trade.total_fee,
            cash_fee_type="CNY",
            transaction_id=trade.transaction_id,
            time_end=beijing.compact(trade.paid_at),
        )
    return call.reply(**fields)


def closeorder(call: Call) -> Response:
    call.require("out_trade_no")
    _ledger().close_order(call.realm, call.merchant.mch_id, call.get("out_trade_no"))
    return call.reply(result_msg="OK")


def refund(call: Call) -> Response:
    call.require("out_refund_no", "total_fee", "refund_fee")
    if not (call.get("transaction_id") or call.get("out_trade_no")):
        raise PayError("LACK_PARAMS", "缺少参数transaction_id或out_trade_no")
    if not OUT_REFUND_NO.fullmatch(call.get("out_refund_no")):
        raise _param_error("out_refund_no参数格式错误")
    _check_fen(call, "total_fee")
    _check_fen(call, "refund_fee")
    if call.get("refund_fee_type") not in ("", "CNY"):
        raise _param_error("refund_fee_type参数格式错误")
    if call.get("refund_account") not in ("", *REFUND_ACCOUNTS):
        raise _param_error("refund_account参数格式错误")
    if call.get("notify_url"):
        _check_url(call, "notify_url")
    if _platform().faults.get("refund_systemerror"):
        raise PayError("SYSTEMERROR", "系统超时，请用相同参数再次调用")
    trade, r = _ledger().refund(call.realm, call.merchant.mch_id, call.params)
    return call.reply(
        transaction_id=trade.transaction_id,
        out_trade_no=trade.out_trade_no,
        out_refund_no=r.out_refund_no,
        refund_id=r.refund_id,
        refund_fee=r.refund_fee,
        settlement_refund_fee=r.refund_fee,
        total_fee=trade.total_fee,
        settlement_total_fee=trade.total_fee,
        fee_type="CNY",
        cash_fee=trade.total_fee,
        cash_refund_fee=r.refund_fee,
        coupon_refund_fee=0,
        refund_channel="ORIGINAL",
    )


def refundquery(call: Call) -> Response:
    keys = ("refund_id", "out_refund_no", "transaction_id", "out_trade_no")
    if not any(call.get(k) for k in keys):
        raise PayError(
            "LACK_PARAMS", "缺少参数refund_id、out_refund_no、transaction_id或out_trade_no"
        )
    offset = call.get("offset") or "0"
    if not offset.isdigit():
        raise _param_error("offset参数格式错误")
    trade, refunds = _ledger().query_refunds(call.realm, call.merchant.mch_id, call.params)
    page = refunds[int(offset) : int(offset) + 10]  # WeChat pages refunds ten at a time
    if not page:
        raise PayError("REFUNDNOTEXIST", "退款订单查询失败")
    fields: dict[str, object] = {
        "transaction_id": trade.transaction_id,
        "out_trade_no": trade.out_trade_no,
        "total_fee": trade.total_fee,
        "settlement_total_fee": trade.total_fee,
        "fee_type": "CNY",
        "cash_fee": trade.total_fee,
        "refund_fee": trade.refunded(),
        "total_refund_count": len(trade.refunds),
        "refund_count": len(page),
    }
    for n, r in enumerate(page):
        fields.update(
            {
                f"out_refund_no_{n}": r.out_refund_no,
                f"refund_id_{n}": r.refund_id,
                f"refund_channel_{n}": "ORIGINAL",
                f"refund_fee_{n}": r.refund_fee,
                f"settlement_refund_fee_{n}": r.refund_fee,
                f"coupon_refund_fee_{n}": 0,
                f"refund_status_{n}": r.status,
                f"refund_account_{n}": r.refund_account,
                f"refund_recv_accout_{n}": RECEIVED_INTO,  # sic, WeChat's spelling
            }
        )
        if r.succeeded_at is not None:
            fields[f"refund_success_time_{n}"] = beijing.dashed(r.succeeded_at)
    return call.reply(**fields)


def downloadbill(call: Call) -> Response:
    """The bill is plain text (unsigned); every failure is return_code=FAIL, unlike other calls."""
    day, bill_type = call.get("bill_date"), call.get("bill_type") or "ALL"
    if not day:
        raise EnvelopeError("missing parameter", error_code="20001")
    try:
        if not re.fullmatch(r"\d{8}", day):
            raise ValueError(day)
        datetime.strptime(day, "%Y%m%d")
    except ValueError:
        raise EnvelopeError("invalid bill_date", error_code="20001") from None
    if bill_type not in bill.BILL_TYPES:
        raise EnvelopeError("invalid bill_type", error_code="20001")
    if call.get("tar_type") not in ("", "GZIP"):
        raise EnvelopeError("invalid tar_type", error_code="20001")
    if _platform().faults.get("bill_creating"):
        raise EnvelopeError("Bill Creating", error_code="20003")
    text = bill.render(bill_type, day, _ledger().paid_trades(call.realm, call.merchant.mch_id))
    if text is None:
        raise EnvelopeError("No Bill Exist", error_code="20002")
    if call.get("tar_type") == "GZIP":
        return Response(gzip.compress(text.encode()), content_type="application/x-gzip")
    return Response(text, content_type="text/plain; charset=utf-8")


def getsignkey(call: Call) -> Response:
    """The sandbox key, asked for under sandboxnew/ but signed (both ways) with the live key."""
    key = signing.sandbox_key(call.merchant.mch_id, call.merchant.api_key)
    return call.reply(key_realm=LIVE, return_msg="ok", sandbox_signkey=key)


API: dict[str, Callable[[Call], Response]] = {
    "pay/unifiedorder": unifiedorder,
    "pay/orderquery": orderquery,
    "pay/closeorder": closeorder,
    "secapi/pay/refund": refund,
    "pay/refundquery": refundquery,
    "pay/downloadbill": downloadbill,
}


def _serve(path: str, handler: Callable[[Call], Response], realm: str) -> Callable[[], Response]:
    name = path.rsplit("/", 1)[-1]
    key_realm = LIVE if handler is getsignkey else realm

    def view() -> Response | tuple[str, int]:
        faults = _platform().faults
        if faults.get("pay_slow"):
            time.sleep(faults["pay_slow"])  # a slow platform: real seconds, not scaled
        if faults.get("pay_http_500"):
            return "Internal Server Error", 500
        try:
            call = Call.open(request.get_data(), _ledger(), realm, key_realm)
        except EnvelopeError as exc:
            return envelope_failure(exc)
        try:
            if handler is not getsignkey:  # the only call without an appid
                call.check_appid()
            if faults.get("pay_systemerror") and name in SYSTEMERROR_CALLS:
                raise PayError("SYSTEMERROR", "系统错误")
            return handler(call)
        except EnvelopeError as exc:
            return envelope_failure(exc)
        except PayError as exc:
            return call.refuse(exc)

    view.__name__ = f"{realm}_{name}"
    return view


for _path, _handler in API.items():
    blp.add_url_rule(f"/{_path}", view_func=_serve(_path, _handler, LIVE), methods=["POST"])
    blp.add_url_rule(
        f"/sandboxnew/{_path}", view_func=_serve(_path, _handler, SANDBOX), methods=["POST"]
    )
blp.add_url_rule(
    "/sandboxnew/pay/getsignkey",
    view_func=_serve("pay/getsignkey", getsignkey, SANDBOX),
    methods=["POST"],
)

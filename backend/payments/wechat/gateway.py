"""The WeChat Pay API v2 adapter of the payment port, on wechatpy 1.8.18.

The same code talks to the fake platform (`make run`, tests), the sandbox and the live platform;
only the base URL and keys differ (WECHAT_MODE). WeChat's words stay here: trade types, trade
and refund states, XML fields. What wechatpy leaves to its caller is done here too: reply
signatures are verified (wechatpy never checks them, and an orderquery reply decides whether
money is credited) and network failures become retryable GatewayErrors.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import requests
from wechatpy.exceptions import InvalidSignatureException, WeChatPayException
from wechatpy.pay import WeChatPay

from backend.payments.bill import Bill
from backend.payments.gateway import (
    PAID_STATES,
    AlreadyPaid,
    GatewayError,
    PaymentNotice,
    PaymentRequest,
    PaymentStarted,
    RefundRequest,
    RefundResult,
    TradeStatus,
)
from backend.payments.wechat.bill import PlainBill, parse_file
from backend.payments.wechat.notices import (
    Notices,
    beijing_seconds,
    beijing_time,
    refund_state,
)
from backend.payments.wechat.wire import Wire, signature, signed_by
from backend.values.beijing import compact_text

log = logging.getLogger(__name__)

_RETRYABLE = {"SYSTEMERROR", "BIZERR_NEED_RETRY", "FREQUENCY_LIMITED", "INVALID_REQ_TOO_MUCH"}
TRADE_TYPES = {"wechat_miniprogram": "JSAPI", "wechat_qr": "NATIVE"}
# WeChat's trade_state -> ours.
TRADE_STATES = {
    "NOTPAY": "unpaid",
    "USERPAYING": "paying",
    "SUCCESS": "paid",
    "REFUND": "refunded",
    "CLOSED": "closed",
    "REVOKED": "closed",
    "PAYERROR": "failed",
}


class WeChatPayGateway:
    def __init__(
        self,
        *,
        appid: str,
        mch_id: str,
        api_key: str,
        base_url: str,
        notify_url: str,
        refund_notify_url: str,
        mch_cert: str | None = None,
        mch_key: str | None = None,
        sandbox: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self._pay = WeChatPay(
            appid=appid,
            api_key=api_key,
            mch_id=mch_id,
            mch_cert=mch_cert,
            mch_key=mch_key,
            timeout=timeout,
            sandbox=sandbox,
        )
        self._pay.API_BASE_URL = base_url if base_url.endswith("/") else base_url + "/"
        # requests reads the proxy variables of the environment on every call, which costs more
        # CPU than building and signing the request: read them once, here.
        self._pay._http.trust_env = False
        self._pay._http.proxies = requests.utils.get_environ_proxies(self._pay.API_BASE_URL)
        self._notify_url, self._refund_notify_url = notify_url, refund_notify_url
        self._notices = Notices(self._pay, appid, mch_id, self._signing_key)
        self._wire = Wire(
            base_url=self._pay.API_BASE_URL,
            appid=appid,
            mch_id=mch_id,
            key=self._signing_key,
            timeout=timeout,
            path_prefix=lambda: "sandboxnew/" if sandbox else "",
        )

    # -- the port -------------------------------------------------------------------------

    def create(self, request: PaymentRequest) -> PaymentStarted:
        trade_type = TRADE_TYPES[request.channel]
        reply = self._wire.call(
            "pay/unifiedorder",
            {
                "trade_type": trade_type,
                "body": request.description,
                "out_trade_no": request.order_no,
                "total_fee": request.total_fen,
                "spbill_create_ip": request.client_ip,
                "time_start": compact_text(request.created_at),
                "time_expire": compact_text(request.expires_at),
                "notify_url": self._notify_url,
                "openid": request.payer,
                "product_id": request.order_no if trade_type == "NATIVE" else None,
            },
        )
        prepay_id = reply.get("prepay_id")
        if trade_type == "NATIVE":
            return PaymentStarted(prepay_id, reply.get("code_url"), None)
        return PaymentStarted(prepay_id, None, self._pay_params(prepay_id, request.created_at))

    def _pay_params(self, prepay_id: str | None, at: datetime) -> dict[str, str]:
        """wx.requestPayment's parameters for the phone, signed with the merchant key."""
        params = {
            "appId": self._pay.appid,
            "timeStamp": str(int(at.timestamp())),
            "nonceStr": secrets.token_hex(16),
            "signType": "MD5",
            "package": f"prepay_id={prepay_id}",
        }
        params["paySign"] = signature(params, self._signing_key())
        return params

    def query(self, order_no: str) -> TradeStatus:
        try:
            reply = self._wire.call("pay/orderquery", {"out_trade_no": order_no})
        except GatewayError as exc:
            if exc.code == "ORDERNOTEXIST":
                # Never reached WeChat (the create call failed): nothing can have been paid.
                return TradeStatus(order_no, "unpaid", None, None, None)
            raise
        try:
            state = TRADE_STATES[reply["trade_state"]]
        except KeyError:
            raise GatewayError(f"unknown trade_state in {sorted(reply)}") from None
        paid = state in PAID_STATES
        return TradeStatus(
            order_no=order_no,
            state=state,  # type: ignore[arg-type]
            total_fen=int(reply["total_fee"]) if paid else None,
            transaction_id=reply.get("transaction_id") if paid else None,
            paid_at=beijing_time(reply["time_end"]) if paid and reply.get("time_end") else None,
        )

    def close(self, order_no: str) -> None:
        try:
            self._wire.call("pay/closeorder", {"out_trade_no": order_no})
        except GatewayError as exc:
            if exc.code in ("ORDERCLOSED", "ORDERNOTEXIST"):
                return  # closed already, or never created: either way nobody can pay it now
            if exc.code == "ORDERPAID":
                raise AlreadyPaid(str(exc), exc.code) from exc
            raise

    def refund(self, request: RefundRequest) -> RefundResult:
        reply = self._call(
            self._pay.refund.apply,
            total_fee=request.total_fen,
            refund_fee=request.refund_fen,
            out_refund_no=request.refund_no,
            out_trade_no=request.order_no,
            refund_desc=request.reason,
            notify_url=self._refund_notify_url,
        )
        return RefundResult(
            request.refund_no,
            reply.get("refund_id"),
            "processing",
            request.refund_fen,
            None,
            reply.get("out_trade_no"),
        )

    def query_refund(self, refund_no: str) -> RefundResult:
        reply = self._call(self._pay.refund.query, out_refund_no=refund_no)
        for n in range(int(reply.get("refund_count", 0))):
            if reply.get(f"out_refund_no_{n}") == refund_no:
                done = reply.get(f"refund_success_time_{n}")
                return RefundResult(
                    refund_no,
                    reply.get(f"refund_id_{n}"),
                    refund_state(reply[f"refund_status_{n}"]),  # type: ignore[arg-type]
                    int(reply[f"refund_fee_{n}"]),
                    beijing_seconds(done) if done else None,
                    reply.get("out_trade_no"),
                )
        raise GatewayError(f"refund {refund_no} missing from the reply", "REFUNDNOTEXIST")

    def download_bill(self, day: date) -> str | None:
        try:
            text = self._pay.tools.download_bill(day, bill_type="ALL")
        except WeChatPayException as exc:
            if (exc.return_msg or "").lower() == "no bill exist":
                return None
            raise self._error(exc) from exc
        except requests.RequestException as exc:
            raise GatewayError(
                f"WeChat Pay unreachable: {exc.__class__.__name__}", None, True
            ) from exc
        if not isinstance(text, str):
            raise GatewayError("the bill came back as XML, not text")
        return text

    def read_bill(self, path: Path) -> Bill:
        return PlainBill(parse_file(path))

    def parse_payment_notice(
        self, body: bytes, headers: Mapping[str, str] | None = None
    ) -> PaymentNotice:
        return self._notices.payment(body)  # v2 signs inside the XML, not in headers

    def parse_refund_notice(
        self, body: bytes, headers: Mapping[str, str] | None = None
    ) -> RefundResult:
        return self._notices.refund(body)

    def acknowledgement(self, ok: bool, message: str = "OK") -> tuple[bytes, str]:
        return self._notices.reply(ok, message)

    # -- helpers --------------------------------------------------------------------------

    def _signing_key(self) -> str:
        return self._pay.sandbox_api_key if self._pay.sandbox else self._pay.api_key

    def _call(self, method, **kwargs) -> dict[str, Any]:
        try:
            reply = method(**kwargs)
        except WeChatPayException as exc:
            raise self._error(exc) from exc
        except InvalidSignatureException as exc:
            raise GatewayError("WeChat Pay reply signature invalid") from exc
        except requests.RequestException as exc:
            raise GatewayError(
                f"WeChat Pay unreachable: {exc.__class__.__name__}", None, retryable=True
            ) from exc
        if not isinstance(reply, dict):
            raise GatewayError("WeChat Pay answered something other than XML", None, True)
        if not signed_by(reply, self._signing_key()):
            raise GatewayError("WeChat Pay reply signature invalid")
        return reply

    @staticmethod
    def _error(exc: WeChatPayException) -> GatewayError:
        code = exc.errcode or (None if exc.return_code == "SUCCESS" else exc.return_code)
        message = exc.errmsg or exc.return_msg or "WeChat Pay refused the request"
        # No return_code at all: the HTTP layer failed (5xx); worth another try.
        retryable = code in _RETRYABLE or exc.return_code is None
        return GatewayError(f"{code}: {message}" if code else message, code, retryable)

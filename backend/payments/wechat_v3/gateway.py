"""The WeChat Pay API v3 adapter of the payment port, on wechatpayv3.

Beside the v2 adapter (backend/payments/wechat/), chosen by WECHAT_PAY_API=v3, for merchants
that WeChat Pay now opens with API v3 only. The library signs each request with the merchant key
and verifies each 2xx reply against the WeChat Pay public key (public-key mode: it never asks for
platform certificates); this module turns its (status, text) answers into the port's values and
errors. The daily bill is the same text as v2's, so reconciliation reads it with the v2 parser.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import requests
from wechatpayv3 import WeChatPay, WeChatPayType

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
from backend.payments.wechat.gateway import TRADE_STATES as V2_TRADE_STATES
from backend.payments.wechat_v3.keys import MerchantKeys
from backend.payments.wechat_v3.notices import Notices, refund_result, rfc3339
from backend.values.beijing import BEIJING

# Codes worth the same request again later (with the same order or refund number).
_RETRYABLE = {"SYSTEM_ERROR", "FREQUENCY_LIMITED", "BANK_ERROR", "SYSTEMERROR"}
PAY_TYPES = {"wechat_miniprogram": WeChatPayType.MINIPROG, "wechat_qr": WeChatPayType.NATIVE}
# v3 keeps v2's trade_state words (-> ours), adding ACCEPT: a payment received, still processing.
TRADE_STATES = {**V2_TRADE_STATES, "ACCEPT": "paying"}


class WeChatPayV3Gateway:
    def __init__(
        self,
        *,
        appid: str,
        mch_id: str,
        keys: MerchantKeys,
        base_url: str,
        notify_url: str,
        refund_notify_url: str,
        timeout: float = 10.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._appid, self._mch_id = appid, mch_id
        self._pay = WeChatPay(
            wechatpay_type=WeChatPayType.MINIPROG,
            mchid=mch_id,
            private_key=keys.merchant_key,
            cert_serial_no=keys.merchant_serial,
            appid=appid,
            apiv3_key=keys.apiv3_key,
            notify_url=notify_url,
            public_key=keys.public_key,
            public_key_id=keys.public_key_id,
            timeout=(min(timeout, 5.0), timeout),
        )
        # The library's only host setting: scheme and host, no trailing slash.
        self._pay._core._gate_way = base_url.rstrip("/")
        self._refund_notify_url = refund_notify_url
        self._notices = Notices(self._pay, appid, mch_id, keys.public_key_id, wall_clock)

    # -- the port -------------------------------------------------------------------------

    def create(self, request: PaymentRequest) -> PaymentStarted:
        pay_type = PAY_TYPES[request.channel]
        reply = self._json(
            self._call(
                self._pay.pay,
                description=request.description,
                out_trade_no=request.order_no,
                amount={"total": request.total_fen, "currency": "CNY"},
                payer={"openid": request.payer} if pay_type is WeChatPayType.MINIPROG else None,
                time_expire=request.expires_at.astimezone(BEIJING).isoformat(timespec="seconds"),
                scene_info={"payer_client_ip": request.client_ip},
                pay_type=pay_type,
            )
        )
        if pay_type is WeChatPayType.NATIVE:
            return PaymentStarted(None, _required(reply, "code_url"), None)
        prepay_id = _required(reply, "prepay_id")
        return PaymentStarted(prepay_id, None, self._pay_params(prepay_id, request.created_at))

    def _pay_params(self, prepay_id: str, at: datetime) -> dict[str, str]:
        """wx.requestPayment's parameters: paySign is SHA256-RSA by the merchant key over appId,
        timeStamp, nonceStr and package, one per line."""
        params = {
            "appId": self._appid,
            "timeStamp": str(int(at.timestamp())),
            "nonceStr": secrets.token_hex(16),
            "package": f"prepay_id={prepay_id}",
            "signType": "RSA",
        }
        params["paySign"] = self._pay.sign(
            [params["appId"], params["timeStamp"], params["nonceStr"], params["package"]]
        )
        return params

    def query(self, order_no: str) -> TradeStatus:
        try:
            reply = self._json(self._call(self._pay.query, out_trade_no=order_no))
        except GatewayError as exc:
            if exc.code == "ORDER_NOT_EXIST":
                # Never reached WeChat (the create call failed): nothing can have been paid.
                return TradeStatus(order_no, "unpaid", None, None, None)
            raise
        try:
            state = TRADE_STATES[reply["trade_state"]]
        except KeyError:
            raise GatewayError(f"unknown trade_state in {sorted(reply)}") from None
        paid = state in PAID_STATES
        try:
            return TradeStatus(
                order_no=order_no,
                state=state,  # type: ignore[arg-type]
                total_fen=int(reply["amount"]["total"]) if paid else None,
                transaction_id=reply.get("transaction_id") if paid else None,
                paid_at=rfc3339(reply["success_time"]) if paid else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise GatewayError(f"WeChat Pay's order answer lacks a valid {exc}") from exc

    def close(self, order_no: str) -> None:
        try:
            self._call(self._pay.close, out_trade_no=order_no)
        except GatewayError as exc:
            if exc.code in ("ORDER_CLOSED", "ORDER_NOT_EXIST"):
                return  # closed already, or never created: either way nobody can pay it now
            if exc.code == "ORDERPAID":
                raise AlreadyPaid(str(exc), exc.code) from exc
            raise

    def refund(self, request: RefundRequest) -> RefundResult:
        reply = self._json(
            self._call(
                self._pay.refund,
                out_refund_no=request.refund_no,
                amount={
                    "refund": request.refund_fen,
                    "total": request.total_fen,
                    "currency": "CNY",
                },
                out_trade_no=request.order_no,
                reason=request.reason,
                notify_url=self._refund_notify_url,
            )
        )
        return self._refund_result(request.refund_no, reply)

    def query_refund(self, refund_no: str) -> RefundResult:
        try:
            reply = self._json(self._call(self._pay.query_refund, out_refund_no=refund_no))
        except GatewayError as exc:
            if exc.code == "RESOURCE_NOT_EXISTS":
                raise GatewayError(f"refund {refund_no} unknown to WeChat Pay", exc.code) from exc
            raise
        return self._refund_result(refund_no, reply)

    def download_bill(self, day: date) -> str | None:
        try:
            answer = self._json(
                self._call(self._pay.trade_bill, bill_date=day.isoformat(), tar_type="GZIP")
            )
        except GatewayError as exc:
            if exc.code == "NO_STATEMENT_EXIST":
                return None
            raise
        url, expected = _required(answer, "download_url"), _required(answer, "hash_value")
        # The file is not signed: the SHA1 that came signed with its address vouches for it.
        status, body = self._call_raw(self._pay.download_bill, url=url)
        if status != 200 or not isinstance(body, bytes):
            raise GatewayError(f"the bill download answered {status}", None, retryable=True)
        try:
            raw = gzip.decompress(body)
        except (OSError, EOFError) as exc:
            raise GatewayError(
                "the bill download is not the gzip file asked for", None, True
            ) from exc
        if hashlib.sha1(raw).hexdigest().lower() != expected.lower():
            raise GatewayError("the bill download does not match its SHA1", None, retryable=True)
        return raw.decode("utf-8")

    def read_bill(self, path: Path) -> Bill:
        return PlainBill(parse_file(path))

    def parse_payment_notice(
        self, body: bytes, headers: Mapping[str, str] | None = None
    ) -> PaymentNotice:
        return self._notices.payment(body, headers or {})

    def parse_refund_notice(
        self, body: bytes, headers: Mapping[str, str] | None = None
    ) -> RefundResult:
        return self._notices.refund(body, headers or {})

    def acknowledgement(self, ok: bool, message: str = "OK") -> tuple[bytes, str]:
        return self._notices.reply(ok, message)

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _refund_result(refund_no: str, reply: dict[str, Any]) -> RefundResult:
        try:
            return refund_result(refund_no, reply, "status")
        except (KeyError, TypeError, ValueError) as exc:
            raise GatewayError(f"WeChat Pay's refund answer lacks a valid {exc}") from exc

    def _call_raw(self, method, **kwargs) -> tuple[int, str | bytes]:
        try:
            return method(**kwargs)
        except requests.RequestException as exc:
            raise GatewayError(
                f"WeChat Pay unreachable: {exc.__class__.__name__}", None, retryable=True
            ) from exc
        except Exception as exc:  # the library raises a bare Exception for a bad reply signature
            if "verify the signature" in str(exc):
                raise GatewayError("WeChat Pay reply signature invalid") from exc
            raise

    def _call(self, method, **kwargs) -> tuple[int, str | bytes]:
        status, body = self._call_raw(method, **kwargs)
        if 200 <= status < 300:
            return status, body
        try:
            error = json.loads(body)
            code, message = str(error["code"]), str(error.get("message", ""))
        except (ValueError, TypeError, KeyError):
            # No v3 error body: a proxy or the platform's front failed; worth another try.
            raise GatewayError(f"WeChat Pay answered HTTP {status}", None, True) from None
        retryable = status >= 500 or code in _RETRYABLE
        raise GatewayError(f"{code}: {message}", code, retryable)

    @staticmethod
    def _json(answer: tuple[int, str | bytes]) -> dict[str, Any]:
        _, body = answer
        try:
            data = json.loads(body)
        except (ValueError, TypeError):
            raise GatewayError(
                "WeChat Pay answered something other than JSON", None, True
            ) from None
        if not isinstance(data, dict):
            raise GatewayError("WeChat Pay answered something other than a JSON object")
        return data


def _required(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise GatewayError(f"WeChat Pay's answer lacks {name}")
    return value

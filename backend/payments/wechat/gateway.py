"""The WeChat Pay API v2 adapter of the payment gateway port, on wechatpy 1.8.18.

The same code talks to the fake platform (`make run`, tests), the sandbox and the live platform;
only the base URL and keys differ (WECHAT_MODE). What wechatpy leaves to its caller is done here:
reply signatures are verified (wechatpy never checks them, and an orderquery reply decides
whether money is credited), notifications are checked for our appid and mch_id, signatures are
compared in constant time, and network failures become retryable GatewayErrors.
"""

from __future__ import annotations

import hmac
import logging
from datetime import UTC, date, datetime
from typing import Any

import requests
import xmltodict
from wechatpy.exceptions import InvalidSignatureException, WeChatPayException
from wechatpy.pay import WeChatPay
from wechatpy.pay.utils import calculate_signature, dict_to_xml

from backend.payments.gateway import (
    PAID_STATES,
    GatewayError,
    InvalidNotification,
    PaymentNotice,
    PaymentRequest,
    PaymentStarted,
    RefundRequest,
    RefundStatus,
    TradeStatus,
)
from backend.values.beijing import BEIJING

log = logging.getLogger(__name__)

_RETRYABLE = {"SYSTEMERROR", "BIZERR_NEED_RETRY", "FREQUENCY_LIMITED", "INVALID_REQ_TOO_MUCH"}


def beijing_time(value: str) -> datetime:
    """'20191105143000' (Beijing) → an aware UTC datetime."""
    return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=BEIJING).astimezone(UTC)


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
        self._appid, self._mch_id = appid, mch_id
        self._notify_url, self._refund_notify_url = notify_url, refund_notify_url

    # -- the port -------------------------------------------------------------------------

    def create(self, request: PaymentRequest) -> PaymentStarted:
        reply = self._call(
            self._pay.order.create,
            trade_type=request.trade_type,
            body=request.description,
            total_fee=request.total_fen,
            notify_url=self._notify_url,
            client_ip=request.client_ip,
            user_id=request.openid,
            out_trade_no=request.out_trade_no,
            product_id=request.product_id,
            attach=request.attach,
            time_expire=request.expires_at.astimezone(BEIJING),
        )
        prepay_id = reply.get("prepay_id")
        if request.trade_type == "NATIVE":
            return PaymentStarted(prepay_id, reply.get("code_url"), None)
        params = self._pay.jsapi.get_jsapi_params(prepay_id)
        return PaymentStarted(prepay_id, None, {k: str(v) for k, v in params.items()})

    def query(self, out_trade_no: str) -> TradeStatus:
        try:
            reply = self._call(self._pay.order.query, out_trade_no=out_trade_no)
        except GatewayError as exc:
            if exc.code == "ORDERNOTEXIST":
                # Never reached WeChat (the create call failed): nothing can have been paid.
                return TradeStatus(out_trade_no, "NOTPAY", None, None, None)
            raise
        paid = reply.get("trade_state") in PAID_STATES
        return TradeStatus(
            out_trade_no=out_trade_no,
            state=reply["trade_state"],
            total_fen=int(reply["total_fee"]) if paid else None,
            transaction_id=reply.get("transaction_id") if paid else None,
            paid_at=beijing_time(reply["time_end"]) if paid and reply.get("time_end") else None,
        )

    def close(self, out_trade_no: str) -> None:
        try:
            self._call(self._pay.order.close, out_trade_no=out_trade_no)
        except GatewayError as exc:
            if exc.code in ("ORDERCLOSED", "ORDERNOTEXIST"):
                return  # closed already, or never created: either way nobody can pay it now
            raise

    def refund(self, request: RefundRequest) -> RefundStatus:
        reply = self._call(
            self._pay.refund.apply,
            total_fee=request.total_fen,
            refund_fee=request.refund_fen,
            out_refund_no=request.out_refund_no,
            out_trade_no=request.out_trade_no,
            refund_desc=request.reason,
            notify_url=self._refund_notify_url,
        )
        return RefundStatus(
            request.out_refund_no,
            reply.get("refund_id"),
            "PROCESSING",
            request.refund_fen,
            None,
            reply.get("out_trade_no"),
        )

    def query_refund(self, out_refund_no: str) -> RefundStatus:
        reply = self._call(self._pay.refund.query, out_refund_no=out_refund_no)
        for n in range(int(reply.get("refund_count", 0))):
            if reply.get(f"out_refund_no_{n}") == out_refund_no:
                done = reply.get(f"refund_success_time_{n}")
                return RefundStatus(
                    out_refund_no,
                    reply.get(f"refund_id_{n}"),
                    reply[f"refund_status_{n}"],
                    int(reply[f"refund_fee_{n}"]),
                    datetime.strptime(done, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
                    if done
                    else None,
                    reply.get("out_trade_no"),
                )
        raise GatewayError(f"refund {out_refund_no} missing from the reply", "REFUNDNOTEXIST")

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

    def parse_payment_notice(self, body: bytes) -> PaymentNotice:
        data = self._verified_notification(body)
        try:
            return PaymentNotice(
                out_trade_no=data["out_trade_no"],
                transaction_id=data.get("transaction_id", ""),
                total_fen=int(data["total_fee"]),
                paid_at=beijing_time(data["time_end"]),
                openid=data.get("openid"),
                success=data.get("result_code") == "SUCCESS",
            )
        except (KeyError, ValueError) as exc:
            raise InvalidNotification(f"notification lacks a valid {exc}") from exc

    def parse_refund_notice(self, body: bytes) -> RefundStatus:
        try:
            data = self._pay.parse_refund_notify_result(body)
        except Exception as exc:  # wechatpy raises several kinds for a body it cannot decrypt
            raise InvalidNotification(f"refund notification rejected: {exc}") from exc
        try:
            done = data.get("success_time")
            return RefundStatus(
                data["out_refund_no"],
                data.get("refund_id"),
                data["refund_status"],
                int(data["refund_fee"]),
                datetime.strptime(done, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
                if done
                else None,
                data.get("out_trade_no"),
            )
        except (KeyError, ValueError) as exc:
            raise InvalidNotification(f"refund notification lacks a valid {exc}") from exc

    def acknowledgement(self, ok: bool, message: str = "OK") -> tuple[bytes, str]:
        """The exact reply WeChat recognises; anything else makes it send again."""
        body = {"return_code": "SUCCESS" if ok else "FAIL", "return_msg": message}
        return dict_to_xml(body).encode(), "application/xml"

    # -- helpers --------------------------------------------------------------------------

    def _signing_key(self) -> str:
        return self._pay.sandbox_api_key if self._pay.sandbox else self._pay.api_key

    def _verified_notification(self, body: bytes) -> dict[str, Any]:
        try:
            data = dict(xmltodict.parse(body)["xml"])
        except Exception as exc:  # any body that is not the XML WeChat sends
            raise InvalidNotification("notification is not WeChat Pay XML") from exc
        self._check_signed(data, InvalidNotification)
        if data.get("return_code") != "SUCCESS":
            raise InvalidNotification(f"notification reports failure: {data.get('return_msg')}")
        if data.get("appid") != self._appid or data.get("mch_id") != self._mch_id:
            raise InvalidNotification("notification is for another appid or merchant")
        return data

    def _check_signed(self, data: dict[str, Any], error: type[GatewayError]) -> None:
        received = str(data.pop("sign", ""))
        expected = calculate_signature(
            {k: v for k, v in data.items() if v not in (None, "")}, self._signing_key()
        )
        if not hmac.compare_digest(received.encode(), expected.encode()):
            raise error("signature does not verify")

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
        self._check_signed(dict(reply), GatewayError)
        return reply

    @staticmethod
    def _error(exc: WeChatPayException) -> GatewayError:
        code = exc.errcode or (None if exc.return_code == "SUCCESS" else exc.return_code)
        message = exc.errmsg or exc.return_msg or "WeChat Pay refused the request"
        # No return_code at all: the HTTP layer failed (5xx); worth another try.
        retryable = code in _RETRYABLE or exc.return_code is None
        return GatewayError(f"{code}: {message}" if code else message, code, retryable)

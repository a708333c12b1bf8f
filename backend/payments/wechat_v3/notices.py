"""WeChat Pay API v3 callbacks: a JSON envelope whose `resource` is the transaction (or refund)
sealed with AES-256-GCM under the APIv3 key, the whole body signed by the platform key in the
Wechatpay-* headers. Only the HTTP status answers one: 2xx received, anything else sent again.

wechatpayv3 verifies the signature and opens the resource; what it leaves to its caller is done
here: the serial is ours before anything else (an unknown serial would make the library fetch
/v3/certificates for it), the timestamp is recent (a replayed callback is refused), the event and
the merchant are the ones expected.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from wechatpayv3 import WeChatPay

from backend.payments.gateway import GatewayError, InvalidNotification, PaymentNotice, RefundResult

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
MAX_SKEW_S = 300  # WeChat's own limit for a signed message's timestamp
# v3 refund_status / status -> ours. ABNORMAL: the money could not reach the payer's account
# (closed card...); as v2's CHANGE it stays with the merchant until a person arranges it.
REFUND_STATES = {
    "PROCESSING": "processing",
    "SUCCESS": "succeeded",
    "CLOSED": "failed",
    "ABNORMAL": "failed",
}
PAYMENT_EVENTS = frozenset({"TRANSACTION.SUCCESS"})
REFUND_EVENTS = frozenset({"REFUND.SUCCESS", "REFUND.ABNORMAL", "REFUND.CLOSED"})

_FAIL = json.dumps({"code": "FAIL", "message": "失败"}, ensure_ascii=False)


def rfc3339(value: str) -> datetime:
    """'2019-11-05T14:30:00+08:00' -> an aware datetime. ValueError for a naive or bad one."""
    moment = datetime.fromisoformat(value)
    if moment.utcoffset() is None:
        raise ValueError(f"not an RFC 3339 time with an offset: {value!r}")
    return moment


def refund_result(refund_no: str, data: dict[str, Any], status_field: str) -> RefundResult:
    """A v3 refund object (a refund call's answer: `status`; a refund callback's resource:
    `refund_status`) in our words. KeyError, TypeError, ValueError or GatewayError for a bad one."""
    done = data.get("success_time")
    return RefundResult(
        refund_no=refund_no,
        platform_refund_id=data.get("refund_id"),
        state=refund_state(data[status_field]),  # type: ignore[arg-type]
        refund_fen=int(data["amount"]["refund"]),
        succeeded_at=rfc3339(done) if done else None,
        order_no=data.get("out_trade_no"),
    )


def refund_state(value: str) -> str:
    try:
        return REFUND_STATES[value]
    except KeyError:
        raise GatewayError(f"unknown refund status {value!r}") from None


def _header(headers: Mapping[str, str], name: str) -> str:
    # Flask's headers are case-insensitive; a plain dict from a test may not be.
    return headers.get(name) or headers.get(name.lower()) or ""


class Notices:
    """Reads the v3 callbacks of one merchant."""

    def __init__(
        self,
        pay: WeChatPay,
        appid: str,
        mch_id: str,
        public_key_id: str,
        wall_clock: Callable[[], float],
    ) -> None:
        self._pay, self._appid, self._mch_id = pay, appid, mch_id
        self._public_key_id = public_key_id
        # Real seconds: WeChat signs with its own clock, not the business clock of a demo.
        self._wall_clock = wall_clock

    def payment(self, body: bytes, headers: Mapping[str, str]) -> PaymentNotice:
        event, data = self._opened(body, headers)
        if event not in PAYMENT_EVENTS:
            raise InvalidNotification(f"not a payment event: {event}")
        if data.get("appid") != self._appid:
            raise InvalidNotification("notification is for another appid")
        try:
            return PaymentNotice(
                order_no=data["out_trade_no"],
                transaction_id=data.get("transaction_id", ""),
                total_fen=int(data["amount"]["total"]),
                paid_at=rfc3339(data["success_time"]),
                payer=(data.get("payer") or {}).get("openid"),
                success=data.get("trade_state") == "SUCCESS",
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidNotification(f"notification lacks a valid {exc}") from exc

    def refund(self, body: bytes, headers: Mapping[str, str]) -> RefundResult:
        event, data = self._opened(body, headers)
        if event not in REFUND_EVENTS:
            raise InvalidNotification(f"not a refund event: {event}")
        try:
            return refund_result(data["out_refund_no"], data, "refund_status")
        except (KeyError, TypeError, ValueError, GatewayError) as exc:
            raise InvalidNotification(f"refund notification lacks a valid {exc}") from exc

    @staticmethod
    def reply(ok: bool, message: str = "OK") -> tuple[bytes, str]:
        """v3 reads only the status code; a refusal carries WeChat's FAIL body for its logs."""
        if ok:
            return b"", "text/plain"
        return _FAIL.encode(), "application/json"

    def _opened(self, body: bytes, headers: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
        if _header(headers, "Wechatpay-Serial") != self._public_key_id:
            raise InvalidNotification("signed with a key that is not our WeChat Pay public key")
        if _header(headers, "Wechatpay-Signature-Type") not in ("", SIGNATURE_TYPE):
            raise InvalidNotification("unknown signature type")
        try:
            stamp = int(_header(headers, "Wechatpay-Timestamp"))
        except ValueError:
            raise InvalidNotification("no valid Wechatpay-Timestamp") from None
        if abs(self._wall_clock() - stamp) > MAX_SKEW_S:
            raise InvalidNotification("Wechatpay-Timestamp is too far from now (a replay?)")
        signed = {
            name: _header(headers, name)
            for name in (
                "Wechatpay-Signature",
                "Wechatpay-Timestamp",
                "Wechatpay-Nonce",
                "Wechatpay-Serial",
            )
        }
        signed["Wechatpay-Signature-Type"] = SIGNATURE_TYPE
        try:
            opened = self._pay.callback(signed, body)
        except Exception as exc:  # the library raises bare Exceptions and cryptography errors
            raise InvalidNotification(f"notification rejected: {exc.__class__.__name__}") from exc
        if not opened:
            raise InvalidNotification("signature or encryption does not verify")
        resource = opened.get("resource")
        if not isinstance(resource, dict):
            raise InvalidNotification("notification resource is not an object")
        if resource.get("mchid") != self._mch_id:
            raise InvalidNotification("notification is for another merchant")
        return str(opened.get("event_type", "")), resource

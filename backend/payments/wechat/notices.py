"""WeChat Pay's callbacks: the payment-result notification (signed XML), the refund
notification (req_info, AES-256-ECB with the MD5 of the merchant key) and the replies WeChat
recognises. What wechatpy leaves to its caller is done here: signatures compared in constant
time, the appid and merchant checked."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import xmltodict
from wechatpy.pay import WeChatPay
from wechatpy.pay.utils import calculate_signature, dict_to_xml

from backend.payments.gateway import (
    GatewayError,
    InvalidNotification,
    PaymentNotice,
    RefundResult,
)
from backend.values.beijing import BEIJING

# WeChat's refund_status -> ours. CHANGE: the money could not reach the payer (closed card...);
# it stays with the merchant and a person must arrange it, so here it counts as not given back.
REFUND_STATES = {
    "PROCESSING": "processing",
    "SUCCESS": "succeeded",
    "REFUNDCLOSE": "failed",
    "CHANGE": "failed",
}


def beijing_time(value: str) -> datetime:
    """'20191105143000' (Beijing) -> an aware UTC datetime."""
    return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=BEIJING).astimezone(UTC)


def beijing_seconds(value: str) -> datetime:
    """'2019-11-05 14:30:00' (Beijing, refund times) -> an aware datetime."""
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)


def check_signed(data: dict[str, Any], key: str, error: type[GatewayError]) -> None:
    """The MD5 signature over every non-empty field but `sign`, compared in constant time."""
    received = str(data.pop("sign", ""))
    expected = calculate_signature({k: v for k, v in data.items() if v not in (None, "")}, key)
    if not hmac.compare_digest(received.encode(), expected.encode()):
        raise error("signature does not verify")


def refund_state(value: str) -> str:
    try:
        return REFUND_STATES[value]
    except KeyError:
        raise GatewayError(f"unknown refund_status {value!r}") from None


class Notices:
    """Reads WeChat's callbacks for one merchant."""

    def __init__(self, pay: WeChatPay, appid: str, mch_id: str, key: Callable[[], str]) -> None:
        # The key is asked for when needed: in sandbox mode wechatpy fetches it from WeChat.
        self._pay, self._appid, self._mch_id, self._key = pay, appid, mch_id, key

    def payment(self, body: bytes) -> PaymentNotice:
        data = self._verified(body)
        try:
            return PaymentNotice(
                order_no=data["out_trade_no"],
                transaction_id=data.get("transaction_id", ""),
                total_fen=int(data["total_fee"]),
                paid_at=beijing_time(data["time_end"]),
                payer=data.get("openid"),
                success=data.get("result_code") == "SUCCESS",
            )
        except (KeyError, ValueError) as exc:
            raise InvalidNotification(f"notification lacks a valid {exc}") from exc

    def refund(self, body: bytes) -> RefundResult:
        try:
            data = self._pay.parse_refund_notify_result(body)
        except Exception as exc:  # wechatpy raises several kinds for a body it cannot decrypt
            raise InvalidNotification(f"refund notification rejected: {exc}") from exc
        try:
            done = data.get("success_time")
            return RefundResult(
                refund_no=data["out_refund_no"],
                platform_refund_id=data.get("refund_id"),
                state=refund_state(data["refund_status"]),  # type: ignore[arg-type]
                refund_fen=int(data["refund_fee"]),
                succeeded_at=beijing_seconds(done) if done else None,
                order_no=data.get("out_trade_no"),
            )
        except (KeyError, ValueError, GatewayError) as exc:
            raise InvalidNotification(f"refund notification lacks a valid {exc}") from exc

    @staticmethod
    def reply(ok: bool, message: str = "OK") -> tuple[bytes, str]:
        """The exact reply WeChat recognises; anything else makes it send again."""
        body = {"return_code": "SUCCESS" if ok else "FAIL", "return_msg": message}
        return dict_to_xml(body).encode(), "application/xml"

    def _verified(self, body: bytes) -> dict[str, Any]:
        try:
            data = dict(xmltodict.parse(body)["xml"])
        except Exception as exc:  # any body that is not the XML WeChat sends
            raise InvalidNotification("notification is not WeChat Pay XML") from exc
        check_signed(data, self._key(), InvalidNotification)
        if data.get("return_code") != "SUCCESS":
            raise InvalidNotification(f"notification reports failure: {data.get('return_msg')}")
        if data.get("appid") != self._appid or data.get("mch_id") != self._mch_id:
            raise InvalidNotification("notification is for another appid or merchant")
        return data

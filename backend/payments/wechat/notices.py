"""WeChat Pay's callbacks: the payment-result notification (signed XML), the refund
notification (req_info, AES-256-ECB with the MD5 of the merchant key) and the replies WeChat
recognises. What wechatpy leaves to its caller is done here: signatures compared in constant
time, the appid and merchant checked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from wechatpy.pay import WeChatPay
from wechatpy.pay.utils import dict_to_xml

from backend.payments.gateway import (
    GatewayError,
    InvalidNotification,
    PaymentNotice,
    RefundResult,
)
from backend.payments.wechat.wire import read_xml, signed_by
from backend.values.beijing import BEIJING

# WeChat's refund_status -> ours. CHANGE: the money could not reach the payer (closed card...);
# it stays with the merchant and a person must arrange it, so here it counts as not given back.
REFUND_STATES = {
    "PROCESSING": "processing",
    "SUCCESS": "succeeded",
    "REFUNDCLOSE": "failed",
    "CHANGE": "failed",
}


_OK = dict_to_xml({"return_code": "SUCCESS", "return_msg": "OK"}).encode()


def beijing_time(value: str) -> datetime:
    """'20191105143000' (Beijing) -> an aware UTC datetime. ValueError for anything else."""
    if len(value) != 14 or not value.isdigit():
        raise ValueError(f"not a WeChat time: {value!r}")
    parts = (value[0:4], value[4:6], value[6:8], value[8:10], value[10:12], value[12:14])
    return datetime(*map(int, parts), tzinfo=BEIJING).astimezone(UTC)


def beijing_seconds(value: str) -> datetime:
    """'2019-11-05 14:30:00' (Beijing, refund times) -> an aware datetime."""
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)


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
        if ok and message == "OK":
            return _OK, "application/xml"  # every credited notification: built once
        body = {"return_code": "SUCCESS" if ok else "FAIL", "return_msg": message}
        return dict_to_xml(body).encode(), "application/xml"

    def _verified(self, body: bytes) -> dict[str, Any]:
        try:
            data = read_xml(body)
        except ValueError as exc:  # any body that is not the XML WeChat sends
            raise InvalidNotification("notification is not WeChat Pay XML") from exc
        if not signed_by(data, self._key()):
            raise InvalidNotification("signature does not verify")
        if data.get("return_code") != "SUCCESS":
            raise InvalidNotification(f"notification reports failure: {data.get('return_msg')}")
        if data.get("appid") != self._appid or data.get("mch_id") != self._mch_id:
            raise InvalidNotification("notification is for another appid or merchant")
        return data

"""API v3 JSON: the transaction and refund objects (query answers and callback resources) and the
callbacks WeChat Pay POSTs to a v3 order's notify_url.

A callback is `{id, create_time, event_type, resource_type: encrypt-resource, summary, resource}`
whose resource is the transaction (or refund) encrypted under the APIv3 key; each delivery attempt
is signed afresh with the platform key. Only the HTTP status acknowledges it: 200 or 204.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from fakes.wechat import beijing, v3_wire
from fakes.wechat.trades import NOTPAY, Refund, Trade
from fakes.wechat.v3keys import V3Keys

TRADE_STATE_DESC = {
    "NOTPAY": "订单未支付",
    "SUCCESS": "支付成功",
    "REFUND": "转入退款",
    "CLOSED": "订单已关闭",
}
V3_RECEIVED_INTO = "支付用户零钱"  # v3 spells the balance account without v2's 的


def rfc3339(epoch: float) -> str:
    """`2026-12-04T09:30:00+08:00`: v3 times are RFC 3339 in Beijing time."""
    return beijing.at(epoch).isoformat(timespec="seconds")


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def transaction(trade: Trade, state: str) -> dict[str, Any]:
    """The order as GET /v3/pay/transactions/… answers it (state: its trade_state now)."""
    data: dict[str, Any] = {
        "appid": trade.appid,
        "mchid": trade.mch_id,
        "out_trade_no": trade.out_trade_no,
        "trade_type": trade.trade_type,
        "trade_state": state,
        "trade_state_desc": TRADE_STATE_DESC.get(state, state),
        "attach": trade.attach,
        "amount": {"total": trade.total_fee, "currency": "CNY", "payer_currency": "CNY"},
        "promotion_detail": [],
    }
    if trade.paid_at is not None and state != NOTPAY:
        data.update(
            transaction_id=trade.transaction_id,
            bank_type=trade.bank_type,
            success_time=rfc3339(trade.paid_at),
            payer={"openid": trade.openid},
        )
        data["amount"]["payer_total"] = trade.total_fee
    return data


def refund(trade: Trade, r: Refund) -> dict[str, Any]:
    """A refund as POST/GET /v3/refund/domestic/refunds answer it."""
    data: dict[str, Any] = {
        "refund_id": r.refund_id,
        "out_refund_no": r.out_refund_no,
        "transaction_id": trade.transaction_id,
        "out_trade_no": trade.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": V3_RECEIVED_INTO,
        "create_time": rfc3339(r.requested_at),
        "status": r.status,
        "funds_account": "AVAILABLE"
        if r.refund_account == "REFUND_SOURCE_RECHARGE_FUNDS"
        else "UNSETTLED",
        "amount": {
            "total": trade.total_fee,
            "refund": r.refund_fee,
            "from": [],
            "payer_total": trade.total_fee,
            "payer_refund": r.refund_fee,
            "settlement_refund": r.refund_fee,
            "settlement_total": trade.total_fee,
            "discount_refund": 0,
            "currency": "CNY",
            "refund_fee": 0,
        },
        "promotion_detail": [],
    }
    if r.succeeded_at is not None:
        data["success_time"] = rfc3339(r.succeeded_at)
    return data


def acknowledged(status: int, body: bytes) -> bool:
    return status in (200, 204)


class V3Notices:
    """Builds v3 callbacks for the ledger (PayLedger.v3): (body, Notifier.send wire options)."""

    def __init__(self, keys: V3Keys, clock: Callable[[], float]) -> None:
        self.keys = keys
        self.clock = clock  # the ledger's wall clock: create_time
        self._platform_key = v3_wire.load_private(keys.platform_key_pem)

    def payment(self, trade: Trade) -> tuple[bytes, dict[str, Any]]:
        assert trade.paid_at is not None
        resource = transaction(trade, "SUCCESS")  # the payment as it happened
        return self._callback("TRANSACTION.SUCCESS", "支付成功", "transaction", resource)

    def refund(self, trade: Trade, r: Refund) -> tuple[bytes, dict[str, Any]]:
        assert r.succeeded_at is not None
        resource = {
            "mchid": trade.mch_id,
            "out_trade_no": trade.out_trade_no,
            "transaction_id": trade.transaction_id,
            "out_refund_no": r.out_refund_no,
            "refund_id": r.refund_id,
            "refund_status": r.status,
            "success_time": rfc3339(r.succeeded_at),
            "user_received_account": V3_RECEIVED_INTO,
            "amount": {
                "total": trade.total_fee,
                "refund": r.refund_fee,
                "payer_total": trade.total_fee,
                "payer_refund": r.refund_fee,
            },
        }
        return self._callback("REFUND.SUCCESS", "退款成功", "refund", resource)

    def _callback(
        self, event_type: str, summary: str, original_type: str, resource: dict[str, Any]
    ) -> tuple[bytes, dict[str, Any]]:
        sealed = v3_wire.encrypt_resource(self.keys.apiv3_key, dumps(resource), original_type)
        text = dumps(
            {
                "id": secrets.token_hex(18),
                "create_time": rfc3339(self.clock()),
                "resource_type": "encrypt-resource",
                "event_type": event_type,
                "summary": summary,
                "resource": {"original_type": original_type, **sealed},
            }
        )

        def headers() -> dict[str, str]:
            # Signed at each attempt, on the real clock merchants check timestamps against.
            signed = v3_wire.signed_headers(
                self._platform_key, self.keys.platform_key_id, text, time.time()
            )
            return {"Content-Type": "application/json", **signed}

        return text.encode(), {"headers": headers, "ack": acknowledged}

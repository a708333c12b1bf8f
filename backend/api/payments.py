"""WeChat Pay's callbacks: the payment-result notification and the refund notification.

WeChat retries until it reads the SUCCESS reply, so anything we cannot record safely is answered
FAIL: it comes back later, and the order poller asks WeChat in the meantime. Only the refusals
the services name are answered FAIL here; a bug is a 500 that is logged as one.
"""

from __future__ import annotations

import logging

from flask import request
from flask_smorest import Blueprint

from backend.infra.web import clock, payment_gateway, unit_of_work
from backend.orders.crediting import ReportedPayment, UnknownOrder, record_payment
from backend.payments.gateway import InvalidNotification, PaymentGateway
from backend.payments.wechat.routes import (
    NOTIFY_PATH,
    PREFIX,
    REFUND_NOTIFY_PATH,
    V3_NOTIFY_PATH,
    V3_REFUND_NOTIFY_PATH,
)
from backend.refunds.service import NoticeMismatch, UnknownRefund, record_result

log = logging.getLogger(__name__)

blp = Blueprint(
    "payments",
    __name__,
    url_prefix=PREFIX,
    description="WeChat Pay callbacks (API v2 XML and API v3 JSON, signed by WeChat)",
)
BLUEPRINTS = [blp]


# The v2 replies are WeChat's XML (<xml><return_code>SUCCESS|FAIL</return_code>...), not JSON.
_XML = {"content_type": "application/xml", "schema": {"type": "string"}}


_FAIL_JSON = {
    "content_type": "application/json",
    "schema": {
        "type": "object",
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
    },
}


def _json_replies(*refusals: tuple[int, str]):
    """Document the v3 replies: an empty 200, and each refusal as {code: FAIL} with its status."""

    def decorate(view):
        view = blp.alt_response(200, description="recorded (or already); empty body")(view)
        view = blp.alt_response(400, description="not a valid notification", **_FAIL_JSON)(view)
        view = blp.alt_response(503, description="API v3 not set up here")(view)
        for status, description in refusals:
            view = blp.alt_response(status, description=description, **_FAIL_JSON)(view)
        return view

    return decorate


def _xml_replies(*refusals: tuple[int, str]):
    """Document the XML replies: 200 SUCCESS, and each refusal as FAIL with its status."""

    def decorate(view):
        view = blp.alt_response(200, description="SUCCESS: recorded (or already)", **_XML)(view)
        view = blp.alt_response(400, description="FAIL: not a valid notification", **_XML)(view)
        for status, description in refusals:
            view = blp.alt_response(status, description=f"FAIL: {description}", **_XML)(view)
        return view

    return decorate


def _gateway(api: str) -> PaymentGateway | None:
    """The adapter that reads `api`'s callbacks; None when that API is not set up here."""
    try:
        return payment_gateway(api)
    except ValueError as exc:  # v3's key set missing: no v3 order can have been placed
        log.error("WeChat Pay %s callback, but %s is not set up: %s", api, api, exc)
        return None


def _reply(gateway: PaymentGateway | None, ok: bool, message: str, status: int = 200):
    if gateway is None:
        return "WeChat Pay API not configured", 503, {"Content-Type": "text/plain"}
    body, content_type = gateway.acknowledgement(ok, message)
    return body, status, {"Content-Type": content_type}


def _payment_notice(api: str):
    gateway = _gateway(api)
    if gateway is None:
        return _reply(None, False, "")
    try:
        notice = gateway.parse_payment_notice(request.get_data(), request.headers)
    except InvalidNotification as exc:
        log.warning("payment notification rejected: %s", exc)
        return _reply(gateway, False, "签名错误", 400)
    if not notice.success:
        log.info("order %s: WeChat reports a failed payment", notice.order_no)
        return _reply(gateway, True, "OK")
    payment = ReportedPayment(
        order_no=notice.order_no,
        transaction_id=notice.transaction_id,
        total_fen=notice.total_fen,
        paid_at=notice.paid_at,
    )
    try:
        decision = record_payment(unit_of_work(), payment, actor="wechat:notify", now=clock().now())
    except UnknownOrder:
        # Money for an order we never made: keep WeChat retrying and let reconciliation show it.
        log.error("payment notification for unknown order %s", notice.order_no)
        return _reply(gateway, False, "unknown out_trade_no", 404)
    if decision.reason == "transaction_conflict":
        return _reply(gateway, False, "transaction_id already recorded", 409)
    if decision.reason == "amount_mismatch":
        log.error(
            "order %s: paid %d fen, order total differs; not credited",
            notice.order_no,
            notice.total_fen,
        )
        return _reply(gateway, False, "total_fee mismatch", 409)
    return _reply(gateway, True, "OK")


def _refund_notice(api: str):
    gateway = _gateway(api)
    if gateway is None:
        return _reply(None, False, "")
    try:
        result = gateway.parse_refund_notice(request.get_data(), request.headers)
    except InvalidNotification as exc:
        log.warning("refund notification rejected: %s", exc)
        return _reply(gateway, False, "解密失败", 400)
    try:
        status = record_result(
            unit_of_work(), result, actor="wechat:refund-notify", now=clock().now()
        )
    except UnknownRefund:
        log.error("refund notification for unknown refund %s", result.refund_no)
        return _reply(gateway, False, "unknown out_refund_no", 404)
    except NoticeMismatch as exc:
        log.error("refund notification does not fit: %s", exc)
        return _reply(gateway, False, "refund does not match", 409)
    log.info("refund %s: notification recorded (%s)", result.refund_no, status.value)
    return _reply(gateway, True, "OK")


@blp.route(NOTIFY_PATH.removeprefix(PREFIX), methods=["POST"])
@blp.doc(
    summary="Payment-result notification (API v2)",
    description="WeChat Pay API v2 XML, MD5-signed with the merchant key. Answered with the "
    "SUCCESS XML once recorded (or already recorded); FAIL otherwise, which makes WeChat retry.",
)
@_xml_replies((404, "no such order"), (409, "another transaction or amount"))
def notify():
    return _payment_notice("v2")


@blp.route(REFUND_NOTIFY_PATH.removeprefix(PREFIX), methods=["POST"])
@blp.doc(
    summary="Refund-result notification (API v2)",
    description="WeChat Pay API v2 XML whose req_info is AES-256-ECB encrypted with the MD5 of "
    "the merchant key (the encryption is the proof it came from WeChat). Answered SUCCESS once "
    "recorded (or already recorded); FAIL otherwise, which makes WeChat retry.",
)
@_xml_replies((404, "no such refund"), (409, "does not match the refund"))
def refund_notify():
    return _refund_notice("v2")


@blp.route(V3_NOTIFY_PATH.removeprefix(PREFIX), methods=["POST"])
@blp.doc(
    summary="Payment-result notification (API v3)",
    description="WeChat Pay API v3 JSON: signed by the WeChat Pay public key in the Wechatpay-* "
    "headers, the transaction sealed with AES-256-GCM under the APIv3 key. An empty 200 once "
    "recorded (or already recorded); otherwise 4xx/503 with {code: FAIL}, which makes WeChat "
    "retry.",
)
@_json_replies((404, "no such order"), (409, "another transaction or amount"))
def notify_v3():
    return _payment_notice("v3")


@blp.route(V3_REFUND_NOTIFY_PATH.removeprefix(PREFIX), methods=["POST"])
@blp.doc(
    summary="Refund-result notification (API v3)",
    description="WeChat Pay API v3 JSON (REFUND.SUCCESS, REFUND.ABNORMAL, REFUND.CLOSED), signed "
    "and sealed as the payment notification. An empty 200 once recorded (or already recorded); "
    "otherwise 4xx/503 with {code: FAIL}, which makes WeChat retry.",
)
@_json_replies((404, "no such refund"), (409, "does not match the refund"))
def refund_notify_v3():
    return _refund_notice("v3")

"""WeChat Pay's callbacks: the payment-result notification and the refund notification.

WeChat retries until it reads the SUCCESS reply, so anything we cannot record safely is answered
FAIL: it comes back later, and the order poller asks WeChat in the meantime.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import request
from flask_smorest import Blueprint

from backend.infra.web import db_session, limiter, payment_gateway
from backend.orders import service
from backend.payments.gateway import InvalidNotification
from backend.refunds import service as refunds

log = logging.getLogger(__name__)

blp = Blueprint(
    "payments",
    __name__,
    url_prefix="/api/payments/wechat",
    description="WeChat Pay callbacks (XML, signed by WeChat)",
)
BLUEPRINTS = [blp]


@limiter.request_filter
def _wechat_callbacks_are_not_limited() -> bool:
    """WeChat retries whatever we refuse, so its callbacks are never rate limited; this also
    spares every notification the limiter's per-request bookkeeping."""
    return request.path.startswith(blp.url_prefix)


def _reply(ok: bool, message: str, status: int = 200):
    body, content_type = payment_gateway().acknowledgement(ok, message)
    return body, status, {"Content-Type": content_type}


@blp.route("/notify", methods=["POST"])
@blp.doc(
    summary="Payment-result notification",
    description="WeChat Pay API v2 XML, MD5-signed with the merchant key. Answered with the "
    "SUCCESS XML once recorded (or already recorded); FAIL otherwise, which makes WeChat retry.",
)
def notify():
    try:
        notice = payment_gateway().parse_payment_notice(request.get_data())
    except InvalidNotification as exc:
        log.warning("payment notification rejected: %s", exc)
        return _reply(False, "签名错误", 400)
    if not notice.success:
        log.info("order %s: WeChat reports a failed payment", notice.out_trade_no)
        return _reply(True, "OK")
    payment = service.ReportedPayment(
        order_no=notice.out_trade_no,
        transaction_id=notice.transaction_id,
        total_fen=notice.total_fen,
        paid_at=notice.paid_at,
    )
    try:
        decision = service.record_payment(
            db_session(), payment, actor="wechat:notify", now=datetime.now(UTC)
        )
    except LookupError:
        # Money for an order we never made: keep WeChat retrying and let reconciliation show it.
        log.error("payment notification for unknown order %s", notice.out_trade_no)
        return _reply(False, "unknown out_trade_no", 404)
    if decision.reason == "transaction_conflict":
        return _reply(False, "transaction_id already recorded", 409)
    if decision.reason == "amount_mismatch":
        log.error(
            "order %s: paid %d fen, order total differs; not credited",
            notice.out_trade_no,
            notice.total_fen,
        )
        return _reply(False, "total_fee mismatch", 409)
    return _reply(True, "OK")


@blp.route("/refund-notify", methods=["POST"])
@blp.doc(
    summary="Refund-result notification",
    description="WeChat Pay API v2 XML whose req_info is AES-256-ECB encrypted with the MD5 of "
    "the merchant key (the encryption is the proof it came from WeChat). Answered SUCCESS once "
    "recorded (or already recorded); FAIL otherwise, which makes WeChat retry.",
)
def refund_notify():
    try:
        result = payment_gateway().parse_refund_notice(request.get_data())
    except InvalidNotification as exc:
        log.warning("refund notification rejected: %s", exc)
        return _reply(False, "解密失败", 400)
    try:
        status = refunds.record_result(
            db_session(), result, actor="wechat:refund-notify", now=datetime.now(UTC)
        )
    except LookupError:
        log.error("refund notification for unknown refund %s", result.out_refund_no)
        return _reply(False, "unknown out_refund_no", 404)
    except refunds.RefundNoticeRejected as exc:
        log.error("refund notification does not fit: %s", exc)
        return _reply(False, "refund does not match", 409)
    log.info("refund %s: notification recorded (%s)", result.out_refund_no, status)
    return _reply(True, "OK")

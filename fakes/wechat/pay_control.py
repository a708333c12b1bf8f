"""Control endpoints for WeChat Pay: the payer's side (pay, scan, cancel, wx.requestPayment) and
the operator's (replay a notification, inspect a trade, settle a refund, replay its notification).
JSON in and out.

Notification options, accepted wherever a payment happens:
`"notify": "once" | "missing" | "twice" | "late"` (default once) and `"delay_seconds"` (late only,
real seconds, default 2).
Unknown trades answer 404 `{"error", "err_code"}`, refusals of the trade's state 409; the
wx.requestPayment stand-in answers like the phone, `{"errMsg": "requestPayment:fail ..."}`.
"""

from __future__ import annotations

import re

from flask import Blueprint, current_app, jsonify, request

from fakes.wechat import beijing, signing, v3_pay
from fakes.wechat.pay_state import NOTIFY_MODES, PayError, PayLedger
from fakes.wechat.state import PlatformState
from fakes.wechat.trades import PREPAY_LIFETIME_S

blp = Blueprint("pay_control", __name__, url_prefix="/_control")

SIGNATURE_FAILED = "requestPayment:fail 支付验证签名失败"
STATUS = {"ORDERNOTEXIST": 404, "REFUNDNOTEXIST": 404}  # other refusals are conflicts (409)


class ControlError(Exception):
    def __init__(self, status: int, **body: object) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


@blp.errorhandler(ControlError)
def _control_error(exc: ControlError):
    return jsonify(exc.body), exc.status


@blp.errorhandler(PayError)
def _pay_error(exc: PayError):
    return jsonify(error=exc.des, err_code=exc.code), STATUS.get(exc.code, 409)


def _ledger() -> PayLedger:
    ledger = current_app.extensions["fake_wechat"].pay
    assert ledger is not None
    return ledger


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ControlError(400, error="expected a JSON object")
    return body


def _text(body: dict, name: str, required: bool = True) -> str:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise ControlError(400, error=f"{name} is required")
        return ""
    if not isinstance(value, str | int):
        raise ControlError(400, error=f"{name} must be a string")
    return str(value)


def _notify_options(body: dict) -> tuple[str, float]:
    mode = body.get("notify") or "once"
    if mode not in NOTIFY_MODES:
        raise ControlError(400, error=f"notify must be one of {list(NOTIFY_MODES)}")
    delay = body.get("delay_seconds", 2.0)
    if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
        raise ControlError(400, error="delay_seconds must be a number >= 0")
    return mode, float(delay)


def _pay(key, body: dict, openid: str = "", force: bool = False, **extra: object):
    mode, delay = _notify_options(body)
    ledger = _ledger()
    trade = ledger.pay(key, openid=openid, force=force)
    ledger.notify_payment(key, mode, delay)
    return jsonify(
        out_trade_no=trade.out_trade_no,
        transaction_id=trade.transaction_id,
        trade_state="SUCCESS",
        notify=mode,
        **extra,
    )


@blp.post("/pay")
def pay():
    """The payer pays an order: `{"out_trade_no", "notify"?, "delay_seconds"?, "force"?,
    "openid"? (NATIVE payer), "mch_id"?}`."""
    body = _body()
    key = _ledger().locate(_text(body, "out_trade_no"), body.get("mch_id"))
    openid = _text(body, "openid", required=False) or PlatformState.openid_for("demo-user")
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise ControlError(400, error="force must be true or false")
    return _pay(key, body, openid=openid, force=force)


@blp.post("/request-payment")
def request_payment():
    """wx.requestPayment on the phone: checks the parameters the backend handed the mini-program
    (a v3 order's paySign is RSA by the merchant key), then pays. Failures answer `{"errMsg": "requestPayment:fail ..."}` with 400 (or 409)."""
    body = _body()
    params = {
        k: _text(body, k, required=False)
        for k in ("appId", "timeStamp", "nonceStr", "package", "signType", "paySign")
    }
    ledger = _ledger()
    prepay_id = params["package"].removeprefix("prepay_id=")
    if not params["package"].startswith("prepay_id=") or not prepay_id:
        raise ControlError(400, errMsg="requestPayment:fail package参数错误")
    try:
        key = ledger.locate_by(prepay_id=prepay_id)
    except PayError:
        raise ControlError(400, errMsg="requestPayment:fail prepay_id无效") from None
    trade = ledger.snapshot(key)
    if ledger.now() - trade.prepay_at >= PREPAY_LIFETIME_S:
        raise ControlError(400, errMsg="requestPayment:fail prepay_id已过期")
    merchant = ledger.merchants[trade.mch_id]
    signed = {**params, "appId": params["appId"] or trade.appid}
    reason = None
    if not re.fullmatch(r"\d{10}", params["timeStamp"]):
        reason = "timeStamp must be Unix seconds (10 digits)"
    elif signed["appId"] != trade.appid:
        reason = "appId is not the order's appid"
    elif params["signType"] != trade.sign_type:
        reason = f"signType must be the order's ({trade.sign_type})"
    elif not params["nonceStr"] or len(params["nonceStr"]) > 32:
        reason = "nonceStr must be 1-32 characters"
    elif not (
        v3_pay.pay_sign_verifies(signed)
        if trade.v3
        else params["paySign"] == signing.pay_sign(signed, merchant.key(trade.realm))
    ):
        reason = "paySign does not verify"
    if reason:
        raise ControlError(400, errMsg=SIGNATURE_FAILED, reason=reason)
    try:
        return _pay(key, body, errMsg="requestPayment:ok")
    except PayError as exc:
        raise ControlError(
            409, errMsg=f"requestPayment:fail {exc.des}", err_code=exc.code
        ) from None


@blp.post("/scan")
def scan():
    """A payer scans a NATIVE code and pays: `{"code_url", "user"?, "notify"?, ...}`."""
    body = _body()
    ledger = _ledger()
    try:
        key = ledger.locate_by(code_url=_text(body, "code_url"))
    except PayError:
        raise ControlError(404, error="unknown code_url") from None
    if ledger.now() - ledger.snapshot(key).prepay_at >= PREPAY_LIFETIME_S:
        raise ControlError(409, error="code_url has expired (two hours)")
    user = _text(body, "user", required=False) or "demo-user"
    return _pay(key, body, openid=PlatformState.openid_for(user))


@blp.post("/cancel")
def cancel():
    """The payer backs out of the payment sheet: nothing is paid."""
    body = _body()
    ledger = _ledger()
    key = ledger.locate(_text(body, "out_trade_no"), body.get("mch_id"))
    state = ledger.snapshot(key).state_at(ledger.now())
    return jsonify(errMsg="requestPayment:fail cancel", trade_state=state)


@blp.post("/notify")
def notify():
    """Deliver a paid trade's notification again now (a duplicate, as WeChat sometimes sends)."""
    body = _body()
    mode, delay = _notify_options(body)
    ledger = _ledger()
    key = ledger.locate(_text(body, "out_trade_no"), body.get("mch_id"))
    ledger.notify_payment(key, mode, delay)
    return jsonify(status="queued", notify=mode)


@blp.get("/trades/<out_trade_no>")
def trade_view(out_trade_no: str):
    """The trade as the platform sees it (`?mch_id=` picks a merchant)."""
    ledger = _ledger()
    t = ledger.snapshot(ledger.locate(out_trade_no, request.args.get("mch_id")))
    return jsonify(
        realm=t.realm,
        mch_id=t.mch_id,
        appid=t.appid,
        out_trade_no=t.out_trade_no,
        trade_type=t.trade_type,
        trade_state=t.state_at(ledger.now()),
        total_fee=t.total_fee,
        body=t.body,
        attach=t.attach,
        openid=t.openid,
        product_id=t.product_id,
        prepay_id=t.prepay_id,
        code_url=t.code_url,
        sign_type=t.sign_type,
        notify_url=t.notify_url,
        time_expire=beijing.compact(t.expires_at),
        transaction_id=t.transaction_id or None,
        time_end=beijing.compact(t.paid_at) if t.paid_at else None,
        notify_attempts=[a.view() for a in t.notify_attempts],
        refunds=[
            {
                "out_refund_no": r.out_refund_no,
                "refund_id": r.refund_id,
                "refund_fee": r.refund_fee,
                "refund_status": r.status,
                "success_time": beijing.dashed(r.succeeded_at) if r.succeeded_at else None,
                "notify_url": r.notify_url,
                "notify_attempts": [a.view() for a in r.notify_attempts],
            }
            for r in t.refunds
        ],
    )


@blp.post("/trades/history")
def load_history():
    """Load past payments as they stand (a demo's season): {"trades": [...], "mch_id"?};
    known trades are left alone. Answers {"added", "known"}."""
    body = _body()
    trades = body.get("trades")
    if not isinstance(trades, list):
        raise ControlError(400, error="expected trades: a list")
    ledger = _ledger()
    mch_id = body.get("mch_id") or next(iter(ledger.merchants))
    try:
        added, known = ledger.load_history(mch_id, trades)
    except (KeyError, TypeError, ValueError) as exc:
        raise ControlError(400, error=f"a trade lacks or garbles {exc}") from None
    return jsonify(added=added, known=known)


@blp.post("/refunds/notify")
def notify_refund():
    """Deliver a finished refund's notification again now (a duplicate)."""
    _ledger().notify_refund(_text(_body(), "out_refund_no"))
    return jsonify(status="queued")


@blp.post("/refunds/settle")
def settle_refund():
    """Complete a PROCESSING refund now instead of after the processing delay."""
    trade, refund = _ledger().settle_refund(_text(_body(), "out_refund_no"))
    return jsonify(
        out_trade_no=trade.out_trade_no,
        out_refund_no=refund.out_refund_no,
        refund_id=refund.refund_id,
        refund_status=refund.status,
    )

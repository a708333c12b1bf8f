"""Control endpoints for tests and demos: health, reset and fault switches.

The payer's and operator's WeChat Pay controls are in pay_control.py, under the same prefix.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

blp = Blueprint("control", __name__, url_prefix="/_control")

KNOWN_FAULTS = {
    "login_busy",  # jscode2session answers errcode -1
    "pay_systemerror",  # unifiedorder, orderquery, closeorder answer result_code FAIL SYSTEMERROR
    "pay_http_500",  # every WeChat Pay call answers HTTP 500
    "refund_systemerror",  # secapi/pay/refund answers SYSTEMERROR (retry with the same number)
    "refund_notify_lost",  # refunds complete without a notification (refundquery finds them)
    "bill_creating",  # downloadbill answers return_code FAIL "Bill Creating"
    "pay_slow",  # seconds every WeChat Pay call waits before answering (0 or false: none)
}
NUMERIC_FAULTS = {"pay_slow"}


@blp.get("/health")
def health():
    return jsonify(status="ok")


@blp.post("/reset")
def reset():
    """Forget login codes, faults and every trade; pending notifications are dropped."""
    current_app.extensions["fake_wechat"].reset()
    return jsonify(status="reset")


@blp.post("/faults")
def faults():
    """`{"login_busy": true, "pay_http_500": false, "pay_slow": 2.5, ...}` flips switches (and
    sets the one number) until switched off."""
    body = request.get_json(silent=True) or {}
    unknown = set(body) - KNOWN_FAULTS
    if unknown:
        return jsonify(error=f"unknown faults: {sorted(unknown)}", known=sorted(KNOWN_FAULTS)), 400
    state = current_app.extensions["fake_wechat"]
    with state.lock:
        state.faults.update(
            {k: (float(v or 0) if k in NUMERIC_FAULTS else bool(v)) for k, v in body.items()}
        )
        current = dict(state.faults)
    return jsonify(faults=current)

"""The fake WeChat platform: a real HTTP server the production adapters talk to unmodified.

It expects the mini-program AppID and AppSecret the backend is configured with (WECHAT_APPID /
WECHAT_SECRET), and the WeChat Pay merchant WECHAT_MCH_ID with its API key WECHAT_API_KEY (same
defaults as backend/config.py).

Mini-program login (login.py)
    GET  /sns/jscode2session
WeChat Pay API v2, XML (pay.py); each also under /sandboxnew/, signed with the sandbox key
    POST /pay/unifiedorder        JSAPI (openid) and NATIVE (product_id, code_url)
    POST /pay/orderquery          NOTPAY / SUCCESS / REFUND / CLOSED (time_expire passed)
    POST /pay/closeorder
    POST /secapi/pay/refund       PROCESSING, SUCCESS after the refund delay; refund notification
    POST /pay/refundquery
    POST /pay/downloadbill        the plain-text bill of a Beijing day
    POST /sandboxnew/pay/getsignkey
WeChat Pay API v3, JSON (v3_pay.py), when create_app gets `v3_keys_dir`: /v3/pay/transactions/...,
    /v3/refund/domestic/refunds, /v3/bill/tradebill; same merchant, same trades as v2
Control, JSON (control.py, pay_control.py, login.py)
    GET  /_control/health
    POST /_control/reset                   forget codes, faults, trades
    POST /_control/faults                  {"login_busy", "pay_systemerror", "pay_http_500",
                                            "refund_systemerror", "refund_notify_lost",
                                            "bill_creating": bool; "pay_slow": seconds}
    POST /_control/login                   {"user"} -> {"code", "openid"} (wx.login)
    POST /_control/pay                     {"out_trade_no", "notify"?, "delay_seconds"?, "force"?,
                                            "openid"?} -> {"transaction_id", "trade_state"}
    POST /_control/request-payment         the wx.requestPayment parameters (+ notify options)
    POST /_control/scan                    {"code_url", "user"?} (+ notify options)
    POST /_control/cancel                  {"out_trade_no"} -> {"errMsg": "requestPayment:fail cancel"}
    POST /_control/notify                  {"out_trade_no"}: send the notification again
    GET  /_control/trades/<out_trade_no>   the trade, its notification attempts and refunds
    POST /_control/trades/history          {"trades": [...]}: past payments (and finished refunds)
                                           as they stand, for a demo season; known ones are kept
    POST /_control/refunds/settle          {"out_refund_no"}: finish a refund now
    POST /_control/refunds/notify          {"out_refund_no"}: send a finished refund's notification again

Subscription messages (subscribe.py): GET /cgi-bin/token, POST /cgi-bin/message/subscribe/send,
and their /_control endpoints (the phone's wx.requestSubscribeMessage, what a user received).

Payment notifications go to the order's notify_url from background threads and are retried on
WeChat's schedule (15s, 15s, 30s, 3m … 6h) multiplied by `time_scale` until acknowledged.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask

from backend.config import Config
from fakes.json_store import JsonStore
from fakes.wechat import control, login, pay, pay_control, subscribe, v3_pay
from fakes.wechat.notifier import Notifier
from fakes.wechat.pay_state import Merchant, PayLedger
from fakes.wechat.state import PlatformState

REFUND_SETTLE_S = 5.0  # how long a refund stays PROCESSING, before scaling


def create_app(
    appid: str | None = None,
    secret: str | None = None,
    clock: Callable[[], float] | None = None,
    *,
    mch_id: str | None = None,
    api_key: str | None = None,
    time_scale: float = 1.0,
    state_file: str | None = None,
    wall_clock: Callable[[], float] | None = None,
    refund_settle_seconds: float = REFUND_SETTLE_S,
    notify_timeout: float = 5.0,
    v3_keys_dir: str | None = None,
) -> Flask:
    """The fake platform; every argument optional (appid/secret/mch_id/api_key default to the
    backend's).

    `time_scale` multiplies WeChat's waits (notification retries, refund processing): 0.01 runs
    the day-long retry schedule in about 15 minutes. `state_file` keeps trades in a JSON file
    across restarts. `clock` is the monotonic clock of login codes, `wall_clock` the epoch clock of
    orders (expiry, time_end, bill days). Call `app.extensions["fake_wechat"].close()` to stop its
    background threads. `v3_keys_dir` (v3keys.py's key set, made if missing) turns on API v3.
    """
    defaults = Config()
    app = Flask(__name__)
    appid = appid or defaults.WECHAT_APPID
    state = PlatformState(appid=appid, secret=secret or defaults.WECHAT_SECRET)
    if clock is not None:
        state.clock = clock
    state.pay = PayLedger(
        [
            Merchant(
                mch_id=mch_id or defaults.WECHAT_MCH_ID,
                appid=appid,
                api_key=api_key or defaults.WECHAT_API_KEY,
            )
        ],
        Notifier(time_scale=time_scale, timeout_s=notify_timeout),
        clock=wall_clock or time.time,
        refund_settle_s=refund_settle_seconds * time_scale,
        store=JsonStore(state_file, "trades") if state_file else None,
    )
    state.pay.faults = state.faults
    app.extensions["fake_wechat"] = state
    app.register_blueprint(login.blp)
    app.register_blueprint(pay.blp)
    app.register_blueprint(control.blp)
    app.register_blueprint(pay_control.blp)
    subscribe.install(app, defaults.subscribe_templates().values(), wall_clock or time.time)
    if v3_keys_dir:
        v3_pay.install(app, v3_keys_dir)
    return app

"""Subscription messages (订阅消息) as WeChat's open platform serves them, and the phone's prompt.

    GET  /cgi-bin/token?grant_type=client_credential&appid=&secret=
         -> {"access_token", "expires_in": 7200}; 40002 another grant_type, 40013 wrong appid,
            40125 wrong secret
    POST /cgi-bin/message/subscribe/send?access_token=   {"touser", "template_id", "page"?, "data"}
         -> {"errcode": 0, "errmsg": "ok", "msgid"}; 40001 unknown token, 42001 expired token,
            40003 bad openid, 40037 unknown template, 47003 a field missing or over its limit,
            43101 the user has no allowance of the template left (each accept allows one)
Control, JSON
    POST /_control/subscribe           {"user" | "openid", "tmplIds": [...], "answers"?: {id: answer}}
         plays wx.requestSubscribeMessage: every template accepted unless `answers` says reject or
         ban; a banned template answers "ban" from then on -> {"errMsg": "requestSubscribeMessage:ok",
         <tmplId>: "accept" | "reject" | "ban"}
    GET  /_control/subscribe-messages?openid=   what the user received, oldest first
    POST /_control/tokens/expire       every access token issued so far expires now
    POST /_control/subscribe-faults    {"send_errcode": -1 | null, "send_http_500": bool}
    POST /_control/subscribe-reset     forget tokens, allowances, messages and faults

WeChat answers errors with HTTP 200 and {"errcode", "errmsg"}. Token expiry runs on the
platform's wall clock (the tests' business clock).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from fakes.wechat.state import PlatformState

blp = Blueprint("subscribe", __name__)

TOKEN_LIFETIME_S = 7200
LIMITS = {"thing": 20, "character_string": 32, "amount": 32, "date": 32, "number": 32, "phrase": 5}
MAX_TEMPLATES_PER_PROMPT = 3  # one-time templates one wx.requestSubscribeMessage may offer
ERRORS = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40013: "invalid appid",
    40125: "invalid appsecret",
    40037: "invalid template_id",
    42001: "access_token expired",
    43101: "user refuse to accept the msg",
    47003: "argument invalid!",
}
_OPENID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")


@dataclass
class SubscribeState:
    templates: frozenset[str]
    clock: Callable[[], float] = time.time
    lock: threading.Lock = field(default_factory=threading.Lock)
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expires at
    allowances: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    banned: set[tuple[str, str]] = field(default_factory=set)
    received: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    faults: dict[str, Any] = field(default_factory=dict)
    tokens_issued: int = 0

    def reset(self) -> None:
        with self.lock:
            self.tokens.clear()
            self.allowances.clear()
            self.banned.clear()
            self.received.clear()
            self.faults.clear()


def install(app, templates: Iterable[str], clock: Callable[[], float]) -> SubscribeState:
    state = SubscribeState(templates=frozenset(templates), clock=clock)
    app.extensions["fake_wechat_subscribe"] = state
    app.register_blueprint(blp)
    return state


def _state() -> SubscribeState:
    return current_app.extensions["fake_wechat_subscribe"]


def _platform() -> PlatformState:
    return current_app.extensions["fake_wechat"]


def _error(errcode: int, detail: str = ""):
    message = ERRORS[errcode] + (f" {detail}" if detail else "")
    return jsonify(errcode=errcode, errmsg=f"{message} rid: fake-{secrets.token_hex(4)}")


@blp.get("/cgi-bin/token")
def token():
    args, platform, state = request.args, _platform(), _state()
    if args.get("grant_type") != "client_credential":
        return _error(40002)
    if args.get("appid") != platform.appid:
        return _error(40013)
    if args.get("secret") != platform.secret:
        return _error(40125)
    issued = secrets.token_urlsafe(48)
    with state.lock:
        state.tokens[issued] = state.clock() + TOKEN_LIFETIME_S
        state.tokens_issued += 1
    return jsonify(access_token=issued, expires_in=TOKEN_LIFETIME_S)


@blp.post("/cgi-bin/message/subscribe/send")
def send():
    state = _state()
    with state.lock:
        faults = dict(state.faults)
        expires_at = state.tokens.get(request.args.get("access_token", ""))
        now = state.clock()
    if faults.get("send_http_500"):
        return "internal error", 500
    if faults.get("send_errcode"):
        return _error(int(faults["send_errcode"]))
    if expires_at is None:
        return _error(40001)
    if expires_at <= now:
        return _error(42001)
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        return _error(47003, "data format error")
    openid, template_id = body.get("touser"), body.get("template_id")
    if not isinstance(openid, str) or not _OPENID.match(openid):
        return _error(40003)
    if template_id not in state.templates:
        return _error(40037)
    problem = _data_problem(body.get("data"))
    if problem:
        return _error(47003, problem)
    key = (openid, template_id)
    with state.lock:
        if state.allowances[key] <= 0:
            return _error(43101)
        state.allowances[key] -= 1
        msgid = secrets.randbelow(10**15)
        state.received[openid].append(
            {
                "msgid": msgid,
                "template_id": template_id,
                "page": body.get("page"),
                "data": body["data"],
                "received_at": now,
            }
        )
    return jsonify(errcode=0, errmsg="ok", msgid=msgid)


def _data_problem(data: Any) -> str | None:
    """Why WeChat would refuse the template fields (47003), or None."""
    if not isinstance(data, dict) or not data:
        return "data is empty"
    for key, entry in data.items():
        value = entry.get("value") if isinstance(entry, dict) else None
        if not isinstance(value, str) or not value:
            return f"data.{key}.value is empty"
        kind = key.rstrip("0123456789")
        if kind not in LIMITS:
            return f"data.{key} unknown keyword"
        if len(value) > LIMITS[kind]:
            return f"data.{key}.value exceeds limit"
        if kind == "character_string" and not value.isascii():
            return f"data.{key}.value invalid"
    return None


@blp.post("/_control/subscribe")
def control_subscribe():
    """Stand-in for wx.requestSubscribeMessage on the phone."""
    body = request.get_json(silent=True) or {}
    state = _state()
    openid = body.get("openid") or PlatformState.openid_for(str(body.get("user") or "demo-user"))
    ids = body.get("tmplIds")
    if not isinstance(ids, list) or not ids or len(ids) > MAX_TEMPLATES_PER_PROMPT:
        return jsonify(errMsg="requestSubscribeMessage:fail invalid tmplIds", errCode=10001), 400
    unknown = [i for i in ids if i not in state.templates]
    if unknown:
        return jsonify(errMsg=f"requestSubscribeMessage:fail {unknown[0]}", errCode=20001), 400
    wanted = body.get("answers") or {}
    answers: dict[str, str] = {}
    with state.lock:
        for template_id in ids:
            key = (openid, template_id)
            answer = "ban" if key in state.banned else wanted.get(template_id, "accept")
            if answer == "accept":
                state.allowances[key] += 1
            elif answer == "ban":
                state.banned.add(key)
            answers[template_id] = answer
    return jsonify(errMsg="requestSubscribeMessage:ok", **answers)


@blp.get("/_control/subscribe-messages")
def control_messages():
    state = _state()
    openid = request.args.get("openid", "")
    with state.lock:
        received = list(state.received.get(openid, []))
        left = {t: n for (o, t), n in state.allowances.items() if o == openid}
    return jsonify(openid=openid, messages=received, allowances=left)


@blp.post("/_control/tokens/expire")
def control_expire():
    state = _state()
    with state.lock:
        now = state.clock()
        for issued in state.tokens:
            state.tokens[issued] = min(state.tokens[issued], now)
        count = len(state.tokens)
    return jsonify(expired=count)


@blp.post("/_control/subscribe-faults")
def control_faults():
    body = request.get_json(silent=True) or {}
    state = _state()
    with state.lock:
        for name in ("send_errcode", "send_http_500"):
            if name in body:
                state.faults[name] = body[name]
        current = dict(state.faults)
    return jsonify(faults=current)


@blp.post("/_control/subscribe-reset")
def control_reset():
    _state().reset()
    return jsonify(status="reset")

"""Mini-program login: `GET /sns/jscode2session` as WeChat answers it, and a stand-in for wx.login.

WeChat's answers are JSON with HTTP 200 even for errors: `{"errcode": 40029, "errmsg": ...}`.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from fakes.wechat.state import PlatformState

blp = Blueprint("login", __name__)

ERRORS = {
    -1: "system error, please try again later",
    40013: "invalid appid",
    40125: "invalid appsecret",
    40029: "invalid code",
    40163: "code been used",
}


def _state() -> PlatformState:
    return current_app.extensions["fake_wechat"]


def _error(errcode: int):
    return jsonify(errcode=errcode, errmsg=f"{ERRORS[errcode]}, rid: fake")


@blp.get("/sns/jscode2session")
def jscode2session():
    state = _state()
    args = request.args
    if state.faults.get("login_busy"):
        return _error(-1)
    if args.get("appid") != state.appid:
        return _error(40013)
    if args.get("secret") != state.secret:
        return _error(40125)
    if args.get("grant_type") != "authorization_code" or not args.get("js_code"):
        return _error(40029)
    openid, errcode = state.redeem(args["js_code"])
    if openid is None:
        return _error(errcode)
    return jsonify(openid=openid, session_key="fake-session-key-" + openid[-8:])


@blp.post("/_control/login")
def control_login():
    """Stand-in for wx.login on the phone: a fresh single-use code for a named user."""
    body = request.get_json(silent=True) or {}
    user = str(body.get("user") or "demo-user")[:64]
    state = _state()
    code = state.issue_code(user)
    return jsonify(code=code, openid=state.openid_for(user))

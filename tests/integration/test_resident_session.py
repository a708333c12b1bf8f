"""Signing in from the mini-program: a wx.login code becomes a session token (over real HTTP)."""

from __future__ import annotations

import pytest

from backend import create_app
from tests.support.servers import ServerThread


@pytest.fixture
def wx(fake_wechat, http):
    http.post(f"{fake_wechat.url}/_control/reset")
    yield fake_wechat
    http.post(f"{fake_wechat.url}/_control/reset")


def wx_login(http, wx, user="li-si") -> str:
    return http.post(f"{wx.url}/_control/login", json={"user": user}).json()["code"]


def test_a_login_code_buys_a_session_token_that_opens_the_lookup(wx, live_server, http):
    answer = http.post(f"{live_server}/api/mp/v1/session", json={"code": wx_login(http, wx)})
    assert answer.status_code == 200
    assert answer.json()["expires_in"] == 7200

    token = answer.json()["token"]
    lookup = http.post(
        f"{live_server}/api/mp/v1/lookup",
        json={"id_number": "41072119800101001X", "name": "张三"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert lookup.status_code == 404  # signed in; nobody registered in this empty database


def test_a_login_code_works_only_once(wx, live_server, http):
    code = wx_login(http, wx)
    assert http.post(f"{live_server}/api/mp/v1/session", json={"code": code}).status_code == 200
    again = http.post(f"{live_server}/api/mp/v1/session", json={"code": code})
    assert again.status_code == 401
    assert "重新进入小程序" in again.json()["message"]


def test_an_invented_code_is_refused(wx, live_server, http):
    answer = http.post(f"{live_server}/api/mp/v1/session", json={"code": "made-up"})
    assert answer.status_code == 401


def test_wechat_busy_is_a_503_not_a_500(wx, live_server, http):
    http.post(f"{wx.url}/_control/faults", json={"login_busy": True})
    answer = http.post(f"{live_server}/api/mp/v1/session", json={"code": wx_login(http, wx)})
    assert answer.status_code == 503
    assert answer.json()["message"]


def test_wechat_unreachable_is_a_503(app_config, clean_db, http):
    app = create_app({**app_config, "FAKE_WECHAT_URL": "http://127.0.0.1:9/"})
    with ServerThread(app) as server:
        answer = http.post(f"{server.url}/api/mp/v1/session", json={"code": "anything"})
    assert answer.status_code == 503


def test_a_wrong_app_secret_is_a_503_not_the_residents_fault(app_config, clean_db, wx, http):
    app = create_app({**app_config, "WECHAT_SECRET": "not-the-right-secret"})
    with ServerThread(app) as server:
        answer = http.post(f"{server.url}/api/mp/v1/session", json={"code": wx_login(http, wx)})
    assert answer.status_code == 503
    assert "稍后再试" in answer.json()["message"]


def test_the_same_wechat_user_keeps_the_same_identity(wx, http):
    first = http.post(f"{wx.url}/_control/login", json={"user": "wang"}).json()["openid"]
    second = http.post(f"{wx.url}/_control/login", json={"user": "wang"}).json()["openid"]
    other = http.post(f"{wx.url}/_control/login", json={"user": "zhao"}).json()["openid"]
    assert first == second != other
    assert len(first) == 28


@pytest.mark.parametrize(
    "body", [{}, {"code": ""}, {"code": 123}, {"code": "x" * 200}, {"code": "a", "extra": 1}]
)
def test_a_malformed_session_request_is_a_422(wx, live_server, http, body):
    answer = http.post(f"{live_server}/api/mp/v1/session", json=body)
    assert answer.status_code == 422
    assert answer.json()["code"] == 422


def test_session_exchanges_are_rate_limited_per_address(app_config, clean_db, wx, http):
    app = create_app({**app_config, "SESSION_LIMIT_PER_ADDRESS": "2 per minute"})
    with ServerThread(app) as server:
        codes = [
            http.post(f"{server.url}/api/mp/v1/session", json={"code": "nope"}).status_code
            for _ in range(3)
        ]
    assert codes == [401, 401, 429]

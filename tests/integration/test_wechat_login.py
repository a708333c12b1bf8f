"""The mini-program login adapter (wechatpy) against the fake WeChat platform, over real HTTP.

The fake must answer like WeChat does, or the adapter's tests prove nothing: single-use codes that
expire after five minutes, errcodes for a wrong AppID/AppSecret, a switch for "system busy".
"""

from __future__ import annotations

import pytest

from backend.config import Config
from backend.payments.wechat.login import LoginRejected, LoginUnavailable, WeChatLoginGateway
from fakes.wechat.server import create_app as create_fake_wechat
from tests.support.servers import ServerThread


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def wx(clock):
    with ServerThread(create_fake_wechat(clock=clock)) as server:
        yield server


def gateway(wx, appid=None, secret=None) -> WeChatLoginGateway:
    defaults = Config()
    return WeChatLoginGateway(
        appid or defaults.WECHAT_APPID, secret or defaults.WECHAT_SECRET, wx.url + "/"
    )


def wx_login(http, wx, user="zhang-san") -> dict:
    """What wx.login() gives the phone: a fresh code (and, for the test, the openid behind it)."""
    return http.post(f"{wx.url}/_control/login", json={"user": user}).json()


def jscode2session(http, wx, **params):
    defaults = Config()
    query = {
        "appid": defaults.WECHAT_APPID,
        "secret": defaults.WECHAT_SECRET,
        "grant_type": "authorization_code",
        **params,
    }
    return http.get(f"{wx.url}/sns/jscode2session", params=query)


def test_a_fresh_code_gives_the_users_openid(wx, http):
    login = wx_login(http, wx)
    assert gateway(wx).code_to_openid(login["code"]) == login["openid"]


def test_jscode2session_answers_like_wechat(wx, http):
    login = wx_login(http, wx)
    answer = jscode2session(http, wx, js_code=login["code"], access_token="ignored")
    assert answer.status_code == 200
    body = answer.json()
    assert body["openid"] == login["openid"]
    assert body["session_key"]
    assert "unionid" not in body and "errcode" not in body

    again = jscode2session(http, wx, js_code=login["code"]).json()
    assert again["errcode"] == 40163
    assert again["errmsg"]


def test_a_code_works_once(wx, http):
    code = wx_login(http, wx)["code"]
    gateway(wx).code_to_openid(code)
    with pytest.raises(LoginRejected):
        gateway(wx).code_to_openid(code)


def test_an_invented_code_is_rejected(wx, http):
    assert jscode2session(http, wx, js_code="made-up").json()["errcode"] == 40029
    with pytest.raises(LoginRejected):
        gateway(wx).code_to_openid("made-up")


def test_a_code_expires_after_five_minutes(wx, http, clock):
    fresh, stale = wx_login(http, wx)["code"], wx_login(http, wx)["code"]
    clock.now += 299
    assert gateway(wx).code_to_openid(fresh)
    clock.now += 2
    with pytest.raises(LoginRejected):
        gateway(wx).code_to_openid(stale)


@pytest.mark.parametrize(
    ("wrong", "errcode"), [({"appid": "wxsomeoneelse"}, 40013), ({"secret": "wrong"}, 40125)]
)
def test_a_misconfigured_mini_program_is_not_the_users_fault(wx, http, wrong, errcode):
    code = wx_login(http, wx)["code"]
    assert jscode2session(http, wx, js_code=code, **wrong).json()["errcode"] == errcode
    with pytest.raises(LoginUnavailable):
        gateway(wx, **wrong).code_to_openid(code)


def test_wechat_busy_means_try_later_and_reset_clears_it(wx, http):
    assert http.post(f"{wx.url}/_control/faults", json={"login_busy": True}).status_code == 200
    code = wx_login(http, wx)["code"]
    assert jscode2session(http, wx, js_code=code).json()["errcode"] == -1
    with pytest.raises(LoginUnavailable):
        gateway(wx).code_to_openid(code)

    http.post(f"{wx.url}/_control/reset")
    # Reset also forgets the codes handed out before it.
    with pytest.raises(LoginRejected):
        gateway(wx).code_to_openid(code)
    assert gateway(wx).code_to_openid(wx_login(http, wx)["code"])


def test_an_unknown_fault_switch_is_refused(wx, http):
    answer = http.post(f"{wx.url}/_control/faults", json={"everything_broken": True})
    assert answer.status_code == 400
    assert "login_busy" in answer.json()["known"]


def test_an_unreachable_wechat_is_unavailable():
    down = WeChatLoginGateway("wxapp", "secret", "http://127.0.0.1:9/", timeout=2)
    with pytest.raises(LoginUnavailable):
        down.code_to_openid("anything")

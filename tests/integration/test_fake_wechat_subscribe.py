"""The fake platform's subscription messages, held to WeChat's rules over real HTTP: access
tokens (issued, expiring, refused), subscribeMessage.send's checks and one-time allowances, and
the phone's wx.requestSubscribeMessage. The backend's sender is tested against it elsewhere; if
the fake answered unlike WeChat, those tests would prove nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from backend.config import Config
from backend.payments.wechat.subscribe import WeChatMessenger
from backend.subscriptions.port import SendError
from fakes.wechat.state import PlatformState

CONFIG = Config()
RECEIPT, REFUND, DEADLINE = CONFIG.subscribe_templates().values()
DATA = {"thing1": {"value": "张* 等2人"}, "character_string3": {"value": "331234567890123"}}


@pytest.fixture
def wx(fake_wechat, clock):
    requests.post(f"{fake_wechat.url}/_control/subscribe-reset", timeout=5)
    yield fake_wechat
    requests.post(f"{fake_wechat.url}/_control/subscribe-reset", timeout=5)


def token(wx, secret=CONFIG.WECHAT_SECRET, appid=CONFIG.WECHAT_APPID, grant="client_credential"):
    query = {"grant_type": grant, "appid": appid, "secret": secret}
    return requests.get(f"{wx.url}/cgi-bin/token", params=query, timeout=5).json()


def send(wx, access_token, openid, template_id=RECEIPT, data=DATA):
    body = {"touser": openid, "template_id": template_id, "data": data, "page": "pages/index/index"}
    url = f"{wx.url}/cgi-bin/message/subscribe/send"
    return requests.post(url, params={"access_token": access_token}, json=body, timeout=5).json()


def subscribe(wx, user, ids, answers=None):
    body = {"user": user, "tmplIds": ids, "answers": answers or {}}
    return requests.post(f"{wx.url}/_control/subscribe", json=body, timeout=5)


def received(wx, openid):
    url = f"{wx.url}/_control/subscribe-messages"
    return requests.get(url, params={"openid": openid}, timeout=5).json()["messages"]


def test_a_token_is_issued_for_the_right_secret_only(wx):
    issued = token(wx)
    assert issued["expires_in"] == 7200 and len(issued["access_token"]) > 32
    assert token(wx, secret="wrong")["errcode"] == 40125
    assert token(wx, appid="wxsomeoneelse")["errcode"] == 40013
    assert token(wx, grant="authorization_code")["errcode"] == 40002


def test_each_accept_allows_one_message_of_its_template(wx):
    openid = PlatformState.openid_for("fake-sub-one")
    answer = subscribe(wx, "fake-sub-one", [RECEIPT, REFUND], {REFUND: "reject"}).json()
    assert answer == {"errMsg": "requestSubscribeMessage:ok", RECEIPT: "accept", REFUND: "reject"}
    access = token(wx)["access_token"]
    assert send(wx, access, openid)["errcode"] == 0
    assert send(wx, access, openid)["errcode"] == 43101  # the one allowance is spent
    assert send(wx, access, openid, REFUND)["errcode"] == 43101  # rejected: none
    [message] = received(wx, openid)
    assert message["template_id"] == RECEIPT and message["data"] == DATA


def test_a_ban_answers_ban_from_then_on(wx):
    subscribe(wx, "fake-sub-ban", [DEADLINE], {DEADLINE: "ban"})
    assert subscribe(wx, "fake-sub-ban", [DEADLINE]).json()[DEADLINE] == "ban"


def test_send_checks_the_token_the_template_and_the_fields(wx, clock):
    openid = PlatformState.openid_for("fake-sub-checks")
    subscribe(wx, "fake-sub-checks", [RECEIPT])
    assert send(wx, "no-such-token", openid)["errcode"] == 40001
    access = token(wx)["access_token"]
    assert send(wx, access, openid, "unknown-template")["errcode"] == 40037
    assert send(wx, access, "bad openid!")["errcode"] == 40003
    too_long = {"thing1": {"value": "一" * 21}}
    assert send(wx, access, openid, data=too_long)["errcode"] == 47003
    clock.advance(timedelta(seconds=7201))  # the platform's clock: the token has expired
    assert send(wx, access, openid)["errcode"] == 42001
    fresh = token(wx)["access_token"]
    assert send(wx, fresh, openid)["errcode"] == 0  # the allowance survived every refusal


def test_the_control_endpoint_expires_every_token_now(wx):
    openid = PlatformState.openid_for("fake-sub-expire")
    subscribe(wx, "fake-sub-expire", [RECEIPT])
    access = token(wx)["access_token"]
    requests.post(f"{wx.url}/_control/tokens/expire", timeout=5)
    assert send(wx, access, openid)["errcode"] == 42001


def test_a_prompt_offers_three_known_templates_at_most(wx):
    assert subscribe(wx, "fake-sub-many", [RECEIPT, REFUND, DEADLINE, RECEIPT]).status_code == 400
    assert subscribe(wx, "fake-sub-many", ["not-ours"]).status_code == 400


def test_the_backend_sender_refreshes_an_expired_token_and_sends_once(wx):
    openid = PlatformState.openid_for("fake-sub-sender")
    subscribe(wx, "fake-sub-sender", [RECEIPT, REFUND])
    messenger = WeChatMessenger(CONFIG.WECHAT_APPID, CONFIG.WECHAT_SECRET, wx.url + "/")
    messenger.send(openid, RECEIPT, DATA, None)
    requests.post(f"{wx.url}/_control/tokens/expire", timeout=5)
    messenger.send(openid, REFUND, DATA, None)  # 42001, a new token, sent
    assert [m["template_id"] for m in received(wx, openid)] == [RECEIPT, REFUND]
    with pytest.raises(SendError) as refused:
        messenger.send(openid, RECEIPT, DATA, None)
    assert refused.value.refused and refused.value.errcode == 43101
    requests.post(f"{wx.url}/_control/subscribe-faults", json={"send_errcode": -1}, timeout=5)
    with pytest.raises(SendError) as busy:
        messenger.send(openid, RECEIPT, DATA, None)
    assert not busy.value.refused and busy.value.errcode == -1
    requests.post(f"{wx.url}/_control/subscribe-faults", json={"send_http_500": True}, timeout=5)
    with pytest.raises(SendError) as broken:
        messenger.send(openid, RECEIPT, DATA, None)
    assert not broken.value.refused and "500" in str(broken.value)
    wrong = WeChatMessenger(CONFIG.WECHAT_APPID, "wrong-secret", wx.url + "/")
    with pytest.raises(SendError) as no_token:
        wrong.send(openid, RECEIPT, DATA, None)
    assert no_token.value.errcode == 40125 and not no_token.value.refused

"""Mini-program login: exchange a wx.login code for the user's openid (jscode2session).

A small port with one adapter on wechatpy 1.8.18. wechatpy adds an access_token to every client
request and would fetch one from WeChat's fixed address when it has none; jscode2session does not
need it, so the client is given a placeholder that is never used for anything.
"""

from __future__ import annotations

import logging
from typing import Protocol

import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

log = logging.getLogger(__name__)

# errcodes that mean the code itself is unusable, as opposed to WeChat being unavailable.
_BAD_CODE = {40029, 40163, 40226}


class LoginRejected(Exception):
    """The code is invalid, used or expired: the user must log in again on the phone."""


class LoginUnavailable(Exception):
    """WeChat could not be asked (network, busy, misconfiguration): try again later."""


class LoginGateway(Protocol):
    def code_to_openid(self, code: str) -> str: ...


class WeChatLoginGateway:
    def __init__(self, appid: str, secret: str, base_url: str, timeout: float = 5.0) -> None:
        self._client = WeChatClient(appid, secret, access_token="unused", timeout=timeout)
        self._client.wxa.API_BASE_URL = base_url

    def code_to_openid(self, code: str) -> str:
        try:
            result = self._client.wxa.code_to_session(code)
        except WeChatClientException as exc:
            if exc.errcode in _BAD_CODE:
                raise LoginRejected(f"jscode2session errcode {exc.errcode}") from exc
            log.error("jscode2session failed: errcode %s %s", exc.errcode, exc.errmsg)
            raise LoginUnavailable(f"jscode2session errcode {exc.errcode}") from exc
        except requests.RequestException as exc:
            log.error("jscode2session unreachable: %s", exc.__class__.__name__)
            raise LoginUnavailable("WeChat unreachable") from exc
        openid = result.get("openid") if isinstance(result, dict) else None
        if not openid:
            raise LoginUnavailable("jscode2session answered without an openid")
        return openid

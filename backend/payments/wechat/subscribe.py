"""Subscription messages through wechatpy 1.8.18: subscribeMessage.send with an access token.

wechatpy's WeChatClient fetches tokens from a fixed address (https://api.weixin.qq.com/cgi-bin/token)
and without a timeout; `_TokenClient` asks the configured platform's base URL instead (the fake
platform in fake mode), with the client's timeout. The token is kept in wechatpy's session
storage: per process by default, in Redis when REDIS_URL is set (so every worker shares one).

wechatpy's auto_retry would fetch a new token on 40001/40014/42001 and retry without limit (a
platform that keeps refusing tokens would recurse until the stack ends); it is off, and `send`
refreshes once and retries once itself. Everything else becomes a SendError: 43101 refused
(never retried), the rest retryable by the outbox's schedule.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from backend.subscriptions.port import REFUSED_BY_USER, SendError

log = logging.getLogger(__name__)

# The token is invalid (40001, 40014) or expired (42001): fetch a new one and try again.
TOKEN_ERRORS = {40001, 40014, 42001}


class _TokenClient(WeChatClient):
    def __init__(self, appid: str, secret: str, base_url: str, *, timeout: float, session=None):
        super().__init__(appid, secret, session=session, timeout=timeout, auto_retry=False)
        self.wxa.API_BASE_URL = base_url
        self.token_url = base_url + "cgi-bin/token"

    def fetch_access_token(self) -> dict[str, Any]:
        """As wechatpy's, from the configured platform and within the timeout."""
        response = self._http.get(
            self.token_url,
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
            timeout=self.timeout,
        )
        response.raise_for_status()
        result = response.json()
        if result.get("errcode"):
            raise WeChatClientException(
                result["errcode"], result.get("errmsg"), client=self, response=response
            )
        expires_in = int(result.get("expires_in", 7200))
        self.session.set(self.access_token_key, result["access_token"], expires_in)
        self.expires_at = int(time.time()) + expires_in
        return result


class WeChatMessenger:
    def __init__(
        self,
        appid: str,
        secret: str,
        base_url: str,
        *,
        timeout: float = 5.0,
        redis_url: str | None = None,
    ) -> None:
        session = None
        if redis_url:
            import redis
            from wechatpy.session.redisstorage import RedisStorage

            session = RedisStorage(redis.Redis.from_url(redis_url), prefix="wechat")
        self._client = _TokenClient(appid, secret, base_url, timeout=timeout, session=session)

    def send(self, openid: str, template_id: str, data: dict[str, Any], page: str | None) -> None:
        try:
            try:
                self._client.wxa.send_subscribe_message(openid, template_id, data, page=page)
            except WeChatClientException as exc:
                if exc.errcode not in TOKEN_ERRORS:
                    raise
                log.info("access token refused (errcode %s): fetching a new one", exc.errcode)
                self._client.fetch_access_token()
                self._client.wxa.send_subscribe_message(openid, template_id, data, page=page)
        except WeChatClientException as exc:
            if exc.errcode is None:  # an HTTP error status, no WeChat answer
                status = getattr(exc.response, "status_code", None)
                raise SendError(f"WeChat answered HTTP {status}") from exc
            refused = exc.errcode == REFUSED_BY_USER
            raise SendError(
                f"errcode {exc.errcode}: {exc.errmsg}", errcode=exc.errcode, refused=refused
            ) from exc
        except (requests.RequestException, ValueError) as exc:
            raise SendError(f"WeChat unreachable: {exc.__class__.__name__}") from exc

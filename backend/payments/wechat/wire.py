"""WeChat Pay v2 on the wire for the busy calls (unifiedorder, orderquery, closeorder) and for
reading notifications: signed XML out, signed XML back, with no work the protocol does not need.

Every order costs one unifiedorder round trip, so its cost counts at a deadline peak. wechatpy
builds the same request through `requests` (which re-reads the environment's proxy settings and
merges cookies and hooks on every call) and reads the reply with xmltodict; here the request is
signed with wechatpy's own `calculate_signature`/`dict_to_xml`, sent on a kept-alive urllib3
pool, and the reply read with the C ElementTree parser. Refunds (client certificate), refund
queries, bills and the sandbox's key still go through wechatpy (backend/payments/wechat/gateway.py).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any
from xml.etree.ElementTree import ParseError, fromstring

import requests
import urllib3
from wechatpy.pay.utils import dict_to_xml

from backend.payments.gateway import GatewayError

_RETRYABLE = {"SYSTEMERROR", "BIZERR_NEED_RETRY", "FREQUENCY_LIMITED", "INVALID_REQ_TOO_MUCH"}
HEADERS = {"Content-Type": "text/xml; charset=utf-8"}


def read_xml(body: bytes) -> dict[str, str]:
    """A WeChat Pay XML document as {field: text}; ValueError when it is not one."""
    try:
        root = fromstring(body)
    except ParseError as exc:
        raise ValueError("not XML") from exc
    if root.tag != "xml":
        raise ValueError("not WeChat Pay XML")
    return {child.tag: child.text or "" for child in root}


def signature(fields: dict[str, Any], key: str) -> str:
    """WeChat Pay v2's MD5 signature: the non-empty fields as k=v, sorted, then key=KEY, joined
    by &, upper-case hex. wechatpy's calculate_signature gives the same, one encode per field
    slower; a test holds the two equal."""
    parts = [f"{k}={v}" for k, v in sorted(fields.items()) if v]
    parts.append(f"key={key}")
    return hashlib.md5("&".join(parts).encode()).hexdigest().upper()


def signed_by(data: dict[str, Any], key: str) -> bool:
    """Whether `data`'s MD5 `sign` covers its other fields under `key` (constant time)."""
    received = str(data.get("sign", ""))
    expected = signature({k: v for k, v in data.items() if k != "sign"}, key)
    return hmac.compare_digest(received.encode(), expected.encode())


class Wire:
    def __init__(
        self,
        *,
        base_url: str,
        appid: str,
        mch_id: str,
        key: Callable[[], str],
        timeout: float,
        path_prefix: Callable[[], str] = lambda: "",
    ) -> None:
        self._appid, self._mch_id, self._key = appid, mch_id, key
        self._base = base_url if base_url.endswith("/") else base_url + "/"
        self._prefix = path_prefix
        scheme = urllib3.util.parse_url(self._base).scheme or "http"
        # A proxy the environment names for WeChat's host is honoured; it is read once, here.
        proxy = requests.utils.get_environ_proxies(self._base).get(scheme)
        options = {"maxsize": 8, "retries": False, "timeout": urllib3.Timeout(total=timeout)}
        self._http = (
            urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
        )

    def call(self, endpoint: str, fields: dict[str, Any]) -> dict[str, str]:
        """The verified reply of a successful call; GatewayError otherwise (retryable when the
        platform is unreachable or busy)."""
        key = self._key()
        data = {k: v for k, v in fields.items() if v is not None}
        data.update(appid=self._appid, mch_id=self._mch_id, nonce_str=secrets.token_hex(16))
        body = dict_to_xml(data, signature(data, key)).encode()
        url = f"{self._base}{self._prefix()}{endpoint}"
        try:
            answer = self._http.request("POST", url, body=body, headers=HEADERS)
        except urllib3.exceptions.HTTPError as exc:
            raise GatewayError(
                f"WeChat Pay unreachable: {exc.__class__.__name__}", None, retryable=True
            ) from exc
        if answer.status >= 400:
            raise GatewayError(f"WeChat Pay answered HTTP {answer.status}", None, retryable=True)
        try:
            reply = read_xml(answer.data)
        except ValueError:
            raise GatewayError("WeChat Pay answered something other than XML", None, True) from None
        if reply.get("return_code") != "SUCCESS":
            message = reply.get("return_msg") or "WeChat Pay refused the request"
            code = reply.get("return_code") or None
            raise GatewayError(f"{code}: {message}", code, retryable=False)
        if not signed_by(reply, key):
            raise GatewayError("WeChat Pay reply signature invalid")
        if reply.get("result_code") != "SUCCESS":
            code = reply.get("err_code") or reply.get("result_code") or None
            message = reply.get("err_code_des") or reply.get("return_msg") or "refused"
            raise GatewayError(f"{code}: {message}", code, retryable=code in _RETRYABLE)
        return reply

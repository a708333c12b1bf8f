"""Resident session tokens: signed, expiring, carrying only the WeChat openid.

The issue time rides inside the signed payload and is read against the business clock, so a
token's age is measured by the same clock as everything else (and tests move it forward).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from itsdangerous import BadSignature, URLSafeSerializer

_SALT = "resident-session-v2"
EXPIRED = "登录已过期，请重新进入小程序。"
INVALID = "登录凭证无效，请重新进入小程序。"


class InvalidToken(Exception):
    pass


@lru_cache(maxsize=8)
def _serializer(secret_key: str) -> URLSafeSerializer:
    # Built once per key: constructing it derives the signing key, which every request would
    # otherwise repeat.
    return URLSafeSerializer(secret_key, salt=_SALT)


def issue(secret_key: str, openid: str, *, now: datetime) -> str:
    return _serializer(secret_key).dumps({"openid": openid, "iat": int(now.timestamp())})


def verify(secret_key: str, token: str, max_age: int, *, now: datetime) -> str:
    """Return the openid the token was issued for, or raise InvalidToken."""
    openid, issued = _read(secret_key, token)
    if now.timestamp() - issued > max_age:
        raise InvalidToken(EXPIRED)
    return openid


@lru_cache(maxsize=8192)
def _read(secret_key: str, token: str) -> tuple[str, int]:
    """(openid, issued at) of a genuine token. A token's content never changes, so a resident's
    next requests skip the signature check and the decoding; a refused token is never cached."""
    try:
        data = _serializer(secret_key).loads(token)
    except BadSignature as exc:
        raise InvalidToken(INVALID) from exc
    if not isinstance(data, dict):
        raise InvalidToken(INVALID)
    openid, issued = data.get("openid"), data.get("iat")
    if not isinstance(openid, str) or not openid or type(issued) is not int:
        raise InvalidToken(INVALID)
    return openid, issued

"""Resident session tokens: signed, expiring, carrying only the WeChat openid."""

from __future__ import annotations

from functools import lru_cache

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

_SALT = "resident-session-v1"


class InvalidToken(Exception):
    pass


@lru_cache(maxsize=8)
def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    # Built once per key: constructing it derives the signing key, which every request would
    # otherwise repeat.
    return URLSafeTimedSerializer(secret_key, salt=_SALT)


def issue(secret_key: str, openid: str) -> str:
    return _serializer(secret_key).dumps({"openid": openid})


def verify(secret_key: str, token: str, max_age: int) -> str:
    """Return the openid the token was issued for, or raise InvalidToken."""
    try:
        data = _serializer(secret_key).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise InvalidToken("登录已过期，请重新进入小程序。") from exc
    except BadSignature as exc:
        raise InvalidToken("登录凭证无效，请重新进入小程序。") from exc
    openid = data.get("openid") if isinstance(data, dict) else None
    if not isinstance(openid, str) or not openid:
        raise InvalidToken("登录凭证无效，请重新进入小程序。")
    return openid

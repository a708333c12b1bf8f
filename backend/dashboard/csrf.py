"""Cross-site request forgery protection of the dashboard's forms: a secret per session.

Every form the dashboard renders carries the session's token in a hidden field, and every POST
to the dashboard (sign-in and sign-out included) must send it back: another site can make a
browser post to us with its cookie, but cannot read the token. The token lives in the signed
session cookie, so it ends with the session; signing in starts a new one.
"""

from __future__ import annotations

import hmac
import secrets

from flask import abort, request, session

FIELD = "csrf_token"
_KEY = "csrf"


def token() -> str:
    """The session's token, made on first use (the sign-in form's visit)."""
    if _KEY not in session:
        session[_KEY] = secrets.token_urlsafe(32)
    return session[_KEY]


def renew() -> None:
    session[_KEY] = secrets.token_urlsafe(32)


def check() -> None:
    """400 unless the request carries the session's token (form field or X-CSRF-Token)."""
    expected = session.get(_KEY)
    sent = request.form.get(FIELD) or request.headers.get("X-CSRF-Token")
    if not expected or not sent or not hmac.compare_digest(str(expected), sent):
        abort(400, description="表单已失效或来源不明（缺少防伪令牌）。请返回，刷新页面后重试。")

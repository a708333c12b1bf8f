"""Request authentication for the two kinds of caller: residents and staff."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import current_app, g, request
from flask_smorest import abort

from backend.auth import resident_tokens
from backend.auth.staff import UNKNOWN_TOKEN, StaffIdentity, TokenRefused, authenticate
from backend.infra.web import clock, reader

RESIDENT_SECURITY = [{"residentToken": []}]
STAFF_SECURITY = [{"staffToken": []}]


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def current_openid() -> str:
    """The signed-in resident's openid (401 when the session token is missing or invalid)."""
    if "openid" in g:
        return g.openid
    token = _bearer()
    if token is None:
        abort(
            401,
            message="请先登录：POST /api/mp/v1/session 换取令牌，再以 Authorization: Bearer <token> 访问。",
        )
    cfg = current_app.config["APP_CONFIG"]
    try:
        g.openid = resident_tokens.verify(
            cfg.SECRET_KEY, token, cfg.SESSION_TOKEN_MAX_AGE, now=clock().now()
        )
    except resident_tokens.InvalidToken as exc:
        abort(401, message=str(exc))
    return g.openid


def resident_or_staff() -> str | StaffIdentity:
    """The caller: a resident's openid, or a staff identity (401 when the token is neither)."""
    token = _bearer()
    if token is not None:
        cfg = current_app.config["APP_CONFIG"]
        try:
            return resident_tokens.verify(
                cfg.SECRET_KEY, token, cfg.SESSION_TOKEN_MAX_AGE, now=clock().now()
            )
        except resident_tokens.InvalidToken:
            try:
                return _staff(token)
            except TokenRefused:
                pass
    abort(401, message="请先登录（居民令牌或工作人员令牌）。")


def resident_required(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        current_openid()
        return view(*args, **kwargs)

    return wrapper


def _staff(token: str) -> StaffIdentity:
    """The staff member the token stands for now; TokenRefused when none.

    Read once per request: the authentication gate (backend.api.gate) and the view both ask."""
    known = g.get("staff_by_token")
    if known is not None and known[0] == token:
        return known[1]
    staff = authenticate(reader(), token, clock().now())
    g.staff_by_token = (token, staff)
    return staff


def authenticated_staff() -> StaffIdentity:
    """The caller's staff identity (401 without a valid staff token, saying why)."""
    token = _bearer()
    if token is None:
        abort(401, message=UNKNOWN_TOKEN)
    try:
        return _staff(token)
    except TokenRefused as refused:
        abort(401, message=refused.message)


def current_staff() -> StaffIdentity:
    return g.staff


CITY_ONLY = "此操作涉及全市，只有市级账号可以执行；区县账号只能查看和处理本区县的数据。"


def city_wide_staff() -> StaffIdentity:
    """The caller, when their region is the whole city; 403 for a county (or smaller) account."""
    staff = current_staff()
    if not staff.city_wide:
        abort(403, message=CITY_ONLY)
    return staff


def staff_required(*permissions: str) -> Callable[[Callable], Callable]:
    """401 without a valid staff token, 403 when the role has none of `permissions`."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            staff = authenticated_staff()
            if not any(staff.may(permission) for permission in permissions):
                needs = " or ".join(repr(permission) for permission in permissions)
                abort(403, message=f"role {staff.role!r} may not do this (needs {needs})")
            g.staff = staff
            return view(*args, **kwargs)

        return wrapper

    return decorator

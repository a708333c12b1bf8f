"""Signing staff in to the dashboard with their account name and token, and re-checking them on
every request.

Staff accounts have no passwords: the token `flask staff create` printed is the account's secret,
for scripts (Authorization: Bearer) and for the browser alike. A sign-in keeps, in the signed
session cookie, the account's id, when it signed in (business clock) and a fingerprint of the
token's hash: the account is read again on every request, so a disabled account, one whose
token expired, or one whose token was replaced, is out at its next click.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import errors
from backend.auth.staff import StaffIdentity, hash_token, identity_of, usable
from backend.infra import audit
from backend.infra.uow import UnitOfWork
from backend.models import StaffUser

REFUSED = "账号或令牌不正确，或账号已停用、令牌已过期。"


class SignInRefused(errors.Refused):
    """Unknown account, wrong token, a disabled account or an expired token (one message for
    all: a wrong guess learns nothing of the account)."""


@dataclass(frozen=True)
class SignedIn:
    staff: StaffIdentity
    key: str  # the fingerprint the session keeps


def key_of(user: StaffUser) -> str:
    """A fingerprint of the account's token hash: changes when the token is replaced, and says
    nothing of the token (the cookie is signed, not encrypted)."""
    return hashlib.sha256(b"dashboard-session:" + user.token_hash.encode()).hexdigest()[:24]


def sign_in(uow: UnitOfWork, *, name: str, token: str) -> SignedIn:
    """Check an account name and its token; the sign-in is audited in the account's region and
    counts as a use of the token."""
    now = uow.clock.now()
    with uow as session:
        user = session.scalar(select(StaffUser).where(StaffUser.name == name.strip()))
        matches = user is not None and hmac.compare_digest(
            user.token_hash, hash_token(token.strip())
        )
        if user is None or not matches or not usable(user, now):
            raise SignInRefused(REFUSED, reason="sign_in_refused")
        user.last_used_at = now
        audit.record(
            session,
            actor=user.name,
            action="staff.sign_in",
            target=user.name,
            region_code=user.region_code,
            detail={"via": "dashboard"},
        )
        return SignedIn(identity_of(user), key_of(user))


def still_valid(
    session: Session,
    *,
    staff_id: int,
    key: str,
    signed_in_at: datetime,
    now: datetime,
    lifetime: timedelta,
) -> StaffIdentity | None:
    """The signed-in person, or None when the sign-in expired, the account is disabled or gone,
    or its token expired or changed since."""
    if not signed_in_at <= now < signed_in_at + lifetime:
        return None
    user = session.get(StaffUser, staff_id)
    if user is None or not usable(user, now) or not hmac.compare_digest(key_of(user), key):
        return None
    return identity_of(user)

"""Staff accounts: creation, token authentication and what each role may do.

Tokens are 256-bit random values shown once; only their SHA-256 is stored, which is enough for
high-entropy secrets (no slow hash needed) and lets a lookup use the unique index.

A token works from when it is issued (created or rotated) until its expiry, STAFF_TOKEN_DAYS later,
and stops at once when its account is disabled or the token is rotated. When it was last used is
kept to the minute: a busy script's requests write it at most once a minute, not on every call.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from backend.infra import audit
from backend.infra.clock import CLOCK_OPTION, SYSTEM_CLOCK
from backend.infra.statements import Reader
from backend.models import Region, StaffUser
from backend.models.staff import DEPARTMENTS, ROLES
from backend.values import region_codes as regions

PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": frozenset({"view"}),
    "agency": frozenset({"view", "import"}),
    "recon": frozenset({"view", "recon"}),
    "admin": frozenset({"view", "import", "recon", "admin"}),
    # A collecting unit (village, township, health service institution): its own list and batches.
    "collector": frozenset({"collect"}),
    # A school: its own students and their batches.
    "school": frozenset({"school"}),
}


DEFAULT_TOKEN_DAYS = 90  # STAFF_TOKEN_DAYS' default
# How stale last_used_at may get before a request writes it again.
USE_RESOLUTION = timedelta(seconds=60)
UNKNOWN_TOKEN = "a valid staff token is required (Authorization: Bearer <token>)"
DISABLED_TOKEN = "this staff token was disabled"


class StaffError(ValueError):
    pass


class TokenRefused(Exception):
    """A token that authenticates nobody now: unknown, disabled or expired (the message says
    which, about this token only)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class StaffIdentity:
    id: int
    name: str
    role: str
    region_code: str
    department: str | None = None  # hrss (人社, pension) or nhsa (医保, medical); None: both
    school_code: str | None = None  # the one school a school account acts for

    def may(self, permission: str) -> bool:
        return permission in PERMISSIONS[self.role]

    def sees(self, region_code: str) -> bool:
        return regions.in_scope(self.region_code, region_code)

    def handles(self, scheme: str) -> bool:
        """Whether the person's department runs this scheme (人社 pension, 医保 medical)."""
        return self.department is None or DEPARTMENTS[self.department] == scheme

    @property
    def scope_prefix(self) -> str:
        return regions.scope_prefix(self.region_code)

    @property
    def city_wide(self) -> bool:
        """Whether the account's region is the whole city (what city-wide operations need)."""
        return regions.level_of(self.region_code) == "city"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: str  # the only time it exists in clear
    token_hash: str
    issued_at: datetime
    expires_at: datetime


def issue_token(now: datetime, days: int) -> IssuedToken:
    """A fresh random token valid for `days` from `now`."""
    if days < 1:
        raise StaffError(f"a staff token must last at least one day (STAFF_TOKEN_DAYS), not {days}")
    token = secrets.token_urlsafe(32)
    return IssuedToken(token, hash_token(token), now, now + timedelta(days=days))


def expired_message(expires_at: datetime) -> str:
    return f"this staff token expired on {expires_at.isoformat(timespec='seconds')}"


def _session_now(session: Session) -> datetime:
    """The business clock the session's engine carries (as column defaults read it)."""
    clock = session.get_bind().get_execution_options().get(CLOCK_OPTION)
    return (clock or SYSTEM_CLOCK).now()


def create_staff(
    session: Session,
    *,
    name: str,
    role: str,
    region: str,
    actor: str,
    department: str | None = None,
    school_code: str | None = None,
    days: int = DEFAULT_TOKEN_DAYS,
    now: datetime | None = None,
) -> str:
    """Create a staff user and return the token (the only time it exists in clear); it works
    for `days` (STAFF_TOKEN_DAYS) from `now` (by default the session's business clock)."""
    name = name.strip()
    if not name or len(name) > 64:
        raise StaffError("name must be 1 to 64 characters")
    if role not in ROLES:
        raise StaffError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if department is not None and department not in DEPARTMENTS:
        raise StaffError(f"department must be one of {', '.join(DEPARTMENTS)}, not {department!r}")
    school_code = (school_code or "").strip() or None
    if (role == "school") != (school_code is not None):
        raise StaffError("a school account needs --school CODE, and only a school account has one")
    try:
        region_code = regions.normalise(region)
    except regions.InvalidRegionCode as exc:
        raise StaffError(str(exc)) from exc
    if session.get(Region, region_code) is None:
        raise StaffError(f"unknown region {region_code}; load regions first (flask seed-demo)")
    if session.scalar(select(StaffUser.id).where(StaffUser.name == name)) is not None:
        raise StaffError(f"a staff user named {name!r} already exists")
    issued = issue_token(now or _session_now(session), days)
    session.add(
        StaffUser(
            name=name,
            role=role,
            region_code=region_code,
            department=department,
            school_code=school_code,
            token_hash=issued.token_hash,
            issued_at=issued.issued_at,
            expires_at=issued.expires_at,
        )
    )
    audit.record(
        session,
        actor=actor,
        action="staff.create",
        target=name,
        region_code=region_code,
        detail={
            "role": role,
            "department": department,
            "school_code": school_code,
            "expires_at": issued.expires_at.isoformat(timespec="seconds"),
        },
    )
    return issued.token


# Every staff request asks this first: a compiled read, one round trip, no transaction.
_BY_TOKEN = select(
    StaffUser.id,
    StaffUser.name,
    StaffUser.role,
    StaffUser.region_code,
    StaffUser.department,
    StaffUser.school_code,
    StaffUser.disabled_at,
    StaffUser.expires_at,
    StaffUser.last_used_at,
).where(StaffUser.token_hash == bindparam("token_hash"))

# Guarded, so concurrent requests of one token write it once; RETURNING, so the compiled
# statement has rows to fetch on every database.
_NOTE_USE = (
    update(StaffUser)
    .where(
        StaffUser.id == bindparam("staff_id"),
        or_(StaffUser.last_used_at.is_(None), StaffUser.last_used_at < bindparam("stale_before")),
    )
    .values(last_used_at=bindparam("now"))
    .returning(StaffUser.id)
)


def authenticate(reader: Reader, token: str, now: datetime) -> StaffIdentity:
    """The person a bearer token stands for now, or TokenRefused. Notes the use, at most once
    per USE_RESOLUTION: the common request is the one read."""
    rows = reader.all(_BY_TOKEN, token_hash=hash_token(token))
    user = rows[0] if rows else None
    if user is None:
        raise TokenRefused(UNKNOWN_TOKEN)
    if user.disabled_at is not None:
        raise TokenRefused(DISABLED_TOKEN)
    if now >= user.expires_at:
        raise TokenRefused(expired_message(user.expires_at))
    stale_before = now - USE_RESOLUTION
    if user.last_used_at is None or user.last_used_at < stale_before:
        reader.once(_NOTE_USE, staff_id=user.id, stale_before=stale_before, now=now)
    return identity_of(user)


def usable(user: StaffUser, now: datetime) -> bool:
    """Neither disabled nor expired at `now`."""
    return user.disabled_at is None and now < user.expires_at


def identity_of(user: StaffUser) -> StaffIdentity:
    return StaffIdentity(
        id=user.id,
        name=user.name,
        role=user.role,
        region_code=user.region_code,
        department=user.department,
        school_code=user.school_code,
    )

"""Looking after staff accounts: listing them with their tokens' state, disabling one, rotating
its token. Used by `flask staff` (scope: everything) and by admins over the API (scope: their
region; an account outside it is not found, as if it did not exist).

Disabling and rotating are guarded UPDATEs: of two admins acting at once, one changes the row and
writes the audit entry (named after the account's county), the other is told it changed already.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from backend import errors
from backend.auth.staff import issue_token
from backend.infra import audit
from backend.models import StaffUser
from backend.values.region_codes import county_of


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: str
    region_code: str
    department: str | None
    school_code: str | None
    created_at: datetime
    issued_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    disabled_at: datetime | None
    status: str  # active, expired or disabled (now)


def status_of(user: StaffUser, now: datetime) -> str:
    if user.disabled_at is not None:
        return "disabled"
    return "expired" if now >= user.expires_at else "active"


def view(user: StaffUser, now: datetime) -> Account:
    return Account(
        id=user.id,
        name=user.name,
        role=user.role,
        region_code=user.region_code,
        department=user.department,
        school_code=user.school_code,
        created_at=user.created_at,
        issued_at=user.issued_at,
        expires_at=user.expires_at,
        last_used_at=user.last_used_at,
        disabled_at=user.disabled_at,
        status=status_of(user, now),
    )


def in_scope(scope_prefix: str) -> Select:
    """The accounts whose region is inside the scope ('' for all), in a stable order."""
    return (
        select(StaffUser)
        .where(StaffUser.region_code.startswith(scope_prefix, autoescape=True))
        .order_by(StaffUser.region_code, StaffUser.name)
    )


def find(
    session: Session, scope_prefix: str, *, account_id: int | None = None, name: str | None = None
) -> StaffUser:
    """One account inside the scope, by id or by name; NotFound otherwise."""
    query = in_scope(scope_prefix)
    if name is None:
        query = query.where(StaffUser.id == account_id)
    else:
        query = query.where(StaffUser.name == name.strip())
    user = session.scalar(query)
    if user is None:
        raise errors.NotFound("no such staff account", reason="staff_account_not_found")
    return user


def disable(
    session: Session, user: StaffUser, *, actor: str, now: datetime, actor_id: int | None = None
) -> Account:
    """Disable the account: its token gets 401 from the next request, its dashboard sign-in ends.
    An admin may not disable their own account (the one that could undo a mistake)."""
    if actor_id is not None and user.id == actor_id:
        raise errors.Refused("you cannot disable your own account", reason="staff_disable_self")
    changed = session.execute(
        update(StaffUser)
        .where(StaffUser.id == user.id, StaffUser.disabled_at.is_(None))
        .values(disabled_at=now)
        .returning(StaffUser.id),
        execution_options={"synchronize_session": False},
    ).first()
    if changed is None:
        raise errors.Conflict(
            f"staff account {user.name!r} is disabled already", reason="staff_account_disabled"
        )
    session.refresh(user)
    audit.record(
        session,
        actor=actor,
        action="staff.disable",
        target=user.name,
        region_code=county_of(user.region_code),
        detail={"role": user.role, "region_code": user.region_code},
    )
    return view(user, now)


def rotate(
    session: Session, user: StaffUser, *, actor: str, now: datetime, days: int
) -> tuple[Account, str]:
    """A new token for the account (returned once, in clear); the old one stops at once. Also how
    an expired account gets going again; a disabled one stays disabled."""
    issued = issue_token(now, days)
    changed = session.execute(
        update(StaffUser)
        .where(
            StaffUser.id == user.id,
            StaffUser.token_hash == user.token_hash,
            StaffUser.disabled_at.is_(None),
        )
        .values(
            token_hash=issued.token_hash,
            issued_at=issued.issued_at,
            expires_at=issued.expires_at,
            last_used_at=None,
        )
        .returning(StaffUser.id),
        execution_options={"synchronize_session": False},
    ).first()
    if changed is None:
        session.refresh(user)
        why = "disabled" if user.disabled_at is not None else "rotated by someone else just now"
        raise errors.Conflict(
            f"staff account {user.name!r} is {why}; its token was not rotated",
            reason="staff_account_disabled" if user.disabled_at else "staff_token_changed",
        )
    session.refresh(user)
    audit.record(
        session,
        actor=actor,
        action="staff.rotate",
        target=user.name,
        region_code=county_of(user.region_code),
        detail={
            "role": user.role,
            "region_code": user.region_code,
            "expires_at": issued.expires_at.isoformat(timespec="seconds"),
        },
    )
    return view(user, now), issued.token

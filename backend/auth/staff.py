"""Staff accounts: creation, token authentication and what each role may do.

Tokens are 256-bit random values shown once; only their SHA-256 is stored, which is enough for
high-entropy secrets (no slow hash needed) and lets a lookup use the unique index.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from backend.infra import audit
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


class StaffError(ValueError):
    pass


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


def create_staff(
    session: Session,
    *,
    name: str,
    role: str,
    region: str,
    actor: str,
    department: str | None = None,
    school_code: str | None = None,
) -> str:
    """Create a staff user and return the token (the only time it exists in clear)."""
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
    token = secrets.token_urlsafe(32)
    session.add(
        StaffUser(
            name=name,
            role=role,
            region_code=region_code,
            department=department,
            school_code=school_code,
            token_hash=hash_token(token),
        )
    )
    audit.record(
        session,
        actor=actor,
        action="staff.create",
        target=name,
        region_code=region_code,
        detail={"role": role, "department": department, "school_code": school_code},
    )
    return token


# Every staff request asks this first: a compiled read, one round trip, no transaction.
_BY_TOKEN = select(
    StaffUser.id,
    StaffUser.name,
    StaffUser.role,
    StaffUser.region_code,
    StaffUser.department,
    StaffUser.school_code,
    StaffUser.disabled_at,
).where(StaffUser.token_hash == bindparam("token_hash"))


def authenticate(reader: Reader, token: str) -> StaffIdentity | None:
    rows = reader.all(_BY_TOKEN, token_hash=hash_token(token))
    user = rows[0] if rows else None
    if user is None or user.disabled_at is not None:
        return None
    return StaffIdentity(
        id=user.id,
        name=user.name,
        role=user.role,
        region_code=user.region_code,
        department=user.department,
        school_code=user.school_code,
    )

"""Which collecting unit a collector account collects for, and where it may look.

One unit per collector account (staff_user.role = collector). A village or township account's unit
is made on its first use, named after its region. A health service institution (社区卫生服务机构)
collects for the residents of its township: its account is a township's collector account made an
institution, with its own name, by `flask collectors institution ACCOUNT NAME`.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.auth.staff import StaffIdentity
from backend.errors import NotFound, Refused
from backend.infra import audit
from backend.models import CollectingUnit, Region, StaffUser
from backend.values.region_codes import county_of, scope_prefix

KIND_NAMES = {
    "village": "村（社区）",
    "township": "乡镇（街道）",
    "health_institution": "社区卫生服务机构",
}


def unit_of(session: Session, staff: StaffIdentity) -> CollectingUnit:
    """The account's unit, made now for a village or township account that has none yet."""
    if staff.role != "collector":
        raise Refused("只有代征单位账号可以收缴登记。", reason="not_a_collector")
    unit = session.scalar(select(CollectingUnit).where(CollectingUnit.staff_user_id == staff.id))
    if unit is not None:
        return unit
    region = session.get(Region, staff.region_code)
    if region is None or region.level not in ("village", "township"):
        raise Refused(
            "代征单位账号应设在村（社区）或乡镇（街道），请联系经办机构调整账号。",
            reason="unit_region",
        )
    unit = CollectingUnit(
        staff_user_id=staff.id,
        kind=region.level,
        name=_place_name(session, region),
        region_code=region.code,
        county_code=county_of(region.code),
    )
    try:
        with session.begin_nested():  # the account's first two requests at once: one makes it
            session.add(unit)
    except IntegrityError:
        unit = session.scalar(
            select(CollectingUnit).where(CollectingUnit.staff_user_id == staff.id)
        )
        assert unit is not None
    return unit


def make_institution(session: Session, *, account: str, name: str, actor: str) -> CollectingUnit:
    """Make a township collector account's unit a health service institution named `name`."""
    name = name.strip()
    if not name or len(name) > 64:
        raise Refused("机构名称应为 1 到 64 个字符。", reason="bad_name")
    user = session.scalar(select(StaffUser).where(StaffUser.name == account))
    if user is None or user.role != "collector":
        raise NotFound(f"没有代征单位账号 {account}。", reason="no_collector")
    region = session.get(Region, user.region_code)
    if region is None or region.level != "township":
        raise Refused(
            "社区卫生服务机构按所在乡镇（街道）收缴，账号应设在乡镇（街道）。",
            reason="unit_region",
        )
    unit = session.scalar(select(CollectingUnit).where(CollectingUnit.staff_user_id == user.id))
    if unit is None:
        unit = CollectingUnit(
            staff_user_id=user.id,
            region_code=region.code,
            county_code=county_of(region.code),
        )
        session.add(unit)
    unit.kind, unit.name = "health_institution", name
    audit.record(
        session,
        actor=actor,
        action="collecting_unit.institution",
        region_code=unit.county_code,
        target=account,
        detail={"name": name, "township": region.code},
    )
    session.flush()
    return unit


def scope_of(unit: CollectingUnit) -> str:
    """The prefix of every village code the unit collects in."""
    return scope_prefix(unit.region_code)


def _place_name(session: Session, region: Region) -> str:
    """'翟坡镇大召营村' for a village, '翟坡镇' for a township."""
    if region.level == "village" and region.parent_code:
        township = session.get(Region, region.parent_code)
        if township is not None:
            return township.name + region.name
    return region.name

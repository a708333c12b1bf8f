"""What the bulletins page shows: the stored bulletins (通报) the signed-in person may read, newest
first, and for agency staff and admins the form to make one now, with the regions and schemes it
offers and the day it proposes (yesterday).

Reading goes through backend.bulletins.service, which applies the region and department rules (a
bulletin outside them is absent, here as in the API); so does making one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.auth.staff import StaffIdentity
from backend.bulletins import service
from backend.errors import NotFound, Refused
from backend.models import Region
from backend.models.staff import DEPARTMENT_LABELS
from backend.values.labels import SCHEME_SHORT

SHOWN = 50  # bulletins listed on the page; the total is always given


@dataclass(frozen=True)
class Listed:
    id: int
    region_code: str
    region_name: str
    scheme: str
    period_year: int
    as_of: date
    summary: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class MakeForm:
    regions: list[tuple[str, str]]  # (code, name): the city and the counties the person sees
    schemes: list[str]
    day: date  # proposed: yesterday, the day the weekly bulletin stands at


@dataclass(frozen=True)
class BulletinsPage:
    bulletins: list[Listed]
    total: int
    form: MakeForm | None  # None: the person does not make bulletins (or has no region to)


def bulletins_page(session: Session, *, staff: StaffIdentity, today: date) -> BulletinsPage:
    query = service.listed(staff)
    rows = session.execute(query.limit(SHOWN)).all()
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    names = _names(session, {row.region_code for row in rows})
    listed = [
        Listed(**row._asdict(), region_name=names.get(row.region_code, row.region_code))
        for row in rows
    ]
    return BulletinsPage(listed, total or 0, make_form(session, staff=staff, today=today))


def make_form(session: Session, *, staff: StaffIdentity, today: date) -> MakeForm | None:
    if not staff.may("import"):
        return None
    places = rankable(session, staff)
    schemes = [scheme for scheme in service.SCHEMES if staff.handles(scheme)]
    if not places or not schemes:
        return None
    return MakeForm(places, schemes, today - timedelta(days=1))


def rankable(session: Session, staff: StaffIdentity) -> list[tuple[str, str]]:
    """The regions inside the person's scope a bulletin ranks the children of (city, county)."""
    rows = session.execute(
        select(Region.code, Region.name)
        .where(
            Region.level.in_(service.LEVELS),
            Region.code.startswith(staff.scope_prefix, autoescape=True),
        )
        .order_by(Region.code)
    ).all()
    return [(row.code, row.name) for row in rows]


def checked_request(
    form: MakeForm | None, staff: StaffIdentity, values: dict[str, Any]
) -> tuple[str, str, date]:
    """(region code, scheme, day) from the posted form, in Chinese when one is wrong."""
    if form is None:
        raise Refused("您没有生成通报的权限（仅经办人员和管理员可生成县级及以上的通报）。")
    region = values.get("region", "")
    if region not in {code for code, _ in form.regions}:
        raise NotFound("该地区不在您的管辖范围内。", reason="outside_scope")
    scheme = values.get("scheme", "")
    if scheme not in service.SCHEMES:
        raise Refused("请选择险种。", field="scheme")
    if not staff.handles(scheme):
        department = DEPARTMENT_LABELS[staff.department] if staff.department else ""
        raise Refused(f"{department}部门不负责{SCHEME_SHORT[scheme]}的通报。", field="scheme")
    text = values.get("date", "")
    try:
        day = date.fromisoformat(text) if text else form.day
    except ValueError:
        raise Refused(f"日期格式不正确：{text}（应为 YYYY-MM-DD）。", field="date") from None
    return region, scheme, day


def _names(session: Session, codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    query = select(Region.code, Region.name).where(Region.code.in_(codes))
    return dict(session.execute(query).tuples().all())

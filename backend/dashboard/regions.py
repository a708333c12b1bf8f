"""What a region's dashboard page shows: for each scheme the staff member handles, the region's
figures as of a day with its children ranked (backend.progress.query) and its completion day by
day (backend.progress.history), plus the way down to it from the staff member's own region.

Everything comes from the progress rollup; nothing here reads a registration.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from backend.auth.staff import StaffIdentity
from backend.errors import NotFound
from backend.fees import PolicyBook, PolicyNotFound
from backend.fees.policy import SchemePolicy
from backend.models import Region
from backend.progress.figures import Counts
from backend.progress.history import history
from backend.progress.query import Progress, progress

OUTSIDE = "该地区不存在，或不在您的管辖范围内。"


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    level: str
    reachable: bool  # inside the viewer's region: a link


@dataclass(frozen=True)
class SchemeProgress:
    policy: SchemePolicy
    progress: Progress
    days: list[tuple[date, Counts]]


@dataclass(frozen=True)
class RegionPage:
    region: Place
    path: list[Place]  # from the city down to the region's parent
    day: date
    today: date
    opens: date  # the collection window's first day: the earliest day to choose
    schemes: list[SchemeProgress]


def region_page(
    session: Session,
    *,
    staff: StaffIdentity,
    region_code: str,
    day: date | None,
    today: date,
    policies: PolicyBook,
) -> RegionPage:
    """NotFound for a region outside the staff member's scope (as for one that does not exist);
    Refused (from progress) for a day after today."""
    place, path = locate(session, staff=staff, region_code=region_code)
    day = day or today
    season = season_of(policies, region_code, day)
    handled = [policy for policy in season if staff.handles(policy.scheme)]
    schemes = [
        SchemeProgress(
            policy,
            progress(
                session,
                region_code=region_code,
                scheme=policy.scheme,
                period_year=policy.period_year,
                day=day,
                today=today,
                policies=policies,
            ),
            history(
                session,
                region_code=region_code,
                scheme=policy.scheme,
                period_year=policy.period_year,
                since=policy.window[0],
                until=day,
            ),
        )
        for policy in handled
    ]
    return RegionPage(
        region=place,
        path=path,
        day=day,
        today=today,
        opens=min((p.window[0] for p in season), default=day),
        schemes=schemes,
    )


def season_of(policies: PolicyBook, region_code: str, day: date) -> tuple[SchemePolicy, ...]:
    """The scheme policies of the collection season a day belongs to: the latest one opened by
    then (before the first season opens, the first)."""
    years = policies.collection_years(region_code)
    if not years:
        raise NotFound("该地区没有缴费政策。", reason="no_policy")
    opened = [y for y in years if policies.collection_window(region_code, y)[0] <= day]
    try:
        return policies.collection(region_code, opened[-1] if opened else years[0])[1]
    except PolicyNotFound:
        raise NotFound("该地区没有缴费政策。", reason="no_policy") from None


def locate(
    session: Session, *, staff: StaffIdentity, region_code: str
) -> tuple[Place, list[Place]]:
    """A region and the way down to it from the city; NotFound outside the staff member's scope
    (as for one that does not exist)."""
    region = session.get(Region, region_code)
    if region is None or not staff.sees(region_code):
        raise NotFound(OUTSIDE, reason="outside_scope")
    return Place(region.code, region.name, region.level, True), _path(session, region, staff)


def full_name(place: Place, path: list[Place]) -> str:
    """'新乡市 新乡县 翟坡镇 大召营村', as a village's name is printed."""
    return " ".join([*(p.name for p in path), place.name])


def _path(session: Session, region: Region, staff: StaffIdentity) -> list[Place]:
    places: list[Place] = []
    parent_code = region.parent_code
    while parent_code is not None:
        parent = session.get(Region, parent_code)
        if parent is None:
            break
        places.append(Place(parent.code, parent.name, parent.level, staff.sees(parent.code)))
        parent_code = parent.parent_code
    return list(reversed(places))

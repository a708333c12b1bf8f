"""The county page's panel of government-paid batches (代缴/资助), read only: the county's batches
of the person's department, newest first (backend.government.views applies region and
department). Drafting and confirming stay with the staff API.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from backend.auth.staff import StaffIdentity
from backend.government import views

SHOWN = 10
STATUS_LABELS = {"draft": "待确认", "confirmed": "已确认", "cancelled": "已作废"}


def county_batches(
    session: Session, *, staff: StaffIdentity, county_code: str
) -> list[dict[str, Any]]:
    query = views.listed(staff, county_code=county_code).limit(SHOWN)
    return [views.summary(batch) for batch in session.scalars(query)]

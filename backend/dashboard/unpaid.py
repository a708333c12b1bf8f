"""A village's unpaid list: the registrations nobody has paid yet, for the village cadre to go
round with, on paper. Names and ID numbers are masked (backend.values.masking): the cadre knows
the people; the list only has to tell them apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.auth.staff import StaffIdentity
from backend.errors import NotFound
from backend.infra import id_vault
from backend.models import Enrollee, Region, Registration
from backend.states.registrations import RegistrationStatus
from backend.values.labels import registration_label
from backend.values.masking import mask_id_number, mask_name

NOT_A_VILLAGE = "该村（社区）不存在，或不在您的管辖范围内。"
# Unpaid, or held by an order still waiting for its payment (it may yet lapse).
NOT_PAID = (RegistrationStatus.UNPAID.value, RegistrationStatus.PENDING.value)
STATUS_TEXT = {"unpaid": "未缴费", "pending": "支付中"}


@dataclass(frozen=True)
class UnpaidRow:
    household_no: str
    name_masked: str
    id_number_masked: str
    scheme: str
    registration: str  # '2019年度养老保险'
    status: str


def unpaid_in_village(
    session: Session, *, staff: StaffIdentity, village_code: str
) -> list[UnpaidRow]:
    """The village's registrations not paid, by household then person; only the schemes the
    staff member's department runs. NotFound outside their region or for a non-village."""
    village = session.get(Region, village_code)
    if village is None or village.level != "village" or not staff.sees(village_code):
        raise NotFound(NOT_A_VILLAGE, reason="outside_scope")
    query = (
        select(
            Enrollee.household_no,
            Enrollee.name,
            Enrollee.id_sealed,
            Registration.scheme,
            Registration.period_year,
            Registration.status,
        )
        .join(Enrollee, Enrollee.id == Registration.enrollee_id)
        .where(Registration.village_code == village_code, Registration.status.in_(NOT_PAID))
    )
    found = [
        (id_vault.open_sealed(row.id_sealed), row)
        for row in session.execute(query)
        if staff.handles(row.scheme)
    ]
    # By household, then ID number (held sealed, so sorted here), pension before medical.
    found.sort(key=lambda f: f[1].period_year)
    found.sort(key=lambda f: f[1].scheme, reverse=True)
    found.sort(key=lambda f: (f[1].household_no or "", f[0]))
    return [
        UnpaidRow(
            household_no=row.household_no or "",
            name_masked=mask_name(row.name),
            id_number_masked=mask_id_number(number),
            scheme=row.scheme,
            registration=registration_label(row.scheme, row.period_year),
            status=STATUS_TEXT[row.status],
        )
        for number, row in found
    ]

"""A collecting unit's list (花名册): the registrations in its scope for a scheme and year, as XLSX.

The collector takes it round the village, so it has the full name (a collector must find the
person) but only as much of the ID number as tells people of one village apart (the first 6 and
the last 4), the household number, the amount due (pension: the grades open to the person, with
what each costs them) and the status. Its last columns are left for the collector to fill in
(本次收缴: "是" for the medical scheme, the grade in yuan for the pension) and to upload back
(upload.py). Every row names the county, so a list from another county is refused on upload.
Every cell is safe to open in Excel.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.auth.staff import StaffIdentity
from backend.collectors.units import scope_of, unit_of
from backend.enrollees.groups import groups_by_year
from backend.errors import Refused
from backend.fees import NotEligible, PolicyBook, PolicyNotFound, pension_options, quote
from backend.government.eligible import candidates
from backend.infra.spreadsheets import cell_rule
from backend.models import CollectingUnit, Enrollee, Region, Registration
from backend.values.labels import SCHEME_SHORT
from backend.values.masking import mask_id_number
from backend.values.money import yuan_text

COLLECTION_NO = "征集流水号"
MARK = "本次收缴"
COUNTY = "区县代码"
# (key, title, width); the upload finds its columns by these titles.
COLUMNS = (
    ("county_code", COUNTY, 14),
    ("village", "村（社区）", 18),
    ("household_no", "户号", 14),
    ("name", "姓名", 10),
    ("id_number", "身份证号（部分）", 21),
    ("scheme", "险种", 10),
    ("period_year", "缴费年度", 9),
    ("due_yuan", "应缴金额（元）", 14),
    ("grades", "可选档次（元）", 40),
    ("status", "状态", 10),
    ("collection_no", COLLECTION_NO, 22),
    ("mark", MARK, 12),
    ("note", "备注", 30),
)
STATUS_TEXT = {
    "unpaid": "未缴费",
    "pending": "缴费中",
    "paid": "已缴费",
    "treasury_entered": "已入库",
}
MARK_HINT = "医疗保险填“是”；养老保险填档次（元），只填“是”按最低档"


@dataclass(frozen=True)
class Roster:
    title: str  # e.g. 新乡县翟坡镇大召营村 2020年度医疗保险 代征名单
    county_code: str  # 6 digits
    region_code: str  # the unit's village or township
    rows: list[dict[str, Any]]


def for_staff(
    session: Session, book: PolicyBook, staff: StaffIdentity, *, scheme: str, period_year: int
) -> Roster:
    """The list of the collector account's unit (Refused for a scheme its department does not
    run)."""
    if not staff.handles(scheme):
        raise Refused(f"您所在部门不经办{SCHEME_SHORT[scheme]}。", reason="other_department")
    return roster(session, book, unit_of(session, staff), scheme=scheme, period_year=period_year)


def roster(
    session: Session, book: PolicyBook, unit: CollectingUnit, *, scheme: str, period_year: int
) -> Roster:
    county = session.get(Region, unit.county_code)
    villages = dict(
        session.execute(
            select(Region.code, Region.name).where(
                Region.code.startswith(scope_of(unit), autoescape=True),
                Region.level == "village",
            )
        ).all()
    )
    found = session.execute(
        candidates()
        .add_columns(Enrollee.household_no)
        .where(
            Registration.village_code.startswith(scope_of(unit), autoescape=True),
            Registration.scheme == scheme,
            Registration.period_year == period_year,
        )
        .order_by(
            Registration.village_code,
            func.coalesce(Enrollee.household_no, ""),  # no household first, on any database
            Enrollee.id_number,
        )
    ).all()
    county_name = county.name if county else unit.county_code
    rows = [_row(book, row, unit.county_code[:6], villages) for row in found]
    title = f"{county_name}{unit.name} {period_year}年度{SCHEME_SHORT[scheme]} 代征名单"
    return Roster(title, unit.county_code[:6], unit.region_code, rows)


def xlsx(listed: Roster) -> bytes:
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=listed.county_code)
    for index, (_, _, width) in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.append([title for _, title, _ in COLUMNS])
    rules = [(key, cell_rule(key)) for key, _, _ in COLUMNS]
    for row in listed.rows:
        sheet.append([rule(row[key]) for key, rule in rules])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _row(book: PolicyBook, row, county6: str, villages: dict[str, str]) -> dict[str, Any]:
    due, grades, note = _due(book, row)
    return {
        "county_code": county6,
        "village": villages.get(row.village_code, row.village_code),
        "household_no": row.household_no or "",
        "name": row.name,
        "id_number": mask_id_number(row.id_number),
        "scheme": SCHEME_SHORT[row.scheme],
        "period_year": row.period_year,
        "due_yuan": due,
        "grades": grades,
        "status": STATUS_TEXT.get(row.status, row.status),
        "collection_no": row.collection_no,
        "mark": "",
        "note": note if row.status == "unpaid" else "",
    }


def _due(book: PolicyBook, row) -> tuple[str, str, str]:
    """(amount due in yuan, the grades open and what each costs, a note)."""
    try:
        policy = book.scheme_policy(row.village_code, row.scheme, row.period_year)
    except PolicyNotFound:
        return "", "", "缴费政策尚未发布"
    groups = groups_by_year(row.memberships).get(policy.collection_year, frozenset())
    student = row.school_code is not None
    try:
        if row.scheme == "pension":
            options = pension_options(
                policy, birth_date=row.birth_date, groups=groups, is_student=student
            )
        else:
            options = [quote(policy, birth_date=row.birth_date, groups=groups, is_student=student)]
    except NotEligible as exc:
        return "", "", exc.reason
    lowest = options[0]
    if lowest.payable_fen == 0 and len(options) == 1:
        return "0.00", "", "政府全额代缴，无需收缴"
    grades = "、".join(
        f"{q.grade_yuan}"
        + (
            ""
            if q.payable_fen == q.gross_fen
            else f"（个人{yuan_text(q.payable_fen, whole_without_cents=True)}）"
        )
        for q in options
        if q.grade_yuan is not None
    )
    return yuan_text(lowest.payable_fen), grades, MARK_HINT

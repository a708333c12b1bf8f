"""The unit's list uploaded back, filled in: every row marked 本次收缴 is recorded in its open batch.

The file is the list roster.py wrote (XLSX, or the same columns as CSV); its columns are found by
their titles (征集流水号, 本次收缴, 区县代码). A row left blank is skipped; "是" records the
registration (the pension at the lowest grade open to the person); a number is the pension grade
in yuan. Each row is recorded or rejected whole (its own savepoint): a bad row never half-applies
and never stops the others, and the report names every row with its line, outcome and reason.
Uploading the same file again records nothing new. A file that cannot be read to its end applies
nothing at all: the upload is one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, Any

from backend.auth.staff import StaffIdentity
from backend.collectors.recording import Collected, record, writable
from backend.collectors.roster import COLLECTION_NO, COUNTY, MARK
from backend.collectors.units import unit_of
from backend.errors import DomainError, Refused
from backend.fees import PolicyBook
from backend.imports.readers import FileProblem, open_source
from backend.infra import audit
from backend.infra.uow import UnitOfWork

YES = frozenset({"是", "√", "✓", "✔", "已缴", "已收", "y", "yes"})


class BadMark(ValueError):
    """The 本次收缴 cell says something that is neither yes nor a grade."""


@dataclass(frozen=True)
class RowResult:
    line: int
    collection_no: str
    outcome: str  # recorded | unchanged | rejected
    reason: str | None = None
    message: str | None = None
    grade_yuan: int | None = None
    amount_fen: int | None = None


@dataclass
class UploadReport:
    batch_no: str
    rows_read: int = 0
    skipped: int = 0  # left blank: not collected
    results: list[RowResult] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)


def read_mark(value: Any) -> tuple[bool, int | None]:
    """(collected, grade_yuan) from a 本次收缴 cell: (False, None) when blank."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return False, None
    if isinstance(value, bool):
        raise BadMark(str(value))
    if isinstance(value, int):
        return True, value
    if isinstance(value, float) and value.is_integer():
        return True, int(value)
    text = str(value).strip()
    if text.casefold() in YES:
        return True, None
    if text.isdigit():
        return True, int(text)
    raise BadMark(text)


def upload(
    uow: UnitOfWork,
    book: PolicyBook,
    staff: StaffIdentity,
    batch_no: str,
    stream: IO[bytes],
    file_name: str,
) -> UploadReport:
    now = uow.clock.now()
    report = UploadReport(batch_no)
    with uow as session:
        unit = unit_of(session, staff)
        batch = writable(session, unit, batch_no)
        try:
            with open_source(stream, file_name) as source:
                at = _columns(source.header)
                for line, values in source.rows():
                    report.rows_read += 1
                    result = _apply_row(session, book, staff, unit, batch, line, values, at, now)
                    if result is None:
                        report.skipped += 1
                    else:
                        report.results.append(result)
        except FileProblem as exc:
            raise Refused(f"文件无法读取：{exc}", reason=exc.code) from None
        audit.record(
            session,
            actor=staff.name,
            action="collector_batch.uploaded",
            region_code=batch.county_code,
            target=batch.batch_no,
            detail={
                "file_name": (file_name or "")[:120],
                "rows_read": report.rows_read,
                "recorded": [r.collection_no for r in report.results if r.outcome == "recorded"],
                "rejected": report.count("rejected"),
            },
        )
    return report


def _columns(header: list[str]) -> dict[str, int]:
    titles = [str(title).strip() for title in header]
    missing = [name for name in (COLLECTION_NO, MARK) if name not in titles]
    if missing:
        raise Refused(
            f"文件缺少“{'”“'.join(missing)}”列：请上传从系统下载的代征名单并填写“{MARK}”列。",
            reason="missing_columns",
        )
    at = {name: titles.index(name) for name in (COLLECTION_NO, MARK)}
    if COUNTY in titles:
        at[COUNTY] = titles.index(COUNTY)
    return at


def _apply_row(session, book, staff, unit, batch, line, values, at, now) -> RowResult | None:
    def cell(name: str) -> Any:
        index = at.get(name)
        return values[index] if index is not None and index < len(values) else None

    collection_no = str(cell(COLLECTION_NO) or "").strip()
    try:
        collected, grade = read_mark(cell(MARK))
    except BadMark as exc:
        return RowResult(
            line,
            collection_no,
            "rejected",
            "bad_mark",
            f"“{MARK}”填的是“{exc}”：医疗保险填“是”，养老保险填缴费档次（元）。",
        )
    if not collected:
        return None
    county = str(cell(COUNTY) or "").strip()
    if county and county != unit.county_code[:6]:
        return RowResult(
            line,
            collection_no,
            "rejected",
            "other_county",
            f"该行属于区县 {county}，不是本单位的名单。",
        )
    if not collection_no:
        return RowResult(line, "", "rejected", "no_collection_no", "该行没有征集流水号。")
    wanted = Collected(collection_no=collection_no, grade_yuan=grade)
    try:
        with session.begin_nested():  # a row applies whole or not at all
            item = record(
                session, book, staff=staff, unit=unit, batch=batch, collected=wanted, now=now
            )
    except DomainError as exc:
        outcome = "unchanged" if exc.reason == "already_recorded" else "rejected"
        return RowResult(line, collection_no, outcome, exc.reason, exc.message)
    return RowResult(
        line,
        collection_no,
        "recorded",
        grade_yuan=item.grade_yuan,
        amount_fen=item.amount_fen,
    )

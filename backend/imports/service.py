"""Apply an import file to the database in batches, in one transaction, with report and audit.

Rows are read and checked one at a time (`rows.RowParser`), then applied a batch at a time: per
batch one query each for the enrollees, registrations and memberships the batch mentions and one
for the keys accepted earlier in the file (a temporary table, see `dialect`), the decisions in
Python, then one INSERT per table (and an UPDATE for the rare changed rows). Nothing per row
reaches the database, and nothing of the file but the current batch is held in memory.

Outcome of a row: 'inserted' (something new was stored), 'updated' (an enrollee's household_no or
phone, or a registration's village or school data changed), 'unchanged' (all of it was already
stored, so re-importing a file changes nothing), or a Rejection. An enrollee keeps the village of
their first registration; each registration carries its own. Rules beyond the row itself:

- an ID number already stored under another name is rejected (name_mismatch);
- a collection_no may appear once in a file (duplicate_collection_no names the earlier line) and
  belongs to one registration: stored for another enrollee, scheme or year it is rejected; stored
  for the same one the row is that registration;
- one enrollee x scheme x period_year has one registration: another collection_no is rejected
  (already_registered);
- the same person on several lines of a file must carry the same name, household_no and phone
  (person_conflict), otherwise the file's result would depend on the order of its lines;
- a registration that is no longer unpaid is never changed (registration_locked);
- a special group needs the enrollee registered first, under the same name, inside the
  importer's region.

The whole file is one transaction: a problem with the file itself (FileProblem, e.g. bytes that
are not UTF-8 on line 40,001) rolls back every batch, and the failure is audited separately.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from sqlalchemy import Connection, Table, select
from sqlalchemy.exc import IntegrityError

from backend.fees import PolicyBook, PolicyNotFound
from backend.imports import dialect
from backend.imports.readers import FileProblem, open_source
from backend.imports.rows import (
    KINDS,
    PENSION_MAX_AGE,
    PENSION_MIN_AGE,
    GroupRow,
    RegistrationRow,
    Rejection,
    RowParser,
    RowRejected,
)
from backend.infra import audit
from backend.infra.uow import UnitOfWork
from backend.ledger.pushes import push_statement
from backend.models import Enrollee, Region, Registration, SpecialGroupMembership
from backend.models.registrations import new_ref
from backend.progress import journal
from backend.states.registrations import RegistrationStatus
from backend.values import region_codes as regions
from backend.values.beijing import beijing_today
from backend.values.labels import SCHEME_SHORT
from backend.values.masking import mask_id_number

log = logging.getLogger(__name__)

BATCH_SIZE = 2000
KEEP_REJECTED = 1000

_ENROLLEE: Table = Enrollee.__table__  # type: ignore[assignment]
_REGISTRATION: Table = Registration.__table__  # type: ignore[assignment]
_MEMBERSHIP: Table = SpecialGroupMembership.__table__  # type: ignore[assignment]
_REGION: Table = Region.__table__  # type: ignore[assignment]

INSERTED, UPDATED, UNCHANGED = "inserted", "updated", "unchanged"
Outcome = str | Rejection
ParsedRow = RegistrationRow | GroupRow | Rejection


@dataclass
class Counts:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0

    @property
    def accepted(self) -> int:
        return self.inserted + self.updated + self.unchanged

    def as_dict(self) -> dict[str, int]:
        return {
            "read": self.read,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
        }


@dataclass(frozen=True)
class Progress:
    read: int
    accepted: int
    rejected: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0


@dataclass
class ImportReport:
    kind: str
    file_name: str
    counts: Counts = field(default_factory=Counts)
    rejected: list[Rejection] = field(default_factory=list)  # the first KEEP_REJECTED only
    rejected_truncated: bool = False
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file_name": self.file_name,
            "counts": self.counts.as_dict(),
            "rejected": [r.as_dict() for r in self.rejected],
            "rejected_truncated": self.rejected_truncated,
            "warnings": list(self.warnings),
        }


class ImportFailed(Exception):
    """Nothing of the file was applied. `str(exc)` is Chinese, for the staff member."""

    def __init__(self, code: str, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.line = line

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": str(self), "line": self.line}


def run_import(
    uow: UnitOfWork,
    kind: str,
    stream: IO[bytes],
    *,
    file_name: str,
    actor: str,
    scope_code: str,
    policies: PolicyBook,
    now: datetime,
    batch_size: int = BATCH_SIZE,
    keep_rejected: int = KEEP_REJECTED,
    on_rejected: Callable[[Rejection], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> ImportReport:
    """Import one file of `kind` as `actor`, who may write inside region `scope_code`.

    Every rejection goes to `on_rejected`; the report keeps the first `keep_rejected` of them
    (the counts are always exact). Raises ImportFailed when the file as a whole cannot be
    imported; nothing is applied then, and the failure is audited in a transaction of its own.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    scope_code = regions.normalise(scope_code)
    report = ImportReport(kind=kind, file_name=file_name[:255])
    action = f"import.{kind}"
    failure: ImportFailed
    try:
        with uow as session:
            _apply(
                session.connection(),
                stream,
                report,
                scope_code,
                now=now,
                pension_ages=_pension_age_rule(policies),
                batch_size=batch_size,
                keep_rejected=keep_rejected,
                on_rejected=on_rejected,
                on_progress=on_progress,
            )
            audit.record(
                session,
                actor=actor,
                action=action,
                target=report.file_name[:128],
                region_code=scope_code,
                detail={
                    "file_name": report.file_name,
                    "status": "applied",
                    "counts": report.counts.as_dict(),
                    "warnings": report.warnings,
                },
            )
        log.info("%s by %s of %s: %s", action, actor, report.file_name, report.counts.as_dict())
        return report
    except FileProblem as problem:
        failure = ImportFailed(problem.code, str(problem), problem.line)
    except IntegrityError:
        # Every check ran inside this transaction, so only a concurrent writer gets here.
        failure = ImportFailed(
            "concurrent_change",
            "导入期间另一操作修改了相同的数据，本次导入未生效，请重新导入",
        )
    except Exception as exc:
        try:
            # The class only: a database error's text may quote row values.
            internal = ImportFailed("internal_error", exc.__class__.__name__)
            _record_failure(uow, actor, action, report, scope_code, internal)
        except Exception:
            log.exception("could not audit the failed %s", action)
        raise
    _record_failure(uow, actor, action, report, scope_code, failure)
    log.info("%s by %s of %s failed: %s", action, actor, report.file_name, failure.code)
    raise failure


def _apply(
    conn: Connection,
    stream: IO[bytes],
    report: ImportReport,
    scope_code: str,
    *,
    now: datetime,
    pension_ages: Callable[[str, int], tuple[int, int]],
    batch_size: int,
    keep_rejected: int,
    on_rejected: Callable[[Rejection], None] | None,
    on_progress: Callable[[Progress], None] | None,
) -> None:
    """Read, check and write the whole file into `report`, inside the caller's transaction."""
    started = time.perf_counter()
    counts = report.counts
    with open_source(stream, report.file_name) as source:
        parser = RowParser(
            report.kind,
            source.header,
            villages=_villages(conn),
            scope_code=scope_code,
            today=beijing_today(now),
            pension_ages=pension_ages,
        )
        report.warnings.extend(parser.warnings)
        writer = _WRITERS[report.kind](conn, scope_code, now)
        batches = _batches(source.rows(), parser, batch_size)
        with closing(batches), dialect.pipelined(conn):
            for batch in batches:
                for outcome in writer.apply(batch):
                    counts.read += 1
                    if not isinstance(outcome, Rejection):
                        setattr(counts, outcome, getattr(counts, outcome) + 1)
                        continue
                    counts.rejected += 1
                    if on_rejected is not None:
                        on_rejected(outcome)
                    if len(report.rejected) < keep_rejected:
                        report.rejected.append(outcome)
                    else:
                        report.rejected_truncated = True
                if on_progress is not None:
                    elapsed = time.perf_counter() - started
                    on_progress(Progress(counts.read, counts.accepted, counts.rejected, elapsed))
        if counts.read == 0:
            raise FileProblem("no_rows", "文件只有表头，没有数据行")
        writer.finish()


def _record_failure(
    uow: UnitOfWork,
    actor: str,
    action: str,
    report: ImportReport,
    scope_code: str,
    failure: ImportFailed,
) -> None:
    """The failed import's own audit entry, in a transaction of its own (the import's is undone)."""
    with uow as session:
        audit.record(
            session,
            actor=actor,
            action=action,
            target=report.file_name[:128],
            region_code=scope_code,
            detail={
                "file_name": report.file_name,
                "status": "failed",
                "error": failure.as_dict(),
                "rows_read_before_failure": report.counts.read,
            },
        )


def _pension_age_rule(policies: PolicyBook) -> Callable[[str, int], tuple[int, int]]:
    """(village_code, period_year) -> the age limits of the pension policy that applies there."""

    @functools.lru_cache(maxsize=1024)
    def pension_ages(village_code: str, period_year: int) -> tuple[int, int]:
        try:
            policy = policies.scheme_policy(village_code, "pension", period_year)
        except PolicyNotFound:
            return PENSION_MIN_AGE, PENSION_MAX_AGE
        return policy.min_age, policy.max_age

    return pension_ages


def _villages(conn: Connection) -> frozenset[str]:
    # A city has a few thousand villages: cheap to hold, and it saves a query per row.
    return frozenset(conn.scalars(select(_REGION.c.code).where(_REGION.c.level == "village")))


def _batches(
    rows: Iterable[tuple[int, Any]], parser: RowParser, size: int
) -> Iterator[list[ParsedRow]]:
    batch: list[ParsedRow] = []
    for line, values in rows:
        batch.append(parser.parse(line, values))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Writer:
    """Applies batches of one kind of row.

    Per batch: `_load` reads what the database holds for the batch's keys, `_decide` judges each
    row in file order (raising RowRejected, or noting what to write and returning the outcome), and
    `_write` sends the batch's inserts and updates. Keys of accepted rows go to the temporary
    seen table with their line, so a repeat later in the file names the line it repeats.
    """

    def __init__(self, conn: Connection, scope_code: str, now: datetime) -> None:
        self.conn = conn
        self.scope_prefix = regions.scope_prefix(scope_code)
        self.now = now
        self.seen = dialect.seen_table(conn)
        self.earlier: dict[str, int] = {}
        self.new_seen: dict[str, int] = {}

    def apply(self, batch: list[ParsedRow]) -> list[Outcome]:
        rows = [r for r in batch if not isinstance(r, Rejection)]
        self._load(rows)
        self.earlier = dict(
            dialect.select_in(
                self.conn,
                self.seen,
                ("key", "line"),
                "key",
                [key for row in rows for key in self._seen_keys(row)],
            )
        )
        self.new_seen = {}
        outcomes: list[Outcome] = []
        for row in batch:
            if isinstance(row, Rejection):
                outcomes.append(row)
                continue
            try:
                outcomes.append(self._decide(row))
            except RowRejected as problem:
                masked = mask_id_number(row.id_number)
                outcomes.append(Rejection(row.line, problem.code, problem.reason, masked))
        self._write()
        dialect.insert_rows(self.conn, self.seen, ("key", "line"), list(self.new_seen.items()))
        return outcomes

    def finish(self) -> None:
        dialect.drop_seen_table(self.conn)

    def _first_line(self, key: str) -> int | None:
        """The line of an earlier accepted row with this key, in this file."""
        return self.earlier.get(key) or self.new_seen.get(key)

    def _seen_keys(self, row: Any) -> list[str]:
        raise NotImplementedError

    def _load(self, rows: list[Any]) -> None:
        raise NotImplementedError

    def _decide(self, row: Any) -> str:
        raise NotImplementedError

    def _write(self) -> None:
        raise NotImplementedError


@dataclass(slots=True)
class _Person:
    id: int | None  # None until a new enrollee is inserted
    name: str
    household_no: str | None
    phone: str | None


@dataclass(slots=True)
class _StoredRegistration:
    id: int
    enrollee_id: int
    scheme: str
    period_year: int
    village_code: str
    status: str
    school_code: str | None
    study_years_left: int | None


_STORED_REGISTRATION_COLUMNS = (
    "collection_no",
    "id",
    "enrollee_id",
    "scheme",
    "period_year",
    "village_code",
    "status",
    "school_code",
    "study_years_left",
)
_NEW_ENROLLEE_COLUMNS = (
    "id_number",
    "name",
    "birth_date",
    "village_code",
    "household_no",
    "phone",
)
_NEW_REGISTRATION_COLUMNS = (
    "ref",
    "enrollee_id",
    "scheme",
    "period_year",
    "collection_no",
    "village_code",
    "school_code",
    "study_years_left",
)


class _RegistrationWriter(_Writer):
    students = False

    def _seen_keys(self, row: RegistrationRow) -> list[str]:
        return [f"p:{row.id_number}", f"c:{row.collection_no}"]

    def _load(self, rows: list[RegistrationRow]) -> None:
        conn = self.conn
        self.people = {
            id_number: _Person(enrollee_id, name, household_no, phone)
            for enrollee_id, id_number, name, household_no, phone in dialect.select_in(
                conn,
                _ENROLLEE,
                ("id", "id_number", "name", "household_no", "phone"),
                "id_number",
                {r.id_number for r in rows},
            )
        }
        self.by_no = {
            row[0]: _StoredRegistration(*row[1:])
            for row in dialect.select_in(
                conn,
                _REGISTRATION,
                _STORED_REGISTRATION_COLUMNS,
                "collection_no",
                {r.collection_no for r in rows},
            )
        }
        self.by_key = set(
            dialect.select_in(
                conn,
                _REGISTRATION,
                ("enrollee_id", "scheme", "period_year"),
                "enrollee_id",
                [p.id for p in self.people.values()],
            )
        )
        self.new_people: dict[str, tuple[_Person, RegistrationRow]] = {}
        self.new_keys: set[tuple[str, str, int]] = set()
        self.new_registrations: list[RegistrationRow] = []
        self.enrollee_updates: dict[int, _Person] = {}
        self.registration_updates: dict[int, RegistrationRow] = {}

    def _decide(self, row: RegistrationRow) -> str:
        person = self.people.get(row.id_number)
        if person is None and row.id_number in self.new_people:
            person = self.new_people[row.id_number][0]
        person_line = self._first_line(f"p:{row.id_number}")
        person_changed = False
        phone = row.phone
        if person is not None:
            if person.name != row.name:
                if person_line:
                    raise RowRejected(
                        "person_conflict", f"姓名与第{person_line}行同一身份证号的姓名不一致"
                    )
                raise RowRejected("name_mismatch", "姓名与该身份证号已登记的姓名不一致")
            if phone is None:
                phone = person.phone  # an empty phone keeps the stored one
            person_changed = (person.household_no, person.phone) != (row.household_no, phone)
            if person_changed and person_line:
                raise RowRejected(
                    "person_conflict", f"户号或电话与第{person_line}行同一身份证号的不一致"
                )

        no_line = self._first_line(f"c:{row.collection_no}")
        if no_line:
            raise RowRejected("duplicate_collection_no", f"流水号与第{no_line}行重复")
        stored = self.by_no.get(row.collection_no)
        changes = False
        if stored is not None:
            if (
                person is None
                or stored.enrollee_id != person.id
                or (stored.scheme, stored.period_year) != (row.scheme, row.period_year)
            ):
                raise RowRejected("duplicate_collection_no", "流水号已被另一条登记使用")
            if not stored.village_code.startswith(self.scope_prefix):
                raise RowRejected("outside_region", "该登记属于其他地区，不在您的管辖区域内")
            changes = stored.village_code != row.village_code or (
                self.students
                and (stored.school_code, stored.study_years_left)
                != (row.school_code, row.study_years_left)
            )
            if changes and stored.status != RegistrationStatus.UNPAID.value:
                raise RowRejected(
                    "registration_locked", "该登记已进入缴费流程，不能再修改参保地或学校信息"
                )
        elif (row.id_number, row.scheme, row.period_year) in self.new_keys or (
            person is not None
            and person.id is not None
            and (person.id, row.scheme, row.period_year) in self.by_key
        ):
            raise RowRejected(
                "already_registered",
                f"此人{row.period_year}年度{SCHEME_SHORT[row.scheme]}已有登记（流水号不同）",
            )

        # Accepted: note what to write.
        outcome = UNCHANGED
        if person is None:
            person = _Person(None, row.name, row.household_no, row.phone)
            self.new_people[row.id_number] = (person, row)
            outcome = INSERTED
        elif person_changed:
            person.household_no, person.phone = row.household_no, phone
            self.enrollee_updates[person.id] = person  # type: ignore[index]
            outcome = UPDATED
        if stored is None:
            self.new_registrations.append(row)
            self.new_keys.add((row.id_number, row.scheme, row.period_year))
            outcome = INSERTED
        elif changes:
            self.registration_updates[stored.id] = row
            if outcome != INSERTED:
                outcome = UPDATED
        if not person_line:
            self.new_seen[f"p:{row.id_number}"] = row.line
        self.new_seen[f"c:{row.collection_no}"] = row.line
        return outcome

    def _write(self) -> None:
        conn, now = self.conn, self.now
        stamps = {"created_at": now, "updated_at": now}
        ids = {id_number: p.id for id_number, p in self.people.items()}
        inserted = dialect.insert_rows(
            conn,
            _ENROLLEE,
            _NEW_ENROLLEE_COLUMNS,
            [
                (r.id_number, r.name, r.birth_date, r.village_code, r.household_no, r.phone)
                for _person, r in self.new_people.values()
            ],
            same_for_all=stamps,
            returning=("id", "id_number"),
        )
        ids.update({id_number: enrollee_id for enrollee_id, id_number in inserted})
        dialect.update_rows(
            conn,
            _ENROLLEE,
            ("id", "household_no", "phone"),
            [(i, p.household_no, p.phone) for i, p in self.enrollee_updates.items()],
            same_for_all={"updated_at": now},
        )
        dialect.insert_rows(
            conn,
            _REGISTRATION,
            _NEW_REGISTRATION_COLUMNS,
            [
                (
                    new_ref(),
                    ids[r.id_number],
                    r.scheme,
                    r.period_year,
                    r.collection_no,
                    r.village_code,
                    r.school_code,
                    r.study_years_left,
                )
                for r in self.new_registrations
            ],
            same_for_all={"status": RegistrationStatus.UNPAID.value, **stamps},
        )
        columns = ("id", "village_code")
        if self.students:
            columns += ("school_code", "study_years_left")
        dialect.update_rows(
            conn,
            _REGISTRATION,
            columns,
            [
                (reg_id, row.village_code, row.school_code, row.study_years_left)[: len(columns)]
                for reg_id, row in self.registration_updates.items()
            ],
            same_for_all={"updated_at": now},
            # Guarded: a registration paid since we read it is left alone.
            only_if={"status": RegistrationStatus.UNPAID.value},
        )
        # The bureau is pushed each registration added or changed (sent by the ledger worker).
        pushed = [r.collection_no for r in self.new_registrations]
        pushed += [row.collection_no for row in self.registration_updates.values()]
        if pushed:
            numbers = _REGISTRATION.c.collection_no.in_(pushed)
            conn.execute(push_statement(select(_REGISTRATION.c.id).where(numbers), now=now))
        moved = [
            (self.by_no[row.collection_no], row)
            for row in self.registration_updates.values()
            if self.by_no[row.collection_no].village_code != row.village_code
        ]
        journal.registered(
            conn,
            day=journal.day_of(now),
            added=[
                *((r.village_code, r.scheme, r.period_year) for r in self.new_registrations),
                *((row.village_code, row.scheme, row.period_year) for _, row in moved),
            ],
            removed=[(stored.village_code, row.scheme, row.period_year) for stored, row in moved],
        )


class _StudentWriter(_RegistrationWriter):
    students = True


class _GroupWriter(_Writer):
    def _seen_keys(self, row: GroupRow) -> list[str]:
        return [f"g:{row.id_number}|{row.group}|{row.year}"]

    def _load(self, rows: list[GroupRow]) -> None:
        conn = self.conn
        self.people = {
            id_number: (enrollee_id, name, village_code)
            for enrollee_id, id_number, name, village_code in dialect.select_in(
                conn,
                _ENROLLEE,
                ("id", "id_number", "name", "village_code"),
                "id_number",
                {r.id_number for r in rows},
            )
        }
        self.memberships = {
            (enrollee_id, group, year): (membership_id, source)
            for membership_id, enrollee_id, group, year, source in dialect.select_in(
                conn,
                _MEMBERSHIP,
                ("id", "enrollee_id", "group", "year", "source"),
                "enrollee_id",
                [p[0] for p in self.people.values()],
            )
        }
        self.inserts: list[tuple[int, str, int, str]] = []
        self.updates: list[tuple[int, str]] = []

    def _decide(self, row: GroupRow) -> str:
        (key,) = self._seen_keys(row)
        first = self._first_line(key)
        if first:
            raise RowRejected("duplicate_row", f"与第{first}行重复（同一人、同一类别、同一年度）")
        person = self.people.get(row.id_number)
        if person is None:
            raise RowRejected("enrollee_not_found", "未找到该身份证号的参保人，请先导入参保登记")
        enrollee_id, name, village_code = person
        if name != row.name:
            raise RowRejected("name_mismatch", "姓名与该身份证号已登记的姓名不一致")
        if not village_code.startswith(self.scope_prefix):
            raise RowRejected("outside_region", "此人的参保地不在您的管辖区域内")
        self.new_seen[key] = row.line
        stored = self.memberships.get((enrollee_id, row.group, row.year))
        if stored is None:
            self.inserts.append((enrollee_id, row.group, row.year, row.source))
            return INSERTED
        membership_id, source = stored
        if source != row.source:
            self.updates.append((membership_id, row.source))
            return UPDATED
        return UNCHANGED

    def _write(self) -> None:
        dialect.insert_rows(
            self.conn,
            _MEMBERSHIP,
            ("enrollee_id", "group", "year", "source"),
            self.inserts,
            same_for_all={"created_at": self.now},
        )
        dialect.update_rows(self.conn, _MEMBERSHIP, ("id", "source"), self.updates)
        # A new membership changes what the person's unpaid registrations cost: the bureau is
        # pushed them again.
        enrollees = {enrollee_id for enrollee_id, *_ in self.inserts}
        if enrollees:
            self.conn.execute(
                push_statement(
                    select(_REGISTRATION.c.id).where(
                        _REGISTRATION.c.enrollee_id.in_(sorted(enrollees)),
                        _REGISTRATION.c.status == RegistrationStatus.UNPAID.value,
                    ),
                    now=self.now,
                )
            )


_WRITERS: dict[str, type[_Writer]] = {
    "registrations": _RegistrationWriter,
    "students": _StudentWriter,
    "groups": _GroupWriter,
}

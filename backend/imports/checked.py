"""The checked path: rows applied a batch at a time, each judged in Python against stored data.

Every row of an import on SQLite takes this path, and on PostgreSQL every row that `bulk` could
not apply set-based (a person or collection_no already stored, or met on another line). Per
batch: `_load` reads what the database holds for the batch's keys (one query per table) and the
lines of the keys accepted earlier in the file (the temporary seen table, see `dialect`),
`_decide` judges each row in file order (raising RowRejected, or noting what to write and
returning the outcome), and `_write` sends the batch's inserts, updates and pushes. Nothing per
row reaches the database.

Outcome of a row: 'inserted' (something new was stored), 'updated' (an enrollee's household_no
or phone, a registration's village or school data, or a membership's source changed),
'unchanged' (all of it was already stored, so re-importing a file changes nothing), or a
Rejection. Rules beyond the row itself:

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
  importer's region;
- a person registered elsewhere (their household or one of their registrations lies outside the
  importer's region) is never touched: the row is rejected with one generic code
  (not_in_your_region_or_not_found), before any name is compared, the same code a group row gets
  for an ID number stored nowhere. Distinct answers would let an agency probe another county's
  people by ID number and name, one row at a time.

An enrollee keeps the village of their first registration; each registration carries its own.
Every registration added or changed gets a push to the tax bureau (backend.ledger.pushes), and
so does every unpaid registration whose price (the amounts its push names) a new special-group
membership changes; the household_no and phone of an enrollee are not part of what the bureau is
sent.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, Table, select

from backend.fees import PolicyBook
from backend.imports import dialect
from backend.imports.rows import GroupRow, RegistrationRow, Rejection, RowRejected
from backend.infra import id_vault
from backend.ledger.pushes import NotPriceable, push_amounts, push_statement
from backend.models import Enrollee, Registration, SpecialGroupMembership
from backend.models.registrations import new_ref
from backend.states.registrations import RegistrationStatus
from backend.values import region_codes as regions
from backend.values.labels import SCHEME_SHORT
from backend.values.masking import mask_id_number

INSERTED, UPDATED, UNCHANGED = "inserted", "updated", "unchanged"
Outcome = str | Rejection
ParsedRow = RegistrationRow | GroupRow | Rejection
# (village_code, scheme, period_year): what the progress journal counts registrations by.
JournalKey = tuple[str, str, int]

_ENROLLEE: Table = Enrollee.__table__  # type: ignore[assignment]
_REGISTRATION: Table = Registration.__table__  # type: ignore[assignment]
_MEMBERSHIP: Table = SpecialGroupMembership.__table__  # type: ignore[assignment]
_UNPAID = RegistrationStatus.UNPAID.value

NOT_IN_REGION = "not_in_your_region_or_not_found"


def _not_in_region() -> RowRejected:
    return RowRejected(NOT_IN_REGION, "未找到该参保人，或此人的参保登记不在您的管辖区域内")


def people_elsewhere(conn: Connection, scope_prefix: str, enrollee_ids: list[int]) -> set[int]:
    """Of these stored enrollees, those whose household (their village) or any registration lies
    outside the region `scope_prefix`: an import of that region must not touch them."""
    if not enrollee_ids:
        return set()
    outside = {
        enrollee_id
        for enrollee_id, village_code in dialect.select_in(
            conn, _ENROLLEE, ("id", "village_code"), "id", enrollee_ids
        )
        if not village_code.startswith(scope_prefix)
    }
    outside.update(
        enrollee_id
        for enrollee_id, village_code in dialect.select_in(
            conn, _REGISTRATION, ("enrollee_id", "village_code"), "enrollee_id", enrollee_ids
        )
        if not village_code.startswith(scope_prefix)
    )
    return outside


class Writer:
    """Applies batches of one kind of row; see the module docstring.

    Keys of accepted rows go to the temporary seen table with their line, so a repeat later in
    the file names the line it repeats. `registered` and `moved_away` count the registrations
    this writer added to and took from each village, for the progress journal.
    """

    def __init__(
        self, conn: Connection, scope_code: str, now: datetime, policies: PolicyBook
    ) -> None:
        self.conn = conn
        self.scope_prefix = regions.scope_prefix(scope_code)
        self.now = now
        self.policies = policies
        self.vault = id_vault.current()
        self.seen = dialect.temporary(conn, dialect.SEEN)
        self.earlier: dict[str, int] = {}
        self.new_seen: dict[str, int] = {}
        self.registered: Counter[JournalKey] = Counter()
        self.moved_away: Counter[JournalKey] = Counter()

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

    def _hashes(self, rows: list[Any]) -> dict[str, str]:
        """The batch's ID numbers by their hash (what the enrollee table is searched by)."""
        return {self.vault.hash_id(n): n for n in {r.id_number for r in rows}}

    def finish(self) -> None:
        dialect.drop_temporary(self.conn, dialect.SEEN)

    def _first_line(self, key: str) -> int | None:
        """The line of an earlier accepted row with this key, in this file."""
        return self.earlier.get(key) or self.new_seen.get(key)

    def _push(self, chosen: Any) -> None:
        """One push message per registration id `chosen` selects, in this transaction."""
        self.conn.execute(push_statement(chosen, now=self.now))

    def _seen_keys(self, row: Any) -> list[str]:
        raise NotImplementedError

    def _load(self, rows: list[Any]) -> None:
        raise NotImplementedError

    def _decide(self, row: Any) -> str:
        raise NotImplementedError

    def _write(self) -> None:
        raise NotImplementedError


def seen_keys(row: RegistrationRow) -> list[str]:
    """A registration row's keys in the seen table: its person and its collection_no."""
    return [f"p:{row.id_number}", f"c:{row.collection_no}"]


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
    "id_hash",
    "id_sealed",
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


class RegistrationWriter(Writer):
    students = False

    def _seen_keys(self, row: RegistrationRow) -> list[str]:
        return seen_keys(row)

    def _load(self, rows: list[RegistrationRow]) -> None:
        conn = self.conn
        self.numbers = self._hashes(rows)
        self.people = {
            self.numbers[id_hash]: _Person(enrollee_id, name, household_no, phone)
            for enrollee_id, id_hash, name, household_no, phone in dialect.select_in(
                conn,
                _ENROLLEE,
                ("id", "id_hash", "name", "household_no", "phone"),
                "id_hash",
                self.numbers,
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
        self.elsewhere = people_elsewhere(
            conn, self.scope_prefix, [p.id for p in self.people.values() if p.id is not None]
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
            if person.id in self.elsewhere:
                raise _not_in_region()
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
            if changes and stored.status != _UNPAID:
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
        hash_id, seal = self.vault.hash_id, self.vault.seal
        inserted = dialect.insert_rows(
            conn,
            _ENROLLEE,
            _NEW_ENROLLEE_COLUMNS,
            [
                (
                    hash_id(r.id_number),
                    seal(r.id_number),
                    r.name,
                    r.birth_date,
                    r.village_code,
                    r.household_no,
                    r.phone,
                )
                for _person, r in self.new_people.values()
            ],
            same_for_all=stamps,
            returning=("id", "id_hash"),
        )
        ids.update({self.numbers[id_hash]: enrollee_id for enrollee_id, id_hash in inserted})
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
            same_for_all={"status": _UNPAID, **stamps},
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
            only_if={"status": _UNPAID},
        )
        if self.new_registrations:
            nos = [r.collection_no for r in self.new_registrations]
            self._push(select(_REGISTRATION.c.id).where(_REGISTRATION.c.collection_no.in_(nos)))
        if self.registration_updates:
            self._push(
                select(_REGISTRATION.c.id).where(
                    _REGISTRATION.c.id.in_(list(self.registration_updates)),
                    _REGISTRATION.c.status == _UNPAID,  # the guard of the update above
                )
            )
        self.registered.update(
            (r.village_code, r.scheme, r.period_year) for r in self.new_registrations
        )
        for row in self.registration_updates.values():
            before = self.by_no[row.collection_no].village_code
            if before != row.village_code:
                self.registered[(row.village_code, row.scheme, row.period_year)] += 1
                self.moved_away[(before, row.scheme, row.period_year)] += 1


class StudentWriter(RegistrationWriter):
    students = True


class GroupWriter(Writer):
    def _seen_keys(self, row: GroupRow) -> list[str]:
        return [f"g:{row.id_number}|{row.group}|{row.year}"]

    def _load(self, rows: list[GroupRow]) -> None:
        conn = self.conn
        numbers = self._hashes(rows)
        self.people = {
            numbers[id_hash]: (enrollee_id, name, village_code, birth_date)
            for enrollee_id, id_hash, name, village_code, birth_date in dialect.select_in(
                conn,
                _ENROLLEE,
                ("id", "id_hash", "name", "village_code", "birth_date"),
                "id_hash",
                numbers,
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
        self.elsewhere = people_elsewhere(
            conn, self.scope_prefix, [p[0] for p in self.people.values()]
        )
        self.inserts: list[tuple[int, str, int, str]] = []
        self.updates: list[tuple[int, str]] = []

    def _decide(self, row: GroupRow) -> str:
        (key,) = self._seen_keys(row)
        first = self._first_line(key)
        if first:
            raise RowRejected("duplicate_row", f"与第{first}行重复（同一人、同一类别、同一年度）")
        person = self.people.get(row.id_number)
        if person is None or person[0] in self.elsewhere:
            raise _not_in_region()
        enrollee_id, name, _village_code, _born = person
        if name != row.name:
            raise RowRejected("name_mismatch", "姓名与该身份证号已登记的姓名不一致")
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
        repriced = self._repriced()
        if repriced:
            self._push(select(_REGISTRATION.c.id).where(_REGISTRATION.c.id.in_(repriced)))

    def _repriced(self) -> list[int]:
        """The unpaid registrations whose push amounts this batch's new memberships change.

        The amounts are the ones the bureau is sent (backend.ledger.pushes.push_amounts), before
        and after the batch: a membership of a year no registration is priced for, or one that
        helps no more than the person's other groups, changes nothing and pushes nothing.
        """
        added: defaultdict[int, list[str]] = defaultdict(list)
        for enrollee_id, group, year, _source in self.inserts:
            added[enrollee_id].append(f"{group}:{year}")
        if not added:
            return []
        held: defaultdict[int, list[str]] = defaultdict(list)
        for enrollee_id, group, year in self.memberships:
            held[enrollee_id].append(f"{group}:{year}")
        born = {person[0]: person[3] for person in self.people.values()}
        repriced = []
        for reg_id, enrollee_id, scheme, year, village, school, status in dialect.select_in(
            self.conn,
            _REGISTRATION,
            ("id", "enrollee_id", "scheme", "period_year", "village_code", "school_code", "status"),
            "enrollee_id",
            list(added),
        ):
            if status != _UNPAID:
                continue
            registration = {
                "village_code": village,
                "scheme": scheme,
                "period_year": year,
                "school_code": school,
                "birth_date": born[enrollee_id],
            }
            before = held[enrollee_id]
            after = before + added[enrollee_id]
            if self._amounts(registration, before) != self._amounts(registration, after):
                repriced.append(reg_id)
        return repriced

    def _amounts(self, registration: dict[str, Any], memberships: list[str]) -> Any:
        # A row as push_amounts reads it: memberships as memberships_of writes them.
        row = SimpleNamespace(**registration, memberships=",".join(memberships))
        try:
            return push_amounts(self.policies, row)
        except NotPriceable:
            return None


WRITERS: dict[str, type[Writer]] = {
    "registrations": RegistrationWriter,
    "students": StudentWriter,
    "groups": GroupWriter,
}

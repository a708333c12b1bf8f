"""PostgreSQL's set-based path for registrations and students imports: rows about new people.

Most rows of a large import are about people the database has never seen, under collection_nos
it has never seen, each on one line of the file. Such a row ('fresh') cannot be rejected by
anything but its own checks (rows.py, already passed), and cannot affect or be affected by any
other row, so it needs no judging in Python: one statement per batch decides which rows of the
batch are fresh and writes their enrollees, registrations and pushes, in the database, while
Python reads and checks the next batch (the statement is sent in pipeline mode and nothing is
fetched, see dialect.pipelined). Every row of the batch is staged in a temporary table
(`import_row`) with its verdict.

A row is fresh when its ID number and collection_no are stored nowhere (enrollee, registration),
appear on no other line of its batch, and appear in no row held back earlier in the file. Every
other row is held back and goes, after the whole file has been read, through the checked path
(backend.imports.checked) in file order. Holding back a row that shares a key with a held row
keeps the file's order wherever it can matter, so the outcome is the one the checked path alone
would give (tests compare the two on tricky files).

Costs per row, next to a bare INSERT ... SELECT of the same rows: two index probes (ID number,
collection_no), two more into the small indexes of held rows once some row was held, and the
row's keys into the temporary table (no WAL); what it saves in return is the bare SQL's joins back
to the enrollees and registrations it wrote (ids come from the sequences up front). JIT is off
for the import's transaction (dialect.tune).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    case,
    column,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY

from backend.imports import dialect
from backend.imports.checked import JournalKey
from backend.imports.rows import RegistrationRow
from backend.infra import id_vault
from backend.infra.statements import CompiledStatement
from backend.ledger.pushes import push_statement
from backend.models import Enrollee, Registration
from backend.models.registrations import new_refs
from backend.states.registrations import RegistrationStatus

_ENROLLEE: Table = Enrollee.__table__  # type: ignore[assignment]
_REGISTRATION: Table = Registration.__table__  # type: ignore[assignment]

# RegistrationRow's fields in order, with their types: the staged columns and the batch's arrays.
_FIELDS = (
    ("line", Integer),
    ("collection_no", String),
    ("id_number", String),
    ("name", String),
    ("birth_date", Date),
    ("scheme", String),
    ("period_year", Integer),
    ("village_code", String),
    ("household_no", String),
    ("phone", String),
    ("school_code", String),
    ("study_years_left", Integer),
)
assert tuple(name for name, _ in _FIELDS) == RegistrationRow._fields
_STUDENT_ONLY = ("school_code", "study_years_left")
# Computed per row in Python next to the fields: the enrollee table holds the ID number hashed
# and sealed only (backend.infra.id_vault); the staged rows keep it in their temporary table.
_EXTRA = (("id_hash", String), ("id_sealed", String), ("ref", String), ("alone", Boolean))
_ID_NUMBER = RegistrationRow._fields.index("id_number")
_VILLAGE, _SCHEME, _YEAR = (
    RegistrationRow._fields.index(name) for name in ("village_code", "scheme", "period_year")
)

ROWS = Table(
    "import_row",
    MetaData(),
    *(Column(name, kind) for name, kind in _FIELDS),
    Column("fresh", Boolean, nullable=False),
    # Only held rows are indexed: the index stays as small as they are few.
    Index("import_row_held_id_number", "id_number", postgresql_where=text("NOT fresh")),
    Index("import_row_held_collection_no", "collection_no", postgresql_where=text("NOT fresh")),
    Index("import_row_held_line", "line", postgresql_where=text("NOT fresh")),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)


class Bulk:
    """Stages and applies batches of checked rows; see the module docstring."""

    def __init__(self, conn: Connection, *, students: bool, now: datetime) -> None:
        self.conn = conn
        dialect.temporary(conn, ROWS)
        sequences = conn.execute(
            select(
                func.pg_get_serial_sequence(_ENROLLEE.name, "id"),
                func.pg_get_serial_sequence(_REGISTRATION.name, "id"),
            )
        ).one()
        self.fields = [
            (name, kind) for name, kind in _FIELDS if students or name not in _STUDENT_ONLY
        ]
        compiled = CompiledStatement(_statement(self.fields, sequences, now), conn.dialect)
        # The batch's arrays go in binary (see dialect): %(name)b instead of %(name)s.
        self.sql = compiled.sql
        for name, _kind in (*self.fields, *_EXTRA):
            self.sql = self.sql.replace(f"%({name})s::", f"%({name})b::")
        self.compiled = compiled
        self.positions = [RegistrationRow._fields.index(name) for name, _kind in self.fields]
        self.sent: Counter[JournalKey] = Counter()
        self.vault = id_vault.current()

    def send(self, rows: Sequence[RegistrationRow]) -> None:
        """Stage a batch and write its fresh rows; nothing is waited for."""
        if not rows:
            return
        ids = Counter(r.id_number for r in rows)
        nos = Counter(r.collection_no for r in rows)
        columns = list(zip(*rows, strict=True))
        self.sent.update(zip(columns[_VILLAGE], columns[_SCHEME], columns[_YEAR], strict=True))
        values = {
            name: list(columns[i]) for (name, _), i in zip(self.fields, self.positions, strict=True)
        }
        numbers = columns[_ID_NUMBER]
        values["id_hash"] = [self.vault.hash_id(n) for n in numbers]
        values["id_sealed"] = [self.vault.seal(n) for n in numbers]
        values["ref"] = new_refs(len(rows))
        values["alone"] = [ids[r.id_number] == 1 and nos[r.collection_no] == 1 for r in rows]
        dialect.pg_execute(self.conn, self.sql, self.compiled.parameters(values), fetch=False)

    def written(self) -> Counter[JournalKey]:
        """The registrations written, counted by village, scheme and period_year: the rows sent
        less the (few) held back, which the database counts."""
        held = self.conn.execute(
            select(ROWS.c.village_code, ROWS.c.scheme, ROWS.c.period_year, func.count())
            .where(~ROWS.c.fresh)
            .group_by(ROWS.c.village_code, ROWS.c.scheme, ROWS.c.period_year)
        )
        return self.sent - Counter(
            {(village, scheme, year): n for village, scheme, year, n in held}
        )

    def held(self, size: int) -> Iterator[list[RegistrationRow]]:
        """The rows held back, in file order, `size` at a time (fetched through the driver, so
        the caller may write in pipeline mode meanwhile)."""
        columns = [ROWS.c[name] for name in RegistrationRow._fields]
        page = CompiledStatement(
            select(*columns)
            .where(~ROWS.c.fresh, ROWS.c.line > bindparam("after"))
            .order_by(ROWS.c.line)
            .limit(bindparam("size")),
            self.conn.dialect,
        )
        after = 0
        while True:
            params = page.parameters({"after": after, "size": size})
            found = dialect.pg_execute(self.conn, page.sql, params, fetch=True)
            if not found:
                return
            yield [RegistrationRow._make(r) for r in found]
            after = found[-1][0]

    def seed_seen(self, seen: Table) -> None:
        """Put the lines of the fresh rows that share a key with a held row into `seen`, so the
        checked path names them as the earlier line (keys as checked.seen_keys writes them)."""
        fresh, held = ROWS.alias("fresh_row"), ROWS.alias("held_row")
        people = select(literal("p:") + fresh.c.id_number, fresh.c.line).where(
            fresh.c.fresh,
            fresh.c.id_number.in_(select(held.c.id_number).where(~held.c.fresh)),
        )
        numbers = select(literal("c:") + fresh.c.collection_no, fresh.c.line).where(
            fresh.c.fresh,
            fresh.c.collection_no.in_(select(held.c.collection_no).where(~held.c.fresh)),
        )
        self.conn.execute(insert(seen).from_select(["key", "line"], people.union_all(numbers)))


def _quoted(name: str) -> str:
    return name.replace("'", "''")


def _statement(fields: list[tuple[str, type]], sequences: Sequence[str], now: datetime):
    """The batch statement: stage every row, and write each fresh row's enrollee, registration
    and push (data-modifying CTEs, one round trip)."""
    inputs = [*fields, *_EXTRA]
    batch_in = (
        func.unnest(*(bindparam(name, type_=ARRAY(kind)) for name, kind in inputs))
        .table_valued(*(column(name, kind) for name, kind in inputs))
        .render_derived(name="b")
    )

    def absent(probe):
        # A scalar subquery is always an index probe per row; an EXISTS could be planned as a
        # hash of the whole enrollee table, once the batch looks big enough to the planner.
        return probe.correlate(batch_in).scalar_subquery().is_(None)

    one = literal(1)
    # Rows held back earlier in the file: looked for once per statement, and only then per row;
    # ordered by line so the (tiny) index of held rows answers, not a scan of every row staged.
    none_held = (
        select(ROWS.c.line).where(~ROWS.c.fresh).order_by(ROWS.c.line).limit(1).scalar_subquery()
    ).is_(None)
    judged = (
        select(
            and_(
                batch_in.c.alone,
                absent(select(one).where(_ENROLLEE.c.id_hash == batch_in.c.id_hash)),
                absent(
                    select(one).where(_REGISTRATION.c.collection_no == batch_in.c.collection_no)
                ),
                or_(
                    none_held,
                    and_(
                        absent(
                            select(one)
                            .where(~ROWS.c.fresh, ROWS.c.id_number == batch_in.c.id_number)
                            .limit(1)
                        ),
                        absent(
                            select(one)
                            .where(~ROWS.c.fresh, ROWS.c.collection_no == batch_in.c.collection_no)
                            .limit(1)
                        ),
                    ),
                ),
            ).label("fresh")
        )
        .correlate(batch_in)
        # OFFSET 0 keeps the verdict a subquery of its own: merged into the select below, its
        # probes would run once for every use of `fresh` there.
        .offset(0)
        .lateral("judged")
    )

    def next_id(sequence: str):
        # The sequence as a constant of the statement: a regclass cast of a parameter would be
        # a catalog lookup per row once the statement is prepared with a generic plan.
        nextval = func.nextval(literal_column(f"'{_quoted(sequence)}'::regclass"))
        return case((judged.c.fresh, nextval))

    enrollee_seq, registration_seq = sequences
    # Computed once (it calls nextval), then read by each write below.
    batch = (
        select(
            batch_in,
            judged.c.fresh,
            next_id(enrollee_seq).label("enrollee_id"),
            next_id(registration_seq).label("registration_id"),
        )
        .select_from(batch_in.join(judged, true()))
        .cte("batch")
        .prefix_with("MATERIALIZED")
    )
    fresh = select(batch).where(batch.c.fresh).subquery("fresh")
    # A fresh row is staged for its keys and line only (see seed_seen); a held row in full.
    keys = ("line", "id_number", "collection_no")
    staged = insert(ROWS).from_select(
        [*(name for name, _kind in fields), "fresh"],
        select(
            *(
                batch.c[name] if name in keys else case((~batch.c.fresh, batch.c[name]))
                for name, _kind in fields
            ),
            batch.c.fresh,
        ),
    )

    def stamp(table: Table, name: str):
        return literal(now, table.c[name].type)

    people = insert(_ENROLLEE).from_select(
        [
            *("id", "id_hash", "id_sealed", "name", "birth_date", "village_code"),
            *("household_no", "phone", "created_at", "updated_at"),
        ],
        select(
            fresh.c.enrollee_id,
            fresh.c.id_hash,
            fresh.c.id_sealed,
            fresh.c.name,
            fresh.c.birth_date,
            fresh.c.village_code,
            fresh.c.household_no,
            fresh.c.phone,
            stamp(_ENROLLEE, "created_at"),
            stamp(_ENROLLEE, "updated_at"),
        ),
    )
    student_columns = [name for name, _kind in fields if name in _STUDENT_ONLY]
    registrations = insert(_REGISTRATION).from_select(
        [
            *("id", "ref", "enrollee_id", "scheme", "period_year", "collection_no", "village_code"),
            *student_columns,
            *("status", "created_at", "updated_at"),
        ],
        select(
            fresh.c.registration_id,
            fresh.c.ref,
            fresh.c.enrollee_id,
            fresh.c.scheme,
            fresh.c.period_year,
            fresh.c.collection_no,
            fresh.c.village_code,
            *(fresh.c[name] for name in student_columns),
            literal(RegistrationStatus.UNPAID.value),
            stamp(_REGISTRATION, "created_at"),
            stamp(_REGISTRATION, "updated_at"),
        ),
    )
    return push_statement(select(fresh.c.registration_id), now=now).add_cte(
        staged.cte("staged"), people.cte("people"), registrations.cte("registrations")
    )

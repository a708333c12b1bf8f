"""Writes the demo regions and population to the database, safe to run again at any point.

People go in batches, one transaction per batch (enrollees, their special groups and their
registrations together). Every row has a deterministic key (id_number, collection_no, ref) and
inserts skip rows that already exist, so a run interrupted half-way is finished by running it
again. A batch whose last registration already exists was committed whole and is skipped
without writing.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    any_,
    bindparam,
    cast,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from backend.infra import id_vault
from backend.ledger.pushes import REGISTRATION, enqueue_pushes
from backend.models import Enrollee, LedgerMessage, Region, Registration, SpecialGroupMembership
from backend.progress import journal
from backend.seed.population import GROUP_YEAR, Person
from backend.seed.regions import RegionRow
from backend.states.registrations import RegistrationStatus

DEFAULT_BATCH_SIZE = 5000
_UNIT, _RECORD = "\x1f", "\x1e"  # between values / stands for NULL (PostgreSQL bulk insert)

_ENROLLEE: Table = Enrollee.__table__  # type: ignore[assignment]
_MEMBERSHIP: Table = SpecialGroupMembership.__table__  # type: ignore[assignment]
_REGISTRATION: Table = Registration.__table__  # type: ignore[assignment]
_REGION: Table = Region.__table__  # type: ignore[assignment]
_MESSAGE: Table = LedgerMessage.__table__  # type: ignore[assignment]


# Dialect-aware helpers: the only place here that knows SQLite from PostgreSQL.


def insert_ignoring_conflicts(
    conn: Connection,
    table: Table,
    rows: list[dict[str, Any]],
    *,
    same_for_all: dict[str, Any] | None = None,
) -> None:
    """Insert rows (all with the same keys), skipping any that would break a unique constraint.

    `same_for_all` holds values shared by every row (timestamps, a status), sent once.
    PostgreSQL gets one INSERT ... SELECT FROM unnest(<one array per column>): a parameter per
    column whatever the number of rows, many times faster than a statement per row. SQLite
    runs in-process, where executemany of one prepared statement is already cheap.
    """
    if not rows:
        return
    same = same_for_all or {}
    dialect = conn.dialect.name
    if dialect == "sqlite":
        conn.execute(sqlite.insert(table).on_conflict_do_nothing(), [{**r, **same} for r in rows])
    elif dialect == "postgresql":
        columns = list(rows[0])
        arrays = [_pg_array([r[c] for r in rows], table.c[c].type) for c in columns]
        source = func.unnest(*arrays).table_valued(*columns).render_derived()
        shared = [bindparam(f"same_{c}", v, type_=table.c[c].type) for c, v in same.items()]
        conn.execute(
            postgresql.insert(table)
            .from_select([*columns, *same], select(*(source.c[c] for c in columns), *shared))
            .on_conflict_do_nothing()
        )
    else:
        raise NotImplementedError(f"no conflict-ignoring insert for {dialect}")


def is_in(conn: Connection, column: ColumnElement, values: list[Any]) -> ColumnElement[bool]:
    """`column IN values`; on PostgreSQL as `= ANY(array)`, one parameter instead of thousands."""
    if conn.dialect.name == "postgresql":
        return column == any_(_pg_array(values, column.type))
    return column.in_(values)


def _pg_array(values: list[Any], item_type: TypeEngine) -> ColumnElement:
    """A PostgreSQL array parameter sent as one delimited string that the server splits.

    psycopg would otherwise quote every element on our side, which was a third of the time of
    a big seed. The separators are control characters that no seeded value contains.
    """
    text = _UNIT.join(_RECORD if v is None else str(v) for v in values)
    return cast(func.string_to_array(bindparam(None, text), _UNIT, _RECORD), ARRAY(item_type))


@dataclass(frozen=True)
class RegionChanges:
    added: int
    updated: int


def upsert_regions(engine: Engine, rows: Iterable[RegionRow]) -> RegionChanges:
    """Add missing regions and correct changed ones; rows must list parents before children."""
    rows = list(rows)
    with engine.begin() as conn:
        existing = {
            code: (name, level, parent)
            for code, name, level, parent in conn.execute(
                select(_REGION.c.code, _REGION.c.name, _REGION.c.level, _REGION.c.parent_code)
            )
        }
        missing = [r for r in rows if r.code not in existing]
        changed = [
            r
            for r in rows
            if r.code in existing and existing[r.code] != (r.name, r.level, r.parent_code)
        ]
        # One level at a time, so each parent exists before its children arrive.
        for level in ("city", "county", "township", "village"):
            insert_ignoring_conflicts(
                conn, _REGION, [r._asdict() for r in missing if r.level == level]
            )
        if changed:
            conn.execute(
                update(_REGION).where(_REGION.c.code == bindparam("old_code")),
                [
                    {
                        "old_code": r.code,
                        "name": r.name,
                        "level": r.level,
                        "parent_code": r.parent_code,
                    }
                    for r in changed
                ],
            )
    return RegionChanges(added=len(missing), updated=len(changed))


def registration_exists(engine: Engine, ref: str) -> bool:
    with engine.connect() as conn:
        return conn.scalar(select(_REGISTRATION.c.id).where(_REGISTRATION.c.ref == ref)) is not None


@dataclass(frozen=True)
class Counts:
    regions: int
    enrollees: int
    registrations: int
    memberships: int


def counts(engine: Engine) -> Counts:
    with engine.connect() as conn:

        def count(table: Table) -> int:
            return conn.scalar(select(func.count()).select_from(table)) or 0

        return Counts(count(_REGION), count(_ENROLLEE), count(_REGISTRATION), count(_MEMBERSHIP))


def load_people(
    engine: Engine,
    people: Iterable[Person],
    *,
    now: datetime,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: Callable[[int], None] = lambda done: None,
) -> None:
    """Write people with their groups and registrations, stamped `now`; `on_batch(people_done)`
    after each batch."""
    done = 0
    for batch in _batched(people, batch_size):
        last_ref = batch[-1].registrations[-1].ref  # medical is always last
        if not registration_exists(engine, last_ref):
            _write_batch(engine, batch, now)
        done += len(batch)
        on_batch(done)


def _batched(items: Iterable[Person], size: int) -> Iterator[tuple[Person, ...]]:
    # itertools.batched arrives only with Python 3.12.
    iterator = iter(items)
    while batch := tuple(itertools.islice(iterator, size)):
        yield batch


def _write_batch(engine: Engine, batch: tuple[Person, ...], now: datetime) -> None:
    stamps = {"created_at": now, "updated_at": now}
    vault = id_vault.current()
    hashes = {p.id_number: vault.hash_id(p.id_number) for p in batch}
    with engine.begin() as conn:
        insert_ignoring_conflicts(
            conn,
            _ENROLLEE,
            [
                {
                    "id_hash": hashes[p.id_number],
                    "id_sealed": vault.seal(p.id_number),
                    "name": p.name,
                    "birth_date": p.birth_date,
                    "village_code": p.village_code,
                    "household_no": p.household_no,
                }
                for p in batch
            ],
            same_for_all=stamps,
        )
        stored = {
            id_hash: (enrollee_id, name)
            for id_hash, enrollee_id, name in conn.execute(
                select(_ENROLLEE.c.id_hash, _ENROLLEE.c.id, _ENROLLEE.c.name).where(
                    is_in(conn, _ENROLLEE.c.id_hash, list(hashes.values()))
                )
            )
        }
        # Someone already registered under the same number with another name is not ours to
        # extend: leave them alone rather than hang demo registrations on a real person.
        ours = [
            (p, stored[hashes[p.id_number]][0])
            for p in batch
            if stored[hashes[p.id_number]][1] == p.name
        ]
        insert_ignoring_conflicts(
            conn,
            _MEMBERSHIP,
            [
                {"enrollee_id": enrollee_id, "group": group, "source": source}
                for p, enrollee_id in ours
                for group, source in p.groups
            ],
            same_for_all={"year": GROUP_YEAR, "created_at": now},
        )
        insert_ignoring_conflicts(
            conn,
            _REGISTRATION,
            [
                {
                    "ref": r.ref,
                    "enrollee_id": enrollee_id,
                    "scheme": r.scheme,
                    "period_year": r.period_year,
                    "collection_no": r.collection_no,
                    "village_code": p.village_code,
                    "school_code": r.school_code,
                    "study_years_left": r.study_years_left,
                }
                for p, enrollee_id in ours
                for r in p.registrations
            ],
            same_for_all={"status": RegistrationStatus.UNPAID.value, **stamps},
        )
        # As an import does: each new registration's push to the bureau, due when registered.
        refs = [r.ref for p, _ in ours for r in p.registrations]
        pushed = (
            select(_MESSAGE.c.id)
            .where(
                _MESSAGE.c.registration_id == _REGISTRATION.c.id,
                _MESSAGE.c.kind == REGISTRATION,
            )
            .exists()
        )
        enqueue_pushes(
            conn,
            select(_REGISTRATION.c.id).where(is_in(conn, _REGISTRATION.c.ref, refs), ~pushed),
            now=now,
        )
        journal.registered(
            conn,
            day=journal.day_of(now),
            added=[
                (p.village_code, r.scheme, r.period_year) for p, _ in ours for r in p.registrations
            ],
        )

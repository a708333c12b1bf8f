"""Apply an import file to the database in one transaction, with the row-by-row report and audit.

Rows are read and checked one at a time on their own (`rows.RowParser`), a batch at a time
against the database, and nothing of the file but the current batch is held in memory. Two
paths write them:

- on PostgreSQL, a registrations or students row about a new person (the bulk of a large import)
  is written set-based by `bulk`, one statement per batch, while the next batch is read;
- every other row (on SQLite, every row) goes through `checked`, judged in Python in file order
  against what is stored and what the file said before, then written a batch at a time.

Both write, in the same transaction, one push to the tax bureau per registration added or
changed (backend.ledger.pushes), and `checked` one per unpaid registration whose price a new
special-group membership changes. The progress journal gets one row per village, scheme and
period year the import added registrations to (or moved them from). Rejected rows wait in a
temporary table and are reported in line order at the end, however many there are.

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
from backend.imports.bulk import Bulk
from backend.imports.checked import WRITERS, Outcome, ParsedRow, Writer
from backend.imports.readers import FileProblem, open_source
from backend.imports.rows import KINDS, PENSION_MAX_AGE, PENSION_MIN_AGE, Rejection, RowParser
from backend.infra import audit
from backend.infra.uow import UnitOfWork
from backend.models import Region
from backend.progress import journal
from backend.values import region_codes as regions
from backend.values.beijing import beijing_today

log = logging.getLogger(__name__)

BATCH_SIZE = 5000
KEEP_REJECTED = 1000

_REGION: Table = Region.__table__  # type: ignore[assignment]
_REJECTED_COLUMNS = ("line", "code", "reason", "id_number_masked")


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
    """How far an import is: rows read (and rejected so far), then, for the rows held back for
    the checked path after the reading (PostgreSQL), how many of them are checked."""

    read: int
    rejected: int
    seconds: float
    held: int = 0
    checked: int = 0

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

    Every rejection goes to `on_rejected`, in line order once the file is applied; the report
    keeps the first `keep_rejected` of them (the counts are always exact). Raises ImportFailed
    when the file as a whole cannot be imported; nothing is applied then, and the failure is
    audited in a transaction of its own.
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
                policies=policies,
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


class _Run:
    """One import's tallies: counts, rejections into their temporary table, progress."""

    def __init__(
        self,
        conn: Connection,
        report: ImportReport,
        on_progress: Callable[[Progress], None] | None,
    ) -> None:
        self.conn = conn
        self.counts = report.counts
        self.on_progress = on_progress
        self.started = time.perf_counter()
        self.held = self.checked = 0
        dialect.temporary(conn, dialect.REJECTED)

    def tally(self, outcomes: Iterable[Outcome]) -> None:
        rejected = []
        for outcome in outcomes:
            if isinstance(outcome, Rejection):
                rejected.append(
                    (outcome.line, outcome.code, outcome.reason, outcome.id_number_masked)
                )
            else:
                setattr(self.counts, outcome, getattr(self.counts, outcome) + 1)
        self.counts.rejected += len(rejected)
        dialect.insert_rows(self.conn, dialect.REJECTED, _REJECTED_COLUMNS, rejected)

    def progress(self) -> None:
        if self.on_progress is not None:
            seconds = time.perf_counter() - self.started
            c = self.counts
            self.on_progress(Progress(c.read, c.rejected, seconds, self.held, self.checked))


def _apply(
    conn: Connection,
    stream: IO[bytes],
    report: ImportReport,
    scope_code: str,
    *,
    now: datetime,
    policies: PolicyBook,
    batch_size: int,
    keep_rejected: int,
    on_rejected: Callable[[Rejection], None] | None,
    on_progress: Callable[[Progress], None] | None,
) -> None:
    """Read, check and write the whole file into `report`, inside the caller's transaction."""
    dialect.tune(conn)
    run = _Run(conn, report, on_progress)
    counts = run.counts
    writer: Writer = WRITERS[report.kind](conn, scope_code, now, policies)
    bulk = None
    if report.kind != "groups" and dialect.set_based(conn):
        bulk = Bulk(conn, students=report.kind == "students", now=now)
    with open_source(stream, report.file_name) as source:
        parser = RowParser(
            report.kind,
            source.header,
            villages=_villages(conn),
            scope_code=scope_code,
            today=beijing_today(now),
            pension_ages=_pension_age_rule(policies),
        )
        report.warnings.extend(parser.warnings)
        batches = _batches(source.rows(), parser, batch_size)
        with closing(batches), dialect.pipelined(conn):
            for batch in batches:
                counts.read += len(batch)
                if bulk is None:
                    run.tally(writer.apply(batch))
                else:
                    run.tally(row for row in batch if isinstance(row, Rejection))
                    bulk.send([row for row in batch if not isinstance(row, Rejection)])
                run.progress()
        if counts.read == 0:
            raise FileProblem("no_rows", "文件只有表头，没有数据行")
    if bulk is not None:
        written = bulk.written()
        counts.inserted += sum(written.values())
        writer.registered.update(written)
        run.held = counts.read - counts.rejected - counts.inserted
        if run.held:
            bulk.seed_seen(writer.seen)
            with dialect.pipelined(conn):
                for batch in bulk.held(batch_size):
                    run.tally(writer.apply(batch))
                    run.checked += len(batch)
                    run.progress()
    writer.finish()
    if writer.registered or writer.moved_away:
        journal.registered(
            conn,
            day=journal.day_of(now),
            added=writer.registered.elements(),
            removed=writer.moved_away.elements(),
        )
    _report_rejected(conn, report, keep_rejected, on_rejected)


def _report_rejected(
    conn: Connection,
    report: ImportReport,
    keep_rejected: int,
    on_rejected: Callable[[Rejection], None] | None,
) -> None:
    """Every rejected row in line order to `on_rejected`, the first ones into the report."""
    table = dialect.REJECTED
    query = select(*(table.c[c] for c in _REJECTED_COLUMNS)).order_by(table.c.line)
    if on_rejected is None:
        query = query.limit(keep_rejected + 1)  # one more tells the list is cut
    for values in conn.execute(query, execution_options={"yield_per": 2000}):
        rejection = Rejection(*values)
        if on_rejected is not None:
            on_rejected(rejection)
        if len(report.rejected) < keep_rejected:
            report.rejected.append(rejection)
        else:
            report.rejected_truncated = True
    dialect.drop_temporary(conn, table)


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
    parse = parser.parse
    for line, values in rows:
        batch.append(parse(line, values))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch

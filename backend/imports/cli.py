"""`flask import registrations|groups|students FILE`: import an agency file from the command line.

Progress goes to stderr every --progress-every rows (rows read, then, on PostgreSQL, the rows held
back for checking against stored data); then a summary and the rejected rows in line order (line,
code, masked ID number, reason) go to stdout, or with --report FILE to a CSV file that Excel opens
(UTF-8 with BOM). Exit status 0 when the file was processed, even with rejected rows; 1 when the
file could not be imported at all, in which case nothing was applied.

Rejections are spooled to a temporary file while the import runs, so a file with a million bad
rows does not need a million rows of memory.
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path
from typing import IO

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from backend.imports.rows import Rejection
from backend.imports.service import BATCH_SIZE, ImportFailed, ImportReport, Progress, run_import
from backend.infra.spreadsheets import excel_safe
from backend.infra.web import clock, policy_book, unit_of_work
from backend.models import Region
from backend.values import region_codes as regions

REPORT_COLUMNS = ("line", "code", "id_number_masked", "reason")
ACTOR = "cli"

import_cli = AppGroup("import", help="Import agency files (CSV UTF-8 or XLSX, header row first).")


def _command(kind: str, help_text: str) -> None:
    @import_cli.command(kind, help=help_text)
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option(
        "--region",
        default=None,
        help="only accept rows for this region (4-12 digit code); default: the whole city",
    )
    @click.option(
        "--report",
        "report_path",
        type=click.Path(dir_okay=False, writable=True, path_type=Path),
        default=None,
        help="write the rejected rows to this CSV file instead of printing them",
    )
    @click.option(
        "--progress-every",
        default=10_000,
        show_default=True,
        type=click.IntRange(min=1),
        help="print a progress line on stderr every this many rows",
    )
    @click.option(
        "--batch-size",
        default=BATCH_SIZE,
        show_default=True,
        type=click.IntRange(min=1, max=10_000),
        help="rows checked and written together",
    )
    def command(
        file: Path,
        region: str | None,
        report_path: Path | None,
        progress_every: int,
        batch_size: int,
    ) -> None:
        _run(kind, file, region, report_path, progress_every, batch_size)


_command(
    "registrations",
    "Registrations: collection_no, id_number, name, scheme, period_year, village_code, "
    "household_no, phone",
)
_command("groups", "Special groups: id_number, name, group, year, source")
_command(
    "students",
    "Students: the registrations columns plus school_code,study_years_left (medical only)",
)


def _scope(region: str | None) -> str:
    code = region or current_app.config["CITY_CODE"]
    try:
        code = regions.normalise(code)
    except regions.InvalidRegionCode as exc:
        raise click.BadParameter(str(exc), param_hint="--region") from None
    with unit_of_work() as session:
        known = session.scalar(select(Region.code).where(Region.code == code)) is not None
    if not known:
        raise click.BadParameter(
            f"unknown region {code}; load the regions first", param_hint="--region"
        )
    return code


def _run(
    kind: str,
    file: Path,
    region: str | None,
    report_path: Path | None,
    progress_every: int,
    batch_size: int,
) -> None:
    scope = _scope(region)
    if report_path is not None and not os.access(report_path.parent, os.W_OK):
        # Found out now, not after the import has been committed.
        raise click.BadParameter(f"cannot write into {report_path.parent}", param_hint="--report")
    next_read = next_checked = progress_every

    def progress(p: Progress) -> None:
        nonlocal next_read, next_checked
        if p.held:  # the rows held back for checking against stored data, after the reading
            if p.checked >= next_checked or p.checked == p.held:
                click.echo(
                    f"checked {p.checked:,} of {p.held:,} rows held back "
                    f"(already stored or repeated in the file): {p.rejected:,} rejected so far",
                    err=True,
                )
                next_checked = (p.checked // progress_every + 1) * progress_every
        elif p.read >= next_read:
            click.echo(
                f"read {p.read:,} rows: {p.rejected:,} rejected so far "
                f"({p.rows_per_second:,.0f} rows/s)",
                err=True,
            )
            next_read = (p.read // progress_every + 1) * progress_every

    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as spool:
        spooled = csv.writer(spool)

        def rejected(r: Rejection) -> None:
            spooled.writerow((r.line, r.code, r.id_number_masked, r.reason))

        with file.open("rb") as stream:
            try:
                report = run_import(
                    unit_of_work(),
                    kind,
                    stream,
                    file_name=file.name,
                    actor=ACTOR,
                    scope_code=scope,
                    policies=policy_book(),
                    now=clock().now(),
                    batch_size=batch_size,
                    keep_rejected=0,
                    on_rejected=rejected,
                    on_progress=progress,
                )
            except ImportFailed as failure:
                where = f" (line {failure.line})" if failure.line else ""
                raise click.ClickException(
                    f"{file.name}: import failed{where}, nothing was applied: {failure} "
                    f"[{failure.code}]"
                ) from None
        _summary(report)
        spool.seek(0)
        if report_path is not None:
            _write_report(spool, report_path)
            click.echo(f"rejected rows: {report.counts.rejected:,} written to {report_path}")
        elif report.counts.rejected:
            click.echo("rejected rows (line, code, ID number, reason):")
            for line, code, masked, reason in csv.reader(spool):
                click.echo(f"  line {line}: {code} {masked or '-'} {reason}")


def _summary(report: ImportReport) -> None:
    c = report.counts
    if c.rejected:
        verdict = f"processed; {c.rejected:,} of {c.read:,} rows rejected, the others applied"
    else:
        verdict = f"processed; all {c.read:,} rows accepted"
    click.echo(f"{report.file_name}: {verdict}")
    click.echo(
        f"read {c.read:,}, inserted {c.inserted:,}, updated {c.updated:,}, "
        f"unchanged {c.unchanged:,}, rejected {c.rejected:,}"
    )
    for warning in report.warnings:
        click.echo(f"warning: {warning}")


def _write_report(spool: IO[str], path: Path) -> None:
    # utf-8-sig writes the BOM Excel needs to recognise UTF-8.
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(REPORT_COLUMNS)
        for record in csv.reader(spool):
            writer.writerow([excel_safe(value) for value in record])

"""Reconciliation on the command line: `flask pull-bill`, `flask reconcile`, `flask settle` and
`flask discrepancies list|resolve`. The command line sees every region (as an operator on the
server does). Days default to yesterday, Beijing time, on the business clock."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from backend.config import PROJECT_DIR
from backend.errors import DomainError
from backend.infra.web import clock, payment_gateway, unit_of_work
from backend.models import Region, WeChatBill
from backend.models.discrepancies import KINDS, STATUSES
from backend.recon import discrepancies, settlement
from backend.recon.pull import pull_bill
from backend.recon.reconcile import reconcile_day
from backend.values.beijing import beijing_today
from backend.values.money import yuan_text
from backend.values.region_codes import normalise

EVERY_REGION = ""  # the empty scope prefix
DAY = click.DateTime(formats=["%Y-%m-%d"])


def _day(given: datetime | None) -> date:
    return given.date() if given else beijing_today(clock().now()) - timedelta(days=1)


@click.command("pull-bill")
@click.argument("day", required=False, type=DAY)
@with_appcontext
def pull_bill_command(day: datetime | None) -> None:
    """Pull the ALL bill of DAY (YYYY-MM-DD; default yesterday) into BILL_DIR.

    Exits 1 when the bill cannot be read (the file is kept) or cannot be pulled.
    """
    cfg = current_app.config["APP_CONFIG"]
    bill_day = _day(day)
    try:
        bill = pull_bill(
            unit_of_work(),
            payment_gateway(),
            bill_day,
            bill_dir=Path(cfg.BILL_DIR),
            now=clock().now(),
            actor="cli",
            region_code=normalise(cfg.CITY_CODE),
        )
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{bill_day.isoformat()}: {describe(bill)}")
    if bill.status == "invalid":
        click.get_current_context().exit(1)


def describe(bill: WeChatBill) -> str:
    if bill.status == "empty":
        return "empty (No Bill Exist)"
    if bill.status == "invalid":
        return f"invalid: {bill.error} (file kept at {bill.path})"
    changed = {None: "", True: ", changed since the last pull", False: ", unchanged"}
    return (
        f"ok, {bill.row_count} rows ({bill.payment_count} payments, {bill.refund_count} refunds), "
        f"{yuan_text(bill.settlement_fen, grouped=True)} yuan settled, "
        f"{yuan_text(bill.refund_fen, grouped=True)} refunded, "
        f"sha256 {(bill.sha256 or '')[:12]}…{changed[bill.hash_changed]}"
    )


@click.command("reconcile")
@click.argument("day", required=False, type=DAY)
@with_appcontext
def reconcile_command(day: datetime | None) -> None:
    """Match DAY's stored bill (default yesterday) against our payments and refunds; credit lost
    payments WeChat confirms, refund duplicate payments; list what is left for a person. Safe to
    run again."""
    now = clock().now()
    wanted = _day(day)
    cfg = current_app.config["APP_CONFIG"]
    try:
        report = reconcile_day(
            unit_of_work(),
            payment_gateway(),
            day=wanted,
            today=beijing_today(now),
            now=now,
            refund_check_after=timedelta(seconds=cfg.REFUND_CHECK_AFTER_SECONDS),
        )
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(
        f"{wanted.isoformat()}: {report.matched} matched, {len(report.fixed)} fixed, "
        f"{len(report.having('open'))} open, {len(report.having('held'))} held"
    )
    for row in report.discrepancies:
        fen = f"ours={row.ours_fen} bill={row.bill_fen}"
        number = f"{row.order_no} {row.refund_no}".strip()
        click.echo(f"  {row.status:8} {row.kind:17} {number} {fen}  {row.fix or ''}".rstrip())


@click.command("settle")
@click.argument("day", required=False, type=DAY)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="folder for the files (default var/settlement/DATE)",
)
@with_appcontext
def settle(day: datetime | None, out: Path | None) -> None:
    """Settlement files (CSV and XLSX) per county and scheme for DAY (default yesterday)."""
    wanted = _day(day)
    folder = out or PROJECT_DIR / "var" / "settlement" / f"{wanted:%Y%m%d}"
    folder.mkdir(parents=True, exist_ok=True)
    cfg = current_app.config["APP_CONFIG"]
    written = 0
    with unit_of_work() as session:
        counties = session.scalars(
            select(Region.code)
            .where(Region.level == "county", Region.parent_code == cfg.CITY_CODE)
            .order_by(Region.code)
        ).all()
        for county in counties:
            for scheme in ("pension", "medical"):
                records = list(settlement.rows(session, day=wanted, county=county, scheme=scheme))
                if not records:
                    continue
                stem = settlement.file_stem(wanted, county, scheme)
                (folder / f"{stem}.csv").write_bytes(settlement.TABLE.csv(records))
                (folder / f"{stem}.xlsx").write_bytes(settlement.TABLE.xlsx(records, title=stem))
                paid, refunded, net = settlement.totals(records)
                click.echo(
                    f"{county[:6]} {scheme:8} {len(records):6} rows  paid {yuan_text(paid):>14}"
                    f"  refunded {yuan_text(refunded):>12}  net {yuan_text(net):>14} yuan"
                )
                written += 1
    click.echo(f"{written} county/scheme files (CSV and XLSX) in {folder}")


discrepancies_cli = AppGroup("discrepancies", help="Reconciliation discrepancies.")


@discrepancies_cli.command("list")
@click.option("--date", "day", type=DAY, help="bill day")
@click.option("--status", type=click.Choice(STATUSES), default=None)
@click.option("--kind", type=click.Choice(KINDS), default=None)
@click.option("--county", default=None, help="6-digit county code")
@click.option("--limit", type=int, default=50, show_default=True)
def list_command(
    day: datetime | None, status: str | None, kind: str | None, county: str | None, limit: int
) -> None:
    """Discrepancies, newest bill day first (all statuses unless --status)."""
    with unit_of_work() as session:
        page = discrepancies.list_discrepancies(
            session,
            scope_prefix=EVERY_REGION,
            bill_date=day.date() if day else None,
            status=status,
            kind=kind,
            county=county,
            limit=limit,
        )
        for d in page.items:
            refund = f" refund {d.refund_no}" if d.refund_no else ""
            click.echo(
                f"{d.id}\t{d.bill_date}\t{d.kind}\t{d.status}\t{d.county or '-'}\t"
                f"{d.order_no}{refund}\tours={d.ours_fen} bill={d.bill_fen}"
                f"{_after(d.fix, d.resolution, d.resolved_by)}"
            )
        click.echo(f"{len(page.items)} of {page.total} discrepancies shown")


def _after(fix: str | None, resolution: str | None, resolved_by: str | None) -> str:
    if resolution:
        return f"\tresolved by {resolved_by}: {resolution}"
    return f"\tfix: {fix}" if fix else ""


@discrepancies_cli.command("resolve")
@click.argument("discrepancy_id", type=int)
@click.option("--reason", required=True, help="why it is resolved and what was done")
@click.option("--as", "name", required=True, help="your name, recorded as the resolver")
def resolve_command(discrepancy_id: int, reason: str, name: str) -> None:
    """Resolve an open discrepancy with a reason."""
    name = name.strip()
    if not name or len(name) > 64:
        raise click.BadParameter("1 to 64 characters", param_hint="--as")
    try:
        done = discrepancies.resolve(
            unit_of_work(),
            discrepancy_id,
            reason=reason,
            actor=name,
            now=clock().now(),
            scope_prefix=EVERY_REGION,
            city_code=normalise(current_app.config["APP_CONFIG"].CITY_CODE),
        )
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{done.id} {done.kind} {done.order_no}: resolved by {done.resolved_by}")

"""`flask pull-bill [DATE]` (download, store and check WeChat Pay's ALL bill of a day) and
`flask reconcile [DATE]` (match it against our payments)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from backend.models import WeChatBill
from backend.payments import gateway_from_config
from backend.payments.gateway import GatewayError
from backend.recon.pull import BillNotReady, pull_bill
from backend.recon.reconcile import NothingToReconcile, reconcile_day
from backend.values.beijing import beijing_today


@click.command("pull-bill")
@click.argument("day", required=False, type=click.DateTime(formats=["%Y-%m-%d"]))
@with_appcontext
def pull_bill_command(day: datetime | None) -> None:
    """Pull the ALL bill of DAY (YYYY-MM-DD; default yesterday, Beijing time) into BILL_DIR.

    Exits 1 when the bill cannot be read (the file is kept) or cannot be pulled.
    """
    cfg = current_app.config["APP_CONFIG"]
    now = datetime.now(UTC)
    bill_day = day.date() if day else beijing_today(now) - timedelta(days=1)
    with current_app.extensions["db_sessions"]() as session:
        try:
            bill = pull_bill(
                session,
                gateway_from_config(cfg),
                bill_day,
                bill_dir=Path(cfg.BILL_DIR),
                now=now,
                actor="cli",
            )
        except (BillNotReady, GatewayError) as exc:
            raise click.ClickException(str(exc)) from None
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
        f"{_yuan(bill.settlement_fen)} yuan settled, {_yuan(bill.refund_fen)} refunded, "
        f"sha256 {(bill.sha256 or '')[:12]}…{changed[bill.hash_changed]}"
    )


def _yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:,.2f}"


@click.command("reconcile")
@click.argument("day", required=False, type=click.DateTime(formats=["%Y-%m-%d"]))
@with_appcontext
def reconcile_command(day: datetime | None) -> None:
    """Match DAY's stored bill (default yesterday, Beijing) against our payments and refunds;
    credit lost payments WeChat confirms, refund duplicate payments; list what is left for a
    person. Safe to run again."""
    now = datetime.now(UTC)
    today = beijing_today(now)
    wanted = day.date() if day else today - timedelta(days=1)
    cfg = current_app.config["APP_CONFIG"]
    with current_app.extensions["db_sessions"]() as session:
        try:
            report = reconcile_day(
                session,
                gateway_from_config(cfg),
                day=wanted,
                today=today,
                now=now,
                refund_check_after=timedelta(seconds=cfg.REFUND_CHECK_AFTER_SECONDS),
            )
        except NothingToReconcile as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(
            f"{wanted.isoformat()}: {report.matched} matched, {len(report.fixed)} fixed, "
            f"{len(report.having('open'))} open, {len(report.having('held'))} held"
        )
        for row in report.discrepancies:
            fen = f"ours={row.ours_fen} bill={row.bill_fen}"
            number = f"{row.order_no} {row.refund_no}".strip()
            click.echo(f"  {row.status:8} {row.kind:17} {number} {fen}  {row.fix or ''}".rstrip())

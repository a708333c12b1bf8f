"""`flask discrepancies list|resolve`: reconciliation discrepancies from the command line.

The command line sees every region (as an operator on the server does).
"""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import AppGroup

from backend.models.discrepancies import KINDS, STATUSES
from backend.recon import discrepancies

discrepancies_cli = AppGroup("discrepancies", help="Reconciliation discrepancies.")

EVERY_REGION = ""  # the empty scope prefix


def _session():
    return current_app.extensions["db_sessions"]()


@discrepancies_cli.command("list")
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]), help="bill day")
@click.option("--status", type=click.Choice(STATUSES), default=None)
@click.option("--kind", type=click.Choice(KINDS), default=None)
@click.option("--county", default=None, help="6-digit county code")
@click.option("--limit", type=int, default=50, show_default=True)
def list_command(
    day: datetime | None, status: str | None, kind: str | None, county: str | None, limit: int
) -> None:
    """Discrepancies, newest bill day first (all statuses unless --status)."""
    with _session() as session:
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
    with _session() as session:
        try:
            done = discrepancies.resolve(
                session,
                discrepancy_id,
                reason=reason,
                actor=name,
                now=datetime.now(UTC),
                scope_prefix=EVERY_REGION,
            )
        except discrepancies.DiscrepancyError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"{done.id} {done.kind} {done.order_no}: resolved by {done.resolved_by}")

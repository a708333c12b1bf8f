"""`flask check-money [DATE]`: the money watch on the command line (backend/money/watch.py)."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import with_appcontext

from backend.infra.web import clock, unit_of_work
from backend.money.watch import check_days, total_of
from backend.values.money import yuan_text


@click.command("check-money")
@click.argument("day", required=False, type=click.DateTime(formats=["%Y-%m-%d"]))
@with_appcontext
def check_money(day: datetime | None) -> None:
    """Check that the money WeChat took on DAY (YYYY-MM-DD; default every day with money) adds
    up to what was credited, refunded and held in open discrepancies, and that every credited
    registration has one payment message. Exits 1 when a day or the total does not add up."""
    wanted = day.date() if day else None
    checked = check_days(unit_of_work(), now=clock().now(), since=wanted, until=wanted)
    for row in checked:
        verdict = "ok" if row.ok else f"BROKEN, difference {row.difference} fen"
        click.echo(
            f"{row.day.isoformat()}: took {yuan_text(row.took)} ({row.source}), credited "
            f"{yuan_text(row.credited)}, refunded {yuan_text(row.refunded)}, in discrepancies "
            f"{yuan_text(row.in_discrepancies)}, ledger mismatches {row.ledger_mismatches}: "
            f"{verdict}"
        )
    with unit_of_work() as session:
        total = total_of(session)
    verdict = "ok" if total.ok else f"BROKEN, difference {total.difference} fen"
    click.echo(
        f"total of {total.days} days: took {yuan_text(total.took)}, credited "
        f"{yuan_text(total.credited)}, refunded {yuan_text(total.refunded)}, in discrepancies "
        f"{yuan_text(total.in_discrepancies)}, broken days {total.broken_days}: {verdict}"
    )
    if not (total.ok and all(row.ok for row in checked)):
        click.get_current_context().exit(1)

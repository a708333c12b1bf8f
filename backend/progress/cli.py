"""`flask progress roll [--since DATE]`: roll the progress journal into the daily figures now.

The worker rolls on its own (job "progress"); this is for an operator who wants today's figures at
once, or to rebuild the rollup from a day on (after the journal was repaired, for instance).
"""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import AppGroup

from backend.infra.web import clock, unit_of_work
from backend.progress.rollup import roll

progress_cli = AppGroup("progress", help="Campaign progress: the daily rollup.")


@progress_cli.command("roll")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="roll again from this Beijing day (default: the first day not final)",
)
def roll_command(since: datetime | None) -> None:
    """Roll every day not final yet (or every day from --since) through today."""
    report = roll(unit_of_work(), now=clock().now(), since=since.date() if since else None)
    click.echo(str(report))

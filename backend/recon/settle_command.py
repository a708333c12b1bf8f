"""`flask settle DATE`: write the day's settlement files (payments and refunds) of every county
and scheme."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from backend.config import PROJECT_DIR
from backend.models import Region
from backend.recon import settlement
from backend.values.beijing import beijing_today
from backend.values.money import yuan_text


def _yesterday() -> date:
    return beijing_today(datetime.now(UTC)) - timedelta(days=1)


@click.command("settle")
@click.argument("day", required=False, type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="folder for the files (default var/settlement/DATE)",
)
@with_appcontext
def settle(day: datetime | None, out: Path | None) -> None:
    """Settlement files (CSV and XLSX) per county and scheme for DAY (default yesterday, Beijing)."""
    wanted = day.date() if day else _yesterday()
    folder = out or PROJECT_DIR / "var" / "settlement" / f"{wanted:%Y%m%d}"
    folder.mkdir(parents=True, exist_ok=True)
    cfg = current_app.config["APP_CONFIG"]
    with current_app.extensions["db_sessions"]() as session:
        counties = session.scalars(
            select(Region.code)
            .where(Region.level == "county", Region.parent_code == cfg.CITY_CODE)
            .order_by(Region.code)
        ).all()
        written = 0
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

"""`flask bulletin --scheme medical --date 2019-11-18 [--out DIR] [--region 4107]`: make a
bulletin now, store it (replacing one of the same day) and write its XLSX and PDF files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from backend.bulletins import service
from backend.config import PROJECT_DIR
from backend.errors import DomainError
from backend.infra.web import policy_book, unit_of_work
from backend.posters.fonts import FontMissing
from backend.posters.service import typeface_of


@click.command("bulletin")
@click.option("--scheme", required=True, type=click.Choice(service.SCHEMES))
@click.option(
    "--date",
    "day",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="the Beijing day the figures stand at (its end)",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="folder for the files (default var/bulletins)",
)
@click.option("--region", default=None, help="the city (default CITY_CODE) or a county code")
@with_appcontext
def bulletin(scheme: str, day, out: Path | None, region: str | None) -> None:
    """A progress bulletin (通报): counties ranked, as XLSX and a one-page PDF."""
    cfg = current_app.config["APP_CONFIG"]
    try:
        made = service.make(
            unit_of_work(),
            policy_book(),
            typeface_of(cfg),
            region_code=region or cfg.CITY_CODE,
            scheme=scheme,
            day=date(day.year, day.month, day.day),
            actor="cli",
        )
    except (FontMissing, DomainError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    folder = out or PROJECT_DIR / "var" / "bulletins"
    folder.mkdir(parents=True, exist_ok=True)
    for kind, data in (("xlsx", made.xlsx), ("pdf", made.pdf)):
        path = folder / f"{made.stem}.{kind}"
        path.write_bytes(data)
        click.echo(f"{kind.upper()} {path}")
    click.echo(f"{'replaced' if made.replaced else 'stored'} bulletin {made.id}")
    click.echo(made.summary)

"""`flask posters --county 410721 --out DIR`: the QR posters of every village of a region.

Writes DIR/posters-<code>.pdf (one A4 page per village) and DIR/png/<village code>-<name>.png,
then prints the counts and the time taken. Exit status 1, with the reason, when the region is
unknown or a poster font is missing.
"""

from __future__ import annotations

import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from backend.config import PROJECT_DIR
from backend.errors import DomainError
from backend.infra.web import policy_book, unit_of_work
from backend.posters import service
from backend.posters.fonts import FontMissing


@click.command("posters")
@click.option("--county", help="6-digit county code: every village of the county")
@click.option("--township", help="9- or 12-digit township code: every village of the township")
@click.option("--village", help="12-digit village code: that village alone")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="folder for the files (default var/posters)",
)
@click.option("--year", type=int, default=None, help="collection year (default: the latest)")
@click.option("--no-png", is_flag=True, help="write the PDF only")
@with_appcontext
def posters(
    county: str | None,
    township: str | None,
    village: str | None,
    out: Path | None,
    year: int | None,
    no_png: bool,
) -> None:
    """Village QR posters (A4 PDF, one page per village, and a PNG per village)."""
    given = [code for code in (county, township, village) if code]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --county, --township, --village")
    cfg = current_app.config["APP_CONFIG"]
    started = time.perf_counter()
    try:
        typeface = service.typeface_of(cfg)
        with unit_of_work() as session:
            batch = service.batch(
                session,
                policy_book(),
                given[0],
                public_base_url=cfg.PUBLIC_BASE_URL,
                collection_year=year,
            )
    except (FontMissing, DomainError) as exc:
        raise click.ClickException(str(exc)) from None
    expected = {"county": county, "township": township, "village": village}
    if not expected[batch.level]:
        raise click.UsageError(f"{given[0]} is a {batch.level} code; use --{batch.level}")

    folder = out or PROJECT_DIR / "var" / "posters"
    folder.mkdir(parents=True, exist_ok=True)
    pdf_path = folder / f"{batch.stem}.pdf"
    pdf_path.write_bytes(service.pdf_document(batch, typeface))
    pdf_done = time.perf_counter()
    click.echo(
        f"{batch.full_name}: {len(batch.posters)} villages, PDF {pdf_path}"
        f" ({pdf_done - started:.1f} s)"
    )
    if not no_png:
        png_folder = folder / "png"
        png_folder.mkdir(exist_ok=True)
        for name, data in service.png_images(batch, typeface):
            (png_folder / name).write_bytes(data)
        click.echo(
            f"{len(batch.posters)} PNG images in {png_folder}"
            f" ({time.perf_counter() - pdf_done:.1f} s)"
        )
    click.echo(f"done in {time.perf_counter() - started:.1f} s")

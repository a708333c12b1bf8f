"""`flask collectors institution ACCOUNT NAME`: make a township collector account the collecting
unit of a health service institution (社区卫生服务机构) of that township, with its own name."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from backend.collectors.units import make_institution
from backend.errors import DomainError
from backend.infra.web import unit_of_work


@click.group("collectors", help="Collecting units (代征单位).")
def collectors_cli() -> None:
    pass


@collectors_cli.command("institution")
@click.argument("account")
@click.argument("name")
@with_appcontext
def institution(account: str, name: str) -> None:
    """The collector account ACCOUNT (of a township) collects as the institution NAME."""
    try:
        with unit_of_work() as session:
            unit = make_institution(session, account=account, name=name, actor="cli")
            region = unit.region_code
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"{account} collects as {name} (health service institution of {region})")

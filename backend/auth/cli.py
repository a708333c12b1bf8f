"""`flask staff create NAME --role ROLE --region CODE [--department hrss|nhsa] [--school CODE]`:
prints the new token on its last line."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from backend.auth.staff import StaffError, create_staff
from backend.infra.web import unit_of_work
from backend.models.staff import DEPARTMENTS, ROLES


@click.group("staff", help="Staff accounts.")
def staff_cli() -> None:
    pass


@staff_cli.command("create")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES), help="what the account may do")
@click.option("--region", required=True, help="region scope, e.g. 410721 for a county")
@click.option(
    "--department",
    type=click.Choice(tuple(DEPARTMENTS)),
    default=None,
    help="hrss (人社: pension) or nhsa (医保: medical); omitted: both schemes",
)
@click.option("--school", "school_code", default=None, help="a school account's school code")
@with_appcontext
def create(
    name: str, role: str, region: str, department: str | None, school_code: str | None
) -> None:
    """Create a staff account; the token is printed once, on the last line."""
    try:
        with unit_of_work() as session:
            token = create_staff(
                session,
                name=name,
                role=role,
                region=region,
                actor="cli",
                department=department,
                school_code=school_code,
            )
    except StaffError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created {role} {name!r} for region {region}; keep this token secret:")
    click.echo(token)

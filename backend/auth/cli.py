"""`flask staff create NAME --role ROLE --region CODE [--department hrss|nhsa] [--school CODE]`:
prints the new token on its last line. `flask staff list`, `flask staff disable NAME` and
`flask staff rotate NAME` (prints the new token on its last line) look after existing accounts."""

from __future__ import annotations

from datetime import datetime

import click
from flask import current_app
from flask.cli import with_appcontext

from backend import errors
from backend.auth import accounts
from backend.auth.staff import StaffError, create_staff
from backend.infra.web import clock, unit_of_work
from backend.models.staff import DEPARTMENTS, ROLES
from backend.values import region_codes as regions

ACTOR = "cli"


def _token_days() -> int:
    return current_app.config["APP_CONFIG"].STAFF_TOKEN_DAYS


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
                actor=ACTOR,
                department=department,
                school_code=school_code,
                days=_token_days(),
                now=clock().now(),
            )
    except StaffError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created {role} {name!r} for region {region}; keep this token secret:")
    click.echo(token)


def _when(instant: datetime | None) -> str:
    return instant.strftime("%Y-%m-%d %H:%M") if instant else "-"


@staff_cli.command("list")
@click.option("--region", default="", help="only accounts inside this region, e.g. 410721")
@with_appcontext
def list_accounts(region: str) -> None:
    """Every staff account, its token's state, expiry (UTC) and last use (UTC, to the minute)."""
    now = clock().now()
    prefix = ""
    if region:
        try:
            prefix = regions.scope_prefix(region)
        except regions.InvalidRegionCode as exc:
            raise click.ClickException(str(exc)) from exc
    with unit_of_work() as session:
        rows = [accounts.view(user, now) for user in session.scalars(accounts.in_scope(prefix))]
    header = ("name", "role", "region", "status", "expires (UTC)", "last used (UTC)")
    table = [header] + [
        (a.name, a.role, a.region_code, a.status, _when(a.expires_at), _when(a.last_used_at))
        for a in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


@staff_cli.command("disable")
@click.argument("name")
@with_appcontext
def disable(name: str) -> None:
    """Disable an account: its token gets 401 at once and its dashboard sign-in ends."""
    try:
        with unit_of_work() as session:
            user = accounts.find(session, "", name=name)
            accounts.disable(session, user, actor=ACTOR, now=clock().now())
    except errors.NotFound as exc:
        raise click.ClickException(f"no staff account named {name!r}") from exc
    except errors.DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"disabled {name!r}; its token no longer works")


@staff_cli.command("rotate")
@click.argument("name")
@with_appcontext
def rotate(name: str) -> None:
    """Replace an account's token (the old one stops at once); the new one is printed once, on
    the last line. Also renews an expired token."""
    try:
        with unit_of_work() as session:
            user = accounts.find(session, "", name=name)
            account, token = accounts.rotate(
                session, user, actor=ACTOR, now=clock().now(), days=_token_days()
            )
    except errors.NotFound as exc:
        raise click.ClickException(f"no staff account named {name!r}") from exc
    except errors.DomainError as exc:
        raise click.ClickException(exc.message) from exc
    except StaffError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"new token for {name!r}, valid until {_when(account.expires_at)} UTC;"
        " keep this token secret:"
    )
    click.echo(token)

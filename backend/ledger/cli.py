"""`flask ledger status|list|resend|push`: the outbox from the command line."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from backend.errors import DomainError
from backend.infra.web import clock, unit_of_work
from backend.ledger import operations
from backend.models import LedgerMessage, Registration
from backend.models.ledger import KINDS, MESSAGE_STATUSES
from backend.values.region_codes import normalise

ledger_cli = AppGroup("ledger", help="The tax ledger outbox.")


@ledger_cli.command("status")
def status() -> None:
    """How many messages are pending, delivered and dead."""
    with unit_of_work() as session:
        for name, count in operations.counts_by_status(session).items():
            click.echo(f"{name:10} {count}")


@ledger_cli.command("list")
@click.option("--status", type=click.Choice(MESSAGE_STATUSES), default="dead", show_default=True)
@click.option("--kind", type=click.Choice(KINDS), default=None, help="one kind only")
@click.option("--limit", type=int, default=50, show_default=True)
def list_messages(status: str, kind: str | None, limit: int) -> None:
    """Messages in one state, with their collection serial and last error."""
    query = select(LedgerMessage, Registration.collection_no).join(
        Registration, Registration.id == LedgerMessage.registration_id
    )
    if kind:
        query = query.where(LedgerMessage.kind == kind)
    with unit_of_work() as session:
        for m, number in session.execute(
            query.where(LedgerMessage.status == status).order_by(LedgerMessage.id).limit(limit)
        ):
            click.echo(
                f"{m.message_id}\t{m.kind}\t{number}\t{m.status}\t{m.attempts} attempts"
                f"\t{m.last_error or ''}"
            )


@ledger_cli.command("resend")
@click.argument("message_id", required=False)
def resend(message_id: str | None) -> None:
    """Put one dead letter (or all) back in line for the worker."""
    moved = operations.resend_dead(
        unit_of_work(),
        actor="cli",
        now=clock().now(),
        message_id=message_id,
        region_code=normalise(current_app.config["CITY_CODE"]),
    )
    click.echo(f"resent {moved}")
    if message_id and not moved:
        raise click.ClickException(f"no dead letter {message_id}")


@ledger_cli.command("push")
@click.argument("collection_no")
def push(collection_no: str) -> None:
    """Push the registration COLLECTION_NO to the bureau again (a new push message, sent by the
    worker): for a payment refused as unknown_collection_no."""
    try:
        message_id = operations.push_again(
            unit_of_work(), collection_no, actor="cli", now=clock().now()
        )
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"push {message_id} of {collection_no} written; the worker sends it next round")

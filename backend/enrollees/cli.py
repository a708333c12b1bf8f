"""`flask ids reencrypt [--batch N]`: move the sealed ID numbers to the current key."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from backend.enrollees.sealing import reencrypt
from backend.infra.web import unit_of_work


@click.group("ids", help="ID numbers at rest (hashed and sealed).")
def ids_cli() -> None:
    pass


@ids_cli.command("reencrypt")
@click.option("--batch", default=1000, show_default=True, help="rows per transaction")
@with_appcontext
def reencrypt_command(batch: int) -> None:
    """Re-seal, under the first key of ID_ENCRYPTION_KEYS, every ID number an older key sealed."""
    vault = current_app.extensions["id_vault"]
    moved = reencrypt(unit_of_work(), vault, batch=batch)
    click.echo(f"{moved}; all now under key {vault.current_kid!r}")

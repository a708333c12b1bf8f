"""Flask commands. Each owning module defines its commands; this module only registers them."""

from __future__ import annotations

from flask import Flask


def register_commands(app: Flask) -> None:
    from backend.auth.cli import staff_cli

    app.cli.add_command(staff_cli)
    from backend.seed.cli import seed_demo

    app.cli.add_command(seed_demo)
    from backend.imports.cli import import_cli

    app.cli.add_command(import_cli)
    from backend.ledger.cli import ledger_cli

    app.cli.add_command(ledger_cli)
    from backend.orders.cli import worker

    app.cli.add_command(worker)
    from backend.recon.cli import pull_bill_command, reconcile_command

    app.cli.add_command(pull_bill_command)
    app.cli.add_command(reconcile_command)
    from backend.recon.settle_command import settle

    app.cli.add_command(settle)
    from backend.recon.discrepancy_command import discrepancies_cli

    app.cli.add_command(discrepancies_cli)
    from backend.posters.cli import posters

    app.cli.add_command(posters)

"""Flask commands. Each owning package defines its commands in its cli.py; this module only
registers them."""

from __future__ import annotations

from flask import Flask


def register_commands(app: Flask) -> None:
    from backend.auth.cli import staff_cli
    from backend.bulletins.cli import bulletin
    from backend.collectors.cli import collectors_cli
    from backend.enrollees.cli import ids_cli
    from backend.imports.cli import import_cli
    from backend.jobs.cli import worker
    from backend.ledger.cli import ledger_cli
    from backend.money.cli import check_money
    from backend.posters.cli import posters
    from backend.progress.cli import progress_cli
    from backend.recon.cli import (
        discrepancies_cli,
        pull_bill_command,
        reconcile_command,
        settle,
    )
    from backend.seed.cli import seed_demo, seed_season

    for command in (
        staff_cli,
        seed_demo,
        seed_season,
        import_cli,
        ledger_cli,
        worker,
        pull_bill_command,
        reconcile_command,
        settle,
        discrepancies_cli,
        posters,
        progress_cli,
        bulletin,
        collectors_cli,
        ids_cli,
        check_money,
    ):
        app.cli.add_command(command)

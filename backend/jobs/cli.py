"""`flask worker`: the long-running job runner (`make run` starts one)."""

from __future__ import annotations

import signal
import threading

import click
from flask import current_app
from flask.cli import with_appcontext

from backend.infra.uow import UnitOfWork
from backend.infra.web import new_unit_of_work
from backend.jobs.catalogue import JOB_NAMES, jobs_for
from backend.jobs.runner import run_forever, run_round
from backend.values.beijing import beijing_text


@click.command("worker")
@click.option("--once", is_flag=True, help="run every job once and exit (cron, tests)")
@click.option(
    "--job",
    "only",
    multiple=True,
    type=click.Choice(JOB_NAMES),
    help="run only this job (repeatable); all of them by default",
)
@with_appcontext
def worker(once: bool, only: tuple[str, ...]) -> None:
    """Check unpaid orders at WeChat (credit lost payments, close expired orders), refund
    duplicate payments and follow refunds to the end, deliver the tax ledger outbox, declare
    collector batches to the bureau and push their booking details to the exchange, write the
    day's deadline reminders and send WeChat subscription messages."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cfg = app.config["APP_CONFIG"]
    jobs = [job for job in jobs_for(app) if not only or job.name in only]

    def new_uow() -> UnitOfWork:
        return new_unit_of_work(app)

    if once:
        report = run_round(jobs, new_uow, tell_all=True)
        for line in report.lines:
            click.echo(line)
        if report.failed:
            raise click.ClickException(f"failed: {', '.join(report.failed)}")
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(
        f"worker: {', '.join(j.name for j in jobs)} every {cfg.WORKER_INTERVAL_SECONDS:g} s "
        f"(Beijing time {beijing_text(app.extensions['clock'].now())}; Ctrl-C stops)"
    )
    run_forever(jobs, new_uow, interval=cfg.WORKER_INTERVAL_SECONDS, stop=stop, echo=click.echo)

"""`flask worker`: the long-running job runner (`make run` starts one)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from datetime import UTC, datetime, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext

from backend.ledger.client import TaxLedgerClient
from backend.ledger.outbox import deliver_due
from backend.orders.poller import check_open_orders
from backend.payments import gateway_from_config
from backend.refunds.service import check_refunds

log = logging.getLogger(__name__)

LEDGER_BATCH = 50  # messages claimed per round


@click.command("worker")
@click.option("--once", is_flag=True, help="run every job once and exit (cron, tests)")
@with_appcontext
def worker(once: bool) -> None:
    """Check unpaid orders at WeChat (credit lost payments, close expired orders), refund
    duplicate payments and follow refunds to the end, and deliver the tax ledger outbox."""
    cfg = current_app.config["APP_CONFIG"]
    sessions = current_app.extensions["db_sessions"]
    gateway = gateway_from_config(cfg)
    ledger = TaxLedgerClient(cfg.TAX_LEDGER_URL, cfg.TAX_LEDGER_SECRET)
    name = f"{socket.gethostname()}:{os.getpid()}"
    stop = threading.Event()
    if not once:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        click.echo(
            f"worker: checking orders every {cfg.WORKER_INTERVAL_SECONDS:g} s (Ctrl-C stops)"
        )
    while True:
        backlog = False
        try:
            report = check_open_orders(
                sessions,
                gateway,
                now=datetime.now(UTC),
                check_after=timedelta(seconds=cfg.ORDER_CHECK_AFTER_SECONDS),
            )
            if once or report.credited or report.closed or report.failed:
                click.echo(f"orders: {report}")
            refunds = check_refunds(
                sessions,
                gateway,
                now=datetime.now(UTC),
                check_after=timedelta(seconds=cfg.REFUND_CHECK_AFTER_SECONDS),
            )
            if once or refunds:
                click.echo(f"refunds: {refunds}")
            sent = deliver_due(
                sessions,
                ledger,
                now=lambda: datetime.now(UTC),
                schedule=cfg.LEDGER_RETRY_SCHEDULE,
                worker=name,
                lease=timedelta(seconds=cfg.LEDGER_LEASE_SECONDS),
                limit=LEDGER_BATCH,
            )
            if once or sent.delivered or sent.failed or sent.dead:
                click.echo(f"ledger: {sent}")
            # A full batch means more is waiting: go on at once rather than after the interval.
            backlog = sent.delivered + sent.failed + sent.dead >= LEDGER_BATCH
        except Exception:  # a database outage must not end the worker; try again next round
            if once:
                raise
            log.exception("worker round failed")
        if once or stop.wait(0 if backlog else cfg.WORKER_INTERVAL_SECONDS):
            return

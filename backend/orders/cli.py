"""`flask worker`: the long-running job runner (`make run` starts one)."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext

from backend.orders.poller import check_open_orders
from backend.payments import gateway_from_config

log = logging.getLogger(__name__)


@click.command("worker")
@click.option("--once", is_flag=True, help="run every job once and exit (cron, tests)")
@with_appcontext
def worker(once: bool) -> None:
    """Check unpaid orders at WeChat: credit lost payments, close expired orders."""
    cfg = current_app.config["APP_CONFIG"]
    sessions = current_app.extensions["db_sessions"]
    gateway = gateway_from_config(cfg)
    stop = threading.Event()
    if not once:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        click.echo(
            f"worker: checking orders every {cfg.WORKER_INTERVAL_SECONDS:g} s (Ctrl-C stops)"
        )
    while True:
        try:
            report = check_open_orders(
                sessions,
                gateway,
                now=datetime.now(UTC),
                check_after=timedelta(seconds=cfg.ORDER_CHECK_AFTER_SECONDS),
            )
            if once or report.credited or report.closed or report.failed:
                click.echo(f"orders: {report}")
        except Exception:  # a database outage must not end the worker; try again next round
            if once:
                raise
            log.exception("order check failed")
        if once or stop.wait(cfg.WORKER_INTERVAL_SECONDS):
            return

"""The worker's jobs: what each does in one round, with the app's settings and ports."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from flask import Flask

from backend.bulletins.service import weekly
from backend.collectors.booking import book_due
from backend.collectors.declaring import declare_due
from backend.collectors.wire import BureauDeclarations, ExchangeBookings
from backend.errors import DomainError
from backend.infra.uow import UnitOfWork
from backend.infra.web import policy_book
from backend.ledger.client import TaxLedgerClient
from backend.ledger.outbox import PUSH_BATCH, deliver_due
from backend.ledger.port import TaxLedger
from backend.money.watch import check_if_due
from backend.orders.poller import check_open_orders
from backend.payments import gateway_from_config
from backend.payments.gateway import PaymentGateway
from backend.payments.wechat.subscribe import WeChatMessenger
from backend.posters.fonts import FontMissing
from backend.posters.service import typeface_of
from backend.progress.rollup import roll
from backend.refunds.service import check_refunds
from backend.subscriptions.delivery import send_due
from backend.subscriptions.port import Messenger
from backend.subscriptions.reminders import remind_due
from backend.values.beijing import beijing_today

LEDGER_BATCH = 50  # payments and reversals claimed per round, each sent on its own
COLLECTOR_BATCHES = 20  # collector batches declared or booked per round
WECHAT_MESSAGE_BATCH = 50  # subscription messages claimed per round


@dataclass(frozen=True)
class Outcome:
    summary: str
    worth_telling: bool  # something happened (a quiet round is not printed)
    more_waiting: bool = False  # a full batch: run again at once rather than after the interval


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[UnitOfWork], Outcome]


def jobs_for(
    app: Flask,
    *,
    gateway: PaymentGateway | None = None,
    ledger: TaxLedger | None = None,
    messenger: Messenger | None = None,
):
    """The worker's jobs, in the order a round runs them."""
    cfg = app.config["APP_CONFIG"]
    clock = app.extensions["clock"]
    gateway = gateway or gateway_from_config(cfg)
    ledger = ledger or TaxLedgerClient(cfg.TAX_LEDGER_URL, cfg.TAX_LEDGER_SECRET, clock)
    worker = f"{socket.gethostname()}:{os.getpid()}"

    def orders(uow: UnitOfWork) -> Outcome:
        report = check_open_orders(
            uow,
            gateway,
            now=clock.now(),
            check_after=timedelta(seconds=cfg.ORDER_CHECK_AFTER_SECONDS),
        )
        return Outcome(str(report), bool(report))

    def refunds(uow: UnitOfWork) -> Outcome:
        report = check_refunds(
            uow,
            gateway,
            now=clock.now(),
            check_after=timedelta(seconds=cfg.REFUND_CHECK_AFTER_SECONDS),
        )
        return Outcome(str(report), bool(report))

    def ledger_delivery(uow: UnitOfWork) -> Outcome:
        with app.app_context():
            book = policy_book()  # pushes name what each registration costs
        sent = deliver_due(
            uow,
            ledger,
            clock=clock,
            schedule=cfg.LEDGER_RETRY_SCHEDULE,
            worker=worker,
            book=book,
            lease=timedelta(seconds=cfg.LEDGER_LEASE_SECONDS),
            limit=LEDGER_BATCH,
            push_limit=PUSH_BATCH,
        )
        handled = sent.delivered + sent.failed + sent.dead
        return Outcome(str(sent), handled > 0, more_waiting=sent.more_waiting)

    def declarations(uow: UnitOfWork) -> Outcome:
        sent = declare_due(
            uow,
            BureauDeclarations(cfg.TAX_LEDGER_URL, cfg.TAX_LEDGER_SECRET, clock),
            clock=clock,
            schedule=cfg.LEDGER_RETRY_SCHEDULE,
            lease=timedelta(seconds=cfg.LEDGER_LEASE_SECONDS),
            limit=COLLECTOR_BATCHES,
        )
        handled = sent.done + sent.failed
        summary = f"declared {sent.done}, failed {sent.failed}"
        return Outcome(summary, handled > 0, more_waiting=handled >= COLLECTOR_BATCHES)

    def bookings(uow: UnitOfWork) -> Outcome:
        sent = book_due(
            uow,
            ExchangeBookings(cfg.EXCHANGE_URL, cfg.EXCHANGE_SECRET, clock),
            clock=clock,
            schedule=cfg.LEDGER_RETRY_SCHEDULE,
            lease=timedelta(seconds=cfg.LEDGER_LEASE_SECONDS),
            limit=COLLECTOR_BATCHES,
        )
        handled = sent.done + sent.failed
        summary = f"booked {sent.done}, failed {sent.failed}"
        return Outcome(summary, handled > 0, more_waiting=handled >= COLLECTOR_BATCHES)

    def progress(uow: UnitOfWork) -> Outcome:
        report = roll(
            uow,
            now=clock.now(),
            unless_rolled_within=timedelta(seconds=cfg.PROGRESS_ROLL_SECONDS),
        )
        return Outcome(str(report), bool(report))

    def bulletins(uow: UnitOfWork) -> Outcome:
        try:
            made = weekly(
                uow,
                policy_book(),
                typeface_of(cfg),
                region_code=cfg.CITY_CODE,
                weekday=cfg.BULLETIN_WEEKDAY,
            )
        except (FontMissing, DomainError) as exc:
            return Outcome(f"no bulletin: {exc}", True)
        told = ", ".join(f"{m.scheme} {m.period_year} as of {m.as_of}" for m in made)
        return Outcome(f"bulletins made: {told}" if made else "no bulletin due", bool(made))

    def money(uow: UnitOfWork) -> Outcome:
        checked = check_if_due(uow, now=clock.now())
        broken = [row.day.isoformat() for row in checked if not row.ok]
        summary = f"{len(checked)} days checked, broken: {', '.join(broken) or 'none'}"
        return Outcome(summary, bool(broken))

    reminded_on: list[date] = []  # the Beijing day this process last looked (once a day)

    def reminders(uow: UnitOfWork) -> Outcome:
        today = beijing_today(clock.now())
        if today in reminded_on:
            return Outcome("looked today already", False)
        with app.app_context():
            book = policy_book()
        report = remind_due(uow, book, now=clock.now(), days=cfg.DEADLINE_REMINDER_DAYS)
        reminded_on[:] = [today]
        return Outcome(str(report), report.written > 0)

    def wechat_messages(uow: UnitOfWork) -> Outcome:
        report = send_due(
            uow,
            messenger or subscription_messenger(app),
            templates=cfg.subscribe_templates(),
            clock=clock,
            schedule=cfg.SUBSCRIBE_RETRY_SCHEDULE,
            lease=timedelta(seconds=cfg.LEDGER_LEASE_SECONDS),
            limit=WECHAT_MESSAGE_BATCH,
        )
        return Outcome(str(report), bool(report), more_waiting=report.more_waiting)

    return [
        Job("orders", orders),
        Job("refunds", refunds),
        Job("ledger", ledger_delivery),
        Job("declarations", declarations),
        Job("bookings", bookings),
        Job("progress", progress),
        Job("bulletins", bulletins),
        Job("money", money),
        Job("reminders", reminders),
        Job("messages", wechat_messages),
    ]


JOB_NAMES = (
    "orders",
    "refunds",
    "ledger",
    "declarations",
    "bookings",
    "progress",
    "bulletins",
    "money",
    "reminders",
    "messages",
)


def subscription_messenger(app: Flask) -> Messenger:
    """The app's sender of subscription messages, made once per process: it keeps the access
    token (in Redis when REDIS_URL is set) across rounds."""
    messenger = app.extensions.get("wechat_messenger")
    if messenger is None:
        cfg = app.config["APP_CONFIG"]
        messenger = WeChatMessenger(
            cfg.WECHAT_APPID,
            cfg.WECHAT_SECRET,
            cfg.wechat_base_urls()[1],
            redis_url=cfg.REDIS_URL,
        )
        app.extensions["wechat_messenger"] = messenger
    return messenger

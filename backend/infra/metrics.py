"""/metrics in Prometheus' text format (prometheus_client).

Two kinds of figures:
- per request, counted in the process that answered: requests by method, route template (the
  URL rule, so a path with an ID is one series) and status, and their latency. Under gunicorn
  every worker counts its own; with PROMETHEUS_MULTIPROC_DIR set (an empty folder, emptied at each
  start, shared by the workers) prometheus_client's multiprocess mode writes them there and a
  scrape of any worker adds up all of them. The variable must be set before the app starts.
- the state of the business, read from the database at scrape time by a custom collector (a few
  counts over indexed columns and the money watch's stored result), so every worker gives the
  same answer: orders by state, the tax ledger outbox's oldest pending message and dead letters,
  the WeChat subscription messages by state,
  open discrepancies, the money watch's last checked day and the last bill day stored.

Not public in live mode: with WECHAT_MODE live or sandbox, /metrics answers 404 unless the
request carries `Authorization: Bearer <METRICS_TOKEN>` (and always 404 when METRICS_TOKEN is
unset). With the fake platform it is open.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterator
from datetime import datetime
from datetime import time as day_start

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from backend.models import (
    LedgerMessage,
    MoneyCheck,
    PaymentOrder,
    ReconDiscrepancy,
    WeChatBill,
    WeChatMessage,
)
from backend.models.orders import ORDER_STATUSES
from backend.models.subscriptions import WECHAT_MESSAGE_STATUSES
from backend.states.ledger import MessageStatus
from backend.values.beijing import BEIJING

PATH = "/metrics"
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
LIVE_MODES = ("live", "sandbox")

# Created once per process and registered with no registry: each scrape builds its own.
REQUESTS = Counter(
    "cc_http_requests",
    "HTTP requests answered, by method, route template and status",
    ("method", "route", "status"),
    registry=None,
)
LATENCY = Histogram(
    "cc_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template",
    ("method", "route"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=None,
)

blp = Blueprint("metrics", __name__)


def init_metrics(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_count)
    app.register_blueprint(blp)


def _start() -> None:
    g.metrics_started = time.perf_counter()


def _count(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    if started is not None:
        rule = request.url_rule
        route = rule.rule if rule is not None else "<unmatched>"  # no raw paths: low cardinality
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
    return response


@blp.get(PATH)
def metrics() -> Response:
    cfg = current_app.config["APP_CONFIG"]
    if cfg.WECHAT_MODE in LIVE_MODES and not _token_given(cfg.METRICS_TOKEN):
        abort(404)
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROC_DIR):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    registry.register(StateCollector(current_app._get_current_object()))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def _token_given(token: str | None) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


def _timestamp(day) -> float:
    return datetime.combine(day, day_start(), BEIJING).timestamp()


class StateCollector(Collector):
    """The business' state, read at scrape time."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self.app.extensions["clock"].now()
        with self.app.extensions["db_sessions"]() as session:
            by_status = dict(
                session.execute(
                    select(PaymentOrder.status, func.count()).group_by(PaymentOrder.status)
                ).all()
            )
            orders = GaugeMetricFamily("cc_orders", "Payment orders by state", labels=["state"])
            for status in ORDER_STATUSES:
                orders.add_metric([status], by_status.get(status, 0))
            yield orders

            pending = MessageStatus.PENDING.value
            oldest = session.scalar(
                select(func.min(LedgerMessage.created_at)).where(LedgerMessage.status == pending)
            )
            yield GaugeMetricFamily(
                "cc_ledger_outbox_oldest_pending_age_seconds",
                "Age of the oldest tax ledger message not yet delivered (0: none waiting)",
                value=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
            )
            dead = session.scalar(
                select(func.count()).where(LedgerMessage.status == MessageStatus.DEAD.value)
            )
            yield GaugeMetricFamily(
                "cc_ledger_dead_letters",
                "Tax ledger messages every retry failed (an operator must resend them)",
                value=dead or 0,
            )
            yield _wechat_messages(session)
            open_count = session.scalar(
                select(func.count()).where(ReconDiscrepancy.status == "open")
            )
            yield GaugeMetricFamily(
                "cc_discrepancies_open",
                "Reconciliation discrepancies waiting for a person",
                value=open_count or 0,
            )
            yield from _money(session)
            last_bill = session.scalar(
                select(func.max(WeChatBill.bill_date)).where(WeChatBill.status.in_(("ok", "empty")))
            )
            yield GaugeMetricFamily(
                "cc_recon_last_bill_day_timestamp_seconds",
                "The last Beijing day (its midnight) whose WeChat bill is stored for "
                "reconciliation (0: none)",
                value=_timestamp(last_bill) if last_bill else 0,
            )


def _wechat_messages(session) -> GaugeMetricFamily:
    """The subscription message outbox by state: a growing pending or dead count wants a look."""
    by_status = dict(
        session.execute(
            select(WeChatMessage.status, func.count()).group_by(WeChatMessage.status)
        ).all()
    )
    family = GaugeMetricFamily(
        "cc_wechat_messages", "WeChat subscription messages by state", labels=["state"]
    )
    for status in WECHAT_MESSAGE_STATUSES:
        family.add_metric([status], by_status.get(status, 0))
    return family


def _money(session) -> Iterator[GaugeMetricFamily]:
    last = session.scalar(select(MoneyCheck).order_by(MoneyCheck.day.desc()).limit(1))
    broken = session.scalar(select(func.count()).where(MoneyCheck.ok.is_(False))) or 0
    yield GaugeMetricFamily(
        "cc_money_check_ok",
        "1 when the money of the last day checked adds up (and the ledger check holds), else 0",
        value=1 if last is None or last.ok else 0,
    )
    yield GaugeMetricFamily(
        "cc_money_check_difference_fen",
        "Last day checked: took - (credited + refunded + in discrepancies), fen",
        value=last.difference if last else 0,
    )
    yield GaugeMetricFamily(
        "cc_money_check_day_timestamp_seconds",
        "The last Beijing day checked (its midnight; 0: none)",
        value=_timestamp(last.day) if last else 0,
    )
    yield GaugeMetricFamily(
        "cc_money_check_broken_days", "Days whose money does not add up", value=broken
    )

"""`flask seed-season`'s work: the demo season planned in backend.seed.season_plan, written as
the services write it, so a newcomer opens the progress page (and reconciliation) on a campaign.

The steps, in order (STEPS; each says what it did, each skips what is already there):

0. pushes          the registrations imported on 26 August pushed to the bureau that morning:
                   their push messages delivered with their attempt, and the fake bureau told
                   every registration it was pushed (POST /_control/registrations), so it
                   places the payments the worker sends.
1. payments        day by day, one transaction per day: each order as the order service writes
                   it (order, items holding the registrations, the hold, the audit entry), then
                   credited as a notification credits it (order paid, registrations paid with
                   their channel, one ledger message per item, journal rows on the day, audit);
                   the planted lost payment is closed on expiry instead.
2. refunds         a few recent payments given back in full, through the refund service
                   (requested, then WeChat's success): registration unpaid again, reversal
                   message, journal row, order refunded when nothing is left.
3. treasury        payments older than a day or three delivered to the bureau and confirmed:
                   the message delivered with its attempt and receipt, the registration
                   treasury_entered, the journal's entered row on the day, the audit entry.
4. government      the government-paid registrations of part of the counties (GOVERNMENT_COUNTIES)
                   drafted and confirmed in batches by the county's agency, through the
                   government batch service, on the days finance paid them; the other counties'
                   stay unpaid (finance has not paid yet), so they lag. Their ledger messages wait
                   in the outbox for the worker, as fresh ones would.
5. wechat          the season's trades (and refunds) loaded into the fake WeChat platform
                   (POST /_control/trades/history), so any past day's bill can be pulled and
                   reconciled: it matches, but for the discrepancies planted on one day.
6. rollup          the progress rollup rolled from the first day anything was written through
                   today.
7. bulletins       the city's weekly bulletins (通报), pension and medical, as of every Sunday
                   since the window opened, made as the worker makes them on Mondays, in order,
                   so each says what changed since the one before.

Writing goes through the services' own statement builders (backend.orders.creation, .crediting,
.closing, backend.refunds.service, backend.states.transitions, backend.progress.journal), with
the clock set to the moment each change happened, so every row and audit entry carries the
season's dates. Running it again changes nothing: orders are found by their planned numbers,
refunds by their Idempotency-Key, confirmations only move messages still pending.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from itertools import groupby

import requests
from flask import Flask
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from backend.auth.staff import StaffIdentity
from backend.bulletins import service as bulletins
from backend.errors import DomainError
from backend.government.batches import BatchKey, draft
from backend.government.confirming import confirm
from backend.infra.clock import CLOCK_OPTION, ShiftedClock
from backend.infra.uow import UnitOfWork
from backend.infra.web import policy_book
from backend.models import (
    Bulletin,
    GovernmentBatch,
    PaymentOrder,
    ProgressChange,
    ProgressRoll,
    Refund,
    Registration,
)
from backend.models.registrations import SCHEMES
from backend.orders import creation, crediting
from backend.orders.closing import close_order
from backend.payments.gateway import RefundResult
from backend.posters.fonts import FontMissing
from backend.posters.service import typeface_of
from backend.progress import rollup
from backend.progress.journal import day_of
from backend.refunds.service import RefundAsk, record_result, request_refund
from backend.seed.loader import is_in
from backend.seed.season_plan import Plan, PlannedOrder
from backend.seed.season_pushes import deliver_imported, load_into_bureau
from backend.seed.season_treasury import confirm_entries
from backend.states.government import BatchStatus
from backend.states.refunds import RefundStatus
from backend.states.registrations import RegistrationStatus
from backend.values.beijing import BEIJING
from backend.values.region_codes import normalise

log = logging.getLogger(__name__)

REFUND_ACTOR = "demo-admin"  # the city's reconciliation clerk of the demo staff
NOTIFY_ACTOR = "wechat:notify"  # as the notification endpoint credits
UNPAID = RegistrationStatus.UNPAID.value
BATCH = 500  # registrations looked up or confirmed per statement / transaction
HISTORY_CHUNK = 2000  # trades per request to the fake platform


@dataclass
class Season:
    """What every step needs, and what they report."""

    app: Flask
    plan: Plan
    now: datetime
    # The first day a step wrote journal rows for (the rollup starts there).
    touched: date | None = None
    done: dict[str, str] = field(default_factory=dict)

    @property
    def engine(self) -> Engine:
        return self.app.extensions["db_engine"]

    def uow_at(self, moment: datetime) -> UnitOfWork:
        """A unit of work whose clock, and column defaults, read `moment` (and on from it)."""
        clock = ShiftedClock(moment)
        engine = self.engine.execution_options(**{CLOCK_OPTION: clock})
        return UnitOfWork(
            sessionmaker(bind=engine, expire_on_commit=False),
            clock,
            self.app.extensions["db_reader"],
        )

    def touch(self, day: date) -> None:
        self.touched = day if self.touched is None else min(self.touched, day)


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[Season], str]  # what it did, in a line


def run(season: Season, steps: tuple[Step, ...] | None = None) -> Iterator[tuple[str, str]]:
    """Run the steps in order; yields (step name, what it did) as each finishes."""
    for step in steps or STEPS:
        season.done[step.name] = step.run(season)
        yield step.name, season.done[step.name]


# -- 0. pushes -----------------------------------------------------------------------------------


def push_registrations(season: Season) -> str:
    with season.app.app_context():
        book = policy_book()
    pushed = deliver_imported(lambda: season.uow_at(season.now), book)
    config = season.app.config["APP_CONFIG"]
    loaded = load_into_bureau(lambda: season.uow_at(season.now), config.TAX_LEDGER_URL)
    return f"{pushed:,} registrations pushed on the import day; {loaded}"


# -- 1. payments ---------------------------------------------------------------------------------


def write_payments(season: Season) -> str:
    orders = season.plan.orders
    ids = _registration_ids(season, {i.registration_ref for o in orders for i in o.items})
    with season.uow_at(season.now) as session:
        existing = set()
        numbers = [o.order_no for o in orders]
        for start in range(0, len(numbers), BATCH):
            chunk = numbers[start : start + BATCH]
            existing.update(
                session.scalars(
                    select(PaymentOrder.order_no).where(
                        is_in(session.connection(), PaymentOrder.order_no, chunk)
                    )
                )
            )
    written = skipped = 0
    for day, of_day in groupby(orders, key=lambda o: o.day):
        todo = [o for o in of_day if o.order_no not in existing]
        if not todo:
            continue
        # A registration missing, or paid meanwhile (a person trying the demo, a plan of
        # another hour): that order is left out, the rest of the day written.
        payable = [
            o
            for o in todo
            if all(ids.get(i.registration_ref, (0, ""))[1] == UNPAID for i in o.items)
        ]
        skipped += len(todo) - len(payable)
        todo = payable
        if not todo:
            continue
        with season.uow_at(max(o.notified_at for o in todo)) as session:
            for order in todo:
                _write_order(session, order, ids)
        season.touch(day)
        written += len(todo)
    note = f"{written:,} orders written, {len(existing):,} already there"
    if skipped:
        note += f", {skipped} left out (registrations missing or no longer unpaid)"
    return note


def _registration_ids(season: Season, refs: set[str]) -> dict[str, tuple[int, str]]:
    """ref -> (registration id, status) of the registrations there are."""
    found: dict[str, tuple[int, str]] = {}
    ordered = sorted(refs)
    with season.uow_at(season.now) as session:
        for start in range(0, len(ordered), BATCH):
            chunk = ordered[start : start + BATCH]
            found.update(
                (ref, (rid, status))
                for ref, rid, status in session.execute(
                    select(Registration.ref, Registration.id, Registration.status).where(
                        is_in(session.connection(), Registration.ref, chunk)
                    )
                )
            )
    return found


def _write_order(session: Session, order: PlannedOrder, ids: dict[str, tuple[int, str]]) -> None:
    """As POST /api/mp/v1/orders writes it, then as WeChat's notification credits it."""
    priced = [replace(i, registration_id=ids[i.registration_ref][0]) for i in order.items]
    values = {
        "b_order_no": order.order_no,
        "b_openid": order.openid,
        "b_idempotency_key": f"season-{order.order_no}",
        "b_request_hash": order.request_hash,
        "b_trade_type": order.trade_type,
        "b_total_fen": order.total_fen,
        "b_description": order.description,
        "b_client_ip": "10.0.0.1",
        "b_expires_at": order.created_at + timedelta(minutes=30),
        "b_next_check_at": order.created_at + timedelta(minutes=5),
        "b_county_code": order.county_code,
        "b_now": order.created_at,
    }
    written = {
        **values,
        "b_actor": f"openid:{order.openid}",
        "b_detail": {
            "total_fen": order.total_fen,
            "registrations": len(priced),
            "trade_type": order.trade_type,
        },
    }
    creation._write_statements(session.connection(), values, priced, written)
    if order.kind == "lost":
        close_order(
            session,
            values["id"],
            reason="expired",
            actor="system",
            now=values["b_expires_at"],
        )
        return
    payment = crediting.ReportedPayment(
        order.order_no, order.transaction_id, order.total_fen, order.paid_at
    )
    credited = crediting._values(payment, actor=NOTIFY_ACTOR, now=order.notified_at)
    decision = crediting._record(
        session, payment, credited, actor=NOTIFY_ACTOR, now=order.notified_at
    )
    if decision.event != "pay":
        raise RuntimeError(f"order {order.order_no} was not credited: {decision.reason}")


# -- 2. refunds ----------------------------------------------------------------------------------


def write_refunds(season: Season) -> str:
    given = already = 0
    for order in season.plan.orders:
        refund = order.refund
        if refund is None:
            continue
        ask = RefundAsk(
            order_no=order.order_no,
            registration_ref=refund.registration_ref,
            reason="other",
            note="居民申请退款",
            idempotency_key=f"season-{order.order_no}",
        )
        try:
            refund_no, replayed = request_refund(
                season.uow_at(refund.requested_at),
                ask,
                actor=REFUND_ACTOR,
                now=refund.requested_at,
            )
        except DomainError as exc:  # an order the payments step left out
            log.warning("refund of %s not written: %s", order.order_no, exc)
            continue
        with season.uow_at(season.now) as session:
            amount, status = session.execute(
                select(Refund.amount_fen, Refund.status).where(Refund.refund_no == refund_no)
            ).one()
        if replayed and status == RefundStatus.SUCCEEDED.value:
            already += 1
            continue
        status = record_result(
            season.uow_at(refund.succeeded_at),
            RefundResult(
                refund_no=refund_no,
                platform_refund_id=refund.platform_refund_id,
                state="succeeded",
                refund_fen=amount,
                succeeded_at=refund.succeeded_at,
                order_no=order.order_no,
            ),
            actor="wechat:refund-notify",
            now=refund.succeeded_at,
        )
        if status is RefundStatus.SUCCEEDED:
            given += 1
            season.touch(day_of(refund.succeeded_at))
        else:
            already += 1
    return f"{given} refunds given back, {already} already"


# -- 3. treasury ---------------------------------------------------------------------------------


def write_treasury(season: Season) -> str:
    """Deliver and confirm the planned entries whose messages are still pending."""
    confirmed, first = confirm_entries(lambda: season.uow_at(season.now), season.plan.orders)
    if first is not None:
        season.touch(first)
    return f"{confirmed:,} payments delivered to the bureau and entered in the treasury"


# -- 4. wechat -----------------------------------------------------------------------------------


def load_wechat_history(season: Season) -> str:
    config = season.app.config["APP_CONFIG"]
    if config.WECHAT_MODE != "fake":
        return f"skipped: WeChat is not the fake platform (WECHAT_MODE={config.WECHAT_MODE})"
    history = wechat_history(season)
    url = config.FAKE_WECHAT_URL.rstrip("/") + "/_control/trades/history"
    added = known = 0
    try:
        for start in range(0, len(history), HISTORY_CHUNK):
            answer = requests.post(
                url,
                json={
                    "trades": history[start : start + HISTORY_CHUNK],
                    "mch_id": config.WECHAT_MCH_ID,
                },
                timeout=30,
            )
            answer.raise_for_status()
            added += answer.json()["added"]
            known += answer.json()["known"]
    except requests.RequestException as exc:
        return (
            f"not loaded: the fake WeChat platform at {config.FAKE_WECHAT_URL} did not take them"
            f" ({exc.__class__.__name__}); start it and run this again for past days' bills"
        )
    return f"{added:,} trades loaded into the fake WeChat platform, {known:,} already there"


def wechat_history(season: Season) -> list[dict]:
    """Every planned payment as WeChat holds it: paid (the lost one too), at the billed amount,
    with the refunds our records say succeeded."""
    refunds: dict[str, list[dict]] = defaultdict(list)
    numbers = [o.order_no for o in season.plan.orders if o.refund is not None]
    with season.uow_at(season.now) as session:
        rows = session.execute(
            select(
                PaymentOrder.order_no,
                Refund.refund_no,
                Refund.refund_id,
                Refund.amount_fen,
                Refund.created_at,
                Refund.succeeded_at,
            )
            .join(PaymentOrder, PaymentOrder.id == Refund.order_id)
            .where(
                PaymentOrder.order_no.in_(numbers),
                Refund.status == RefundStatus.SUCCEEDED.value,
            )
        ).all()
    for row in rows:
        refunds[row.order_no].append(
            {
                "out_refund_no": row.refund_no,
                "refund_id": row.refund_id,
                "refund_fee": row.amount_fen,
                "requested_at": row.created_at.timestamp(),
                "succeeded_at": row.succeeded_at.timestamp(),
            }
        )
    return [
        {
            "out_trade_no": o.order_no,
            "trade_type": o.trade_type,
            "body": o.description,
            "total_fee": o.billed_fen or o.total_fen,
            "openid": o.openid,
            "transaction_id": o.transaction_id,
            "created_at": o.created_at.timestamp(),
            "paid_at": o.paid_at.timestamp(),
            "refunds": refunds.get(o.order_no, []),
        }
        for o in season.plan.orders
    ]


# -- 5. rollup -----------------------------------------------------------------------------------


def roll_progress(season: Season) -> str:
    if season.touched is None:
        with season.uow_at(season.now) as session:
            if session.get(ProgressRoll, day_of(season.now)) is not None:
                return "nothing new to roll"
    since = season.touched
    if since is not None:
        # From the journal's first day: a day rolls on top of the one before it, and the
        # registrations were imported before the first payment.
        with season.uow_at(season.now) as session:
            first = session.scalar(select(func.min(ProgressChange.day)))
        since = min(since, first or since)
    report = rollup.roll(season.uow_at(season.now), now=season.now, since=since)
    return str(report)


# -- 4. government ------------------------------------------------------------------------------

# Counties whose finance bureau has paid the government's share, and when (Beijing time).
GOVERNMENT_COUNTIES = ("410702", "410711", "410721", "410724", "410781", "410783")
GOVERNMENT_PAID_ON = {
    ("pension", 2019): datetime(2019, 10, 18, 10, 0, tzinfo=BEIJING),
    ("medical", 2020): datetime(2019, 11, 8, 10, 0, tzinfo=BEIJING),
}


def write_government_batches(season: Season) -> str:
    """Draft and confirm each planned batch not confirmed yet; counts what happened."""
    with season.app.app_context():
        book = policy_book()
    confirmed = nobody = already = 0
    for (scheme, year), moment in GOVERNMENT_PAID_ON.items():
        if moment > season.now:
            continue
        for county in GOVERNMENT_COUNTIES:
            key = BatchKey(county.ljust(12, "0"), scheme, year)
            agency = StaffIdentity(
                id=0, name=f"demo-agency-{county}", role="agency", region_code=key.county
            )
            with season.uow_at(moment) as session:
                done = session.scalar(
                    select(GovernmentBatch.batch_no).where(
                        *key.where(), GovernmentBatch.status == BatchStatus.CONFIRMED.value
                    )
                )
            if done is not None:
                already += 1
                continue
            try:
                batch_no = draft(season.uow_at(moment), book, agency, key)
            except DomainError:  # nobody the government pays in full there
                nobody += 1
                continue
            confirm(season.uow_at(moment + timedelta(hours=2)), book, agency, batch_no)
            season.touch(moment.astimezone(BEIJING).date())
            confirmed += 1
    return f"{confirmed} government batches confirmed, {already} already, {nobody} with nobody"


# -- 7. bulletins -------------------------------------------------------------------------------


def make_bulletins(season: Season) -> str:
    """The city's bulletins as of each Sunday of the season so far, oldest first."""
    config = season.app.config["APP_CONFIG"]
    with season.app.app_context():
        book = policy_book()
    city = normalise(config.CITY_CODE)
    try:
        typeface = typeface_of(config)
    except FontMissing as exc:
        return f"no bulletins: {exc}"
    today = day_of(season.now)
    opens = book.collection_window(city, today.year)[0]
    sunday = opens + timedelta(days=(6 - opens.weekday()) % 7)
    made = already = 0
    while sunday < today:
        monday = datetime.combine(sunday + timedelta(days=1), time(8, 0), BEIJING)
        for scheme in SCHEMES:
            policy = bulletins.policy_of(book, city, scheme, sunday)
            with season.uow_at(monday) as session:
                stored = session.scalar(
                    select(Bulletin.id).where(
                        Bulletin.region_code == city,
                        Bulletin.scheme == scheme,
                        Bulletin.period_year == policy.period_year,
                        Bulletin.as_of == sunday,
                    )
                )
            if stored is not None:
                already += 1
                continue
            bulletins.make(
                season.uow_at(monday),
                book,
                typeface,
                region_code=city,
                scheme=scheme,
                day=sunday,
                actor="worker",
            )
            made += 1
        sunday += timedelta(days=7)
    return f"{made} weekly bulletins made, {already} already"


STEPS: tuple[Step, ...] = (
    Step("pushes", push_registrations),
    Step("payments", write_payments),
    Step("refunds", write_refunds),
    Step("treasury", write_treasury),
    Step("government", write_government_batches),
    Step("wechat", load_wechat_history),
    Step("rollup", roll_progress),
    Step("bulletins", make_bulletins),
)

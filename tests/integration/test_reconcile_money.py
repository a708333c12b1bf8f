"""Reconciliation end to end over real HTTP: the fake platform's bill matches its history, and
after reconciliation and its automatic fixes every fen WeChat took is credited, refunded or in an
open discrepancy, and no registration is credited twice."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend import create_app
from backend.infra.web import new_unit_of_work
from backend.models import OrderItem, PaymentOrder, ReconDiscrepancy, Refund
from backend.payments import gateway_from_config
from backend.recon.pull import pull_bill
from backend.recon.reconcile import reconcile_day
from backend.values.beijing import beijing_today
from tests.conftest import serve
from tests.support.builders import add_person, age_on_2019
from tests.support.resident import get_order, order, pay, sign_in
from tests.support.running import wait_until

CITY = "410700000000"  # a bill is the whole merchant account's: filed under the city

STORIES = ("paid", "lost", "duplicate", "refunded")
_people = itertools.count(100)  # ID number serials, unique across hypothesis examples
STAFF_REFUNDS = "/api/staff/v1/refunds"


@pytest.fixture
def recon_app(app_config, with_regions):
    # Silent refunds are asked about at once.
    return create_app({**app_config, "REFUND_CHECK_AFTER_SECONDS": 0})


@pytest.fixture
def server(recon_app):
    with serve(recon_app) as running:
        yield running


@pytest.fixture
def session(recon_app):
    with recon_app.extensions["db_sessions"]() as session:
        yield session


@dataclass
class Played:
    """What one run of stories did: our order numbers and the registrations involved."""

    orders: set[str] = field(default_factory=set)
    registrations: list[int] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    refunds: list[str] = field(default_factory=list)


class Payer:
    """Plays stories through the resident API, the fake platform and the staff refund API."""

    def __init__(self, session, http, server, wx, app, recon_headers, tag: str) -> None:
        self.session, self.http, self.server, self.wx, self.app = session, http, server, wx, app
        self.recon = recon_headers
        self.auth = sign_in(http, server.url, wx, f"money-{tag}")
        self.tag = tag

    def play(self, stories: list[str]) -> Played:
        played = Played()
        people = []
        for n, story in enumerate(stories):
            _, regs = add_person(
                self.session, birth=age_on_2019(25 + n), seq=f"{next(_people):03d}"
            )
            people.append((story, regs[1]))  # medical, 250 yuan
            played.registrations.append(regs[1].id)
        # A duplicate needs an order that closed unpaid first, then another that paid.
        first_orders = {}
        for story, registration in people:
            if story == "duplicate":
                first_orders[registration.ref] = self._order(registration.ref, played)
        if first_orders:
            clock = self.app.extensions["clock"]
            clock.advance(timedelta(seconds=self.app.config["ORDER_TTL_SECONDS"] + 1))
            self._worker()  # closes them (expired, unpaid at WeChat)
        for story, registration in people:
            created = self._order(registration.ref, played)
            if story == "lost":
                pay(self.http, self.wx, created, notify="missing")
                played.lost.append(created)
                continue
            pay(self.http, self.wx, created)
            self._wait_status(created, "paid")
            if story == "duplicate":
                late = first_orders[registration.ref]
                pay(self.http, self.wx, late, force=True)  # the first order's money lands too
                self._wait_status(late, "refund_due")
                played.duplicates.append(late)
            if story == "refunded":
                answer = self.http.post(
                    self.server.url + STAFF_REFUNDS,
                    json={
                        "order_no": created,
                        "registration_ref": registration.ref,
                        "amount_fen": 5000,
                        "reason": "wrong_grade",
                    },
                    headers=self.recon,
                )
                assert answer.status_code == 201, answer.text
                played.refunds.append(answer.json()["refund_no"])
        return played

    def _order(self, ref: str, played: Played) -> str:
        answer = order(self.http, self.server.url, self.auth, [ref])
        assert answer.status_code == 201, answer.text
        played.orders.add(answer.json()["order_no"])
        return answer.json()["order_no"]

    def _wait_status(self, order_no: str, status: str) -> None:
        wait_until(
            lambda: (
                get_order(self.http, self.server.url, self.auth, order_no).json()["status"]
                == status
            )
        )

    def _worker(self) -> None:
        result = self.app.test_cli_runner().invoke(args=["worker", "--once"])
        assert result.exit_code == 0, result.output


def reconcile_today(app, tmp_path):
    uow = new_unit_of_work(app)
    now = uow.clock.now()
    today = beijing_today(now)
    tomorrow = today + timedelta(days=1)  # today's bill, as if pulled tomorrow
    gateway = gateway_from_config(app.config["APP_CONFIG"])
    pulled = pull_bill(
        uow,
        gateway,
        today,
        bill_dir=tmp_path,
        now=now,
        actor="test",
        region_code=CITY,
        today=tomorrow,
    )
    assert pulled.status == "ok", pulled.error
    return reconcile_day(
        uow, gateway, day=today, today=tomorrow, now=now, refund_check_after=timedelta(0)
    )


def refunds_settled(session, orders: set[str]) -> bool:
    with Session(bind=session.get_bind()) as fresh:
        busy = fresh.scalar(
            select(func.count())
            .select_from(Refund)
            .join(PaymentOrder, PaymentOrder.id == Refund.order_id)
            .where(
                PaymentOrder.order_no.in_(orders), Refund.status.in_(("requested", "processing"))
            )
        )
    return busy == 0


def taken_at_wechat(http, wx, orders: set[str]) -> tuple[int, int]:
    """(paid, refunded) fen at the platform, for these orders."""
    paid = refunded = 0
    for order_no in orders:
        trade = http.get(f"{wx.url}/_control/trades/{order_no}").json()
        if trade["trade_state"] in ("SUCCESS", "REFUND"):
            paid += trade["total_fee"]
        refunded += sum(
            r["refund_fee"] for r in trade["refunds"] if r["refund_status"] == "SUCCESS"
        )
    return paid, refunded


def books(session, orders: set[str]) -> dict[str, int]:
    with Session(bind=session.get_bind()) as fresh:
        credited = fresh.scalar(
            select(func.coalesce(func.sum(PaymentOrder.paid_fen), 0)).where(
                PaymentOrder.order_no.in_(orders), PaymentOrder.status.in_(("paid", "refunded"))
            )
        )
        credited_refunds = fresh.scalar(
            select(func.coalesce(func.sum(Refund.amount_fen), 0))
            .join(PaymentOrder, PaymentOrder.id == Refund.order_id)
            .where(
                PaymentOrder.order_no.in_(orders),
                PaymentOrder.status.in_(("paid", "refunded")),
                Refund.status == "succeeded",
            )
        )
        refunded = fresh.scalar(
            select(func.coalesce(func.sum(Refund.amount_fen), 0))
            .join(PaymentOrder, PaymentOrder.id == Refund.order_id)
            .where(PaymentOrder.order_no.in_(orders), Refund.status == "succeeded")
        )
        open_fen = fresh.scalar(
            select(func.coalesce(func.sum(ReconDiscrepancy.bill_fen), 0)).where(
                ReconDiscrepancy.order_no.in_(orders),
                ReconDiscrepancy.status.in_(("open", "held")),
                ReconDiscrepancy.refund_no == "",
            )
        )
    return {
        "credited": credited - credited_refunds,
        "refunded": refunded,
        "open": open_fen,
    }


def credited_twice(session, registrations: list[int]) -> list[int]:
    """Registrations that more than one credited, not fully refunded order item pays."""
    with Session(bind=session.get_bind()) as fresh:
        rows = fresh.execute(
            select(OrderItem.registration_id, func.count())
            .join(PaymentOrder, PaymentOrder.id == OrderItem.order_id)
            .where(
                OrderItem.registration_id.in_(registrations),
                PaymentOrder.status == "paid",
            )
            .group_by(OrderItem.registration_id)
            .having(func.count() > 1)
        ).all()
    return [registration for registration, _ in rows]


def test_reconciliation_finds_and_fixes_exactly_what_happened(
    session, http, server, fake_wechat, recon_app, staff_token, tmp_path
):
    recon = {"Authorization": f"Bearer {staff_token('recon', '410700')}"}
    payer = Payer(session, http, server, fake_wechat, recon_app, recon, "story")
    played = payer.play(["paid", "lost", "refunded", "duplicate"])
    wait_until(lambda: refunds_settled(session, played.orders))

    report = reconcile_today(recon_app, tmp_path)
    ours = [d for d in report.discrepancies if d.order_no in played.orders]
    assert sorted((d.kind, d.order_no, d.status) for d in ours) == sorted(
        [
            ("missing_in_ours", played.lost[0], "fixed"),
            *[("duplicate_payment", number, "fixed") for number in played.duplicates],
        ]
    )
    # The refund staff asked for is in the bill and matches: no status_mismatch.
    wait_until(lambda: refunds_settled(session, played.orders))
    paid, refunded = taken_at_wechat(http, fake_wechat, played.orders)
    ledger = books(session, played.orders)
    assert ledger == {"credited": 4 * 25000 - 5000, "refunded": 5000 + 25000, "open": 0}
    assert paid == ledger["credited"] + ledger["refunded"] + ledger["open"]
    assert refunded == ledger["refunded"]
    assert credited_twice(session, played.registrations) == []

    again = reconcile_today(recon_app, tmp_path)  # rerunning shows the same result
    assert sorted((d.kind, d.order_no, d.status) for d in again.discrepancies) == sorted(
        (d.kind, d.order_no, d.status) for d in report.discrepancies
    )


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(stories=st.lists(st.sampled_from(STORIES), min_size=1, max_size=5))
def test_money_is_conserved_whatever_happens(
    session, http, server, fake_wechat, recon_app, staff_token, tmp_path_factory, stories
):
    tag = f"p{time.monotonic_ns()}"
    recon = {"Authorization": f"Bearer {staff_token('recon', '410700', name=tag)}"}
    payer = Payer(session, http, server, fake_wechat, recon_app, recon, tag)
    played = payer.play(stories)
    wait_until(lambda: refunds_settled(session, played.orders))
    reconcile_today(recon_app, tmp_path_factory.mktemp("bills"))
    wait_until(lambda: refunds_settled(session, played.orders))

    paid, refunded = taken_at_wechat(http, fake_wechat, played.orders)
    ledger = books(session, played.orders)
    assert paid == ledger["credited"] + ledger["refunded"] + ledger["open"]
    assert refunded == ledger["refunded"]
    assert credited_twice(session, played.registrations) == []

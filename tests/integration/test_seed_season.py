"""`flask seed-season` against a real database and the fake WeChat platform: the campaign a
newcomer sees on the progress page, the bills reconciliation staff pull, and a second run."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date

import pytest
import requests
from sqlalchemy import func, select

from backend import create_app
from backend.models import (
    AuditEntry,
    Bulletin,
    GovernmentBatch,
    LedgerAttempt,
    LedgerMessage,
    OrderItem,
    PaymentOrder,
    ProgressChange,
    ProgressDay,
    ProgressRoll,
    Refund,
    Registration,
)
from backend.seed.season import GOVERNMENT_COUNTIES
from backend.seed.season_pushes import PUSHED_AT
from backend.values.beijing import beijing_today
from fakes.tax.server import create_app as create_fake_bureau
from tests.conftest import SEASON, TEST_SECRET
from tests.support.database import wipe
from tests.support.servers import ServerThread

SIZE = 600
PLANTED = re.compile(
    r"planted in WeChat's bill of (\d{4}-\d{2}-\d{2}): lost (SI\d+), amount_mismatch (SI\d+)"
)
TAKEN = ("paid", "treasury_entered")


@pytest.fixture(scope="module")
def tax_bureau(shared_clock):
    """The fake tax bureau the season tells what it was pushed."""
    fake = create_fake_bureau(time_scale=0.01, clock=shared_clock.timestamp)
    with ServerThread(fake) as running:
        yield running
    fake.extensions["fake_tax"].close()


@pytest.fixture(scope="module")
def season_app(database_url, engine, fake_wechat, tax_bureau, shared_clock, tmp_path_factory):
    """One app on one seeded season for the whole module: seeding takes half a minute, and the
    tests only read it (the rerun changes nothing), but for the reconciliation test, last."""
    wipe(engine)
    shared_clock.set(SEASON)
    app = create_app(
        {
            "TESTING": True,
            "CLOCK": shared_clock,
            "DATABASE_URL": database_url,
            "SECRET_KEY": TEST_SECRET,
            "FAKE_WECHAT_URL": fake_wechat.url + "/",
            "WECHAT_MODE": "fake",
            "REDIS_URL": None,
            "PROGRESS_CACHE_SECONDS": 0,
        }
    )
    app.config["APP_CONFIG"].TAX_LEDGER_URL = tax_bureau.url
    app.config["APP_CONFIG"].BILL_DIR = str(tmp_path_factory.mktemp("bills"))
    yield app
    app.extensions["db_engine"].dispose()
    app.extensions["db_reader"].engine.dispose()


@pytest.fixture
def app(season_app):
    """The module's app (instead of the shared fixture's, which starts on an empty database)."""
    return season_app


@pytest.fixture(scope="module")
def seed_season(season_app, tmp_path_factory):
    credentials = tmp_path_factory.mktemp("credentials") / "credentials.txt"

    def run() -> str:
        result = season_app.test_cli_runner().invoke(
            args=["seed-season", "--size", str(SIZE), "--credentials-file", str(credentials)]
        )
        assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
        return result.output

    return run


@pytest.fixture(scope="module")
def seeded(seed_season):
    return seed_season()


def session_of(app):
    return app.extensions["db_sessions"]()


def progress(http, live_server, token, region, scheme, **params):
    answer = http.get(
        live_server + "/api/staff/v1/progress",
        params={
            "region": region,
            "scheme": scheme,
            "period_year": 2019 if scheme == "pension" else 2020,
            **params,
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_city_sees_a_campaign_growing_day_by_day_at_each_countys_pace(
    app, seeded, http, live_server, staff_token
):
    token = staff_token("viewer", "410700")
    for scheme, period in (("pension", 2019), ("medical", 2020)):
        city = progress(http, live_server, token, "4107", scheme)
        with session_of(app) as s:
            of_scheme = (Registration.scheme == scheme, Registration.period_year == period)
            registered, paid, entered = (
                s.scalar(select(func.count()).where(*of_scheme, *where))
                for where in (
                    (),
                    (Registration.status.in_(TAKEN),),
                    (Registration.status == "treasury_entered",),
                )
            )
        assert (city["registered"], city["paid"], city["treasury_entered"]) == (
            registered,
            paid,
            entered,
        )
        # Pension was mostly paid before its October target, so long entered; medical is still
        # coming in, its last days' payments waiting for the bureau.
        assert 0 < entered <= paid < registered
        assert entered < paid or scheme == "pension"
        assert set(city["paid_by_channel"]) == {"wechat_miniprogram", "wechat_qr", "government"}
        assert city["paid_by_government"] > 0
        rates = {c["name"]: c["completion_rate"] for c in city["children"]}
        assert len(rates) == 12
        assert rates["新乡县"] > 0.5 > 0.25 > rates["封丘县"], rates
        assert max(rates.values()) - min(rates.values()) > 0.4

    days = ["2019-09-01", "2019-09-20", "2019-10-10", "2019-10-31", "2019-11-19", None]
    grown = [
        progress(http, live_server, token, "4107", "medical", **({"date": d} if d else {}))["paid"]
        for d in days
    ]
    assert grown == sorted(grown) and len(set(grown)) == len(grown), grown
    before = progress(http, live_server, token, "4107", "medical", date="2019-08-31")
    # The registrations were imported before the window opened; nothing was paid yet.
    assert before["registered"] == city["registered"] and before["paid"] == 0


def test_the_writes_keep_every_invariant_and_a_second_run_changes_nothing(
    app, seeded, seed_season, tax_bureau
):
    with session_of(app) as s:

        def count(*where, of):
            return s.scalar(select(func.count()).select_from(of).where(*where))

        # Every registration was pushed to the bureau the morning it was imported, before anyone
        # paid, and the bureau holds every one.
        pushes = s.execute(
            select(
                LedgerMessage.status,
                func.min(LedgerMessage.delivered_at),
                func.max(LedgerMessage.delivered_at),
                func.count(),
            )
            .where(LedgerMessage.kind == "registration")
            .group_by(LedgerMessage.status)
        ).all()
        assert pushes == [("delivered", PUSHED_AT, PUSHED_AT, count(of=Registration))]
        held = requests.get(f"{tax_bureau.url}/_control/registrations", timeout=10).json()
        assert len(held["registrations"]) == count(of=Registration)

        taken_items = (
            select(OrderItem.id)
            .join(PaymentOrder)
            .where(PaymentOrder.status.in_(("paid", "refunded")))
        )
        # One payment message per credited item, one attempt per delivered message.
        assert count(
            LedgerMessage.kind == "payment",
            LedgerMessage.order_item_id.is_not(None),
            of=LedgerMessage,
        ) == s.scalar(select(func.count()).select_from(taken_items.subquery()))
        # Part of the counties had their government-paid registrations confirmed, each once,
        # each with its message to the bureau; the others' are still unpaid.
        by_government = Counter(
            code[:6]
            for code in s.scalars(
                select(Registration.village_code).where(Registration.paid_channel == "government")
            )
        ).items()
        assert by_government and {county for county, _ in by_government} <= set(GOVERNMENT_COUNTIES)
        assert count(LedgerMessage.government_item_id.is_not(None), of=LedgerMessage) == sum(
            n for _, n in by_government
        )
        assert count(GovernmentBatch.status != "confirmed", of=GovernmentBatch) == 0
        # The city's weekly bulletins, pension and medical, as of every Sunday so far.
        sundays = s.execute(select(Bulletin.as_of, func.count()).group_by(Bulletin.as_of)).all()
        assert sundays and all(day.isoweekday() == 7 and n == 2 for day, n in sundays)
        assert max(day for day, _ in sundays) == date(2019, 11, 17)
        assert count(LedgerMessage.status == "delivered", of=LedgerMessage) == count(
            of=LedgerAttempt
        )
        # A paid order's items hold their registrations, which are paid (or entered), but for
        # an item whose payment was given back.
        loose = s.execute(
            select(PaymentOrder.order_no)
            .join(OrderItem)
            .join(Registration, Registration.id == OrderItem.registration_id)
            .where(
                PaymentOrder.status == "paid",
                OrderItem.id.not_in(select(Refund.order_item_id)),
                (OrderItem.held_registration_id.is_(None))
                | Registration.status.not_in(TAKEN)
                | Registration.paid_channel.is_(None),
            )
        ).all()
        assert loose == []
        # Every entered registration has its receipt, and its message the same one.
        receipts = s.execute(
            select(Registration.tax_receipt_no, LedgerMessage.tax_receipt_no)
            .join(LedgerMessage, LedgerMessage.registration_id == Registration.id)
            .where(Registration.status == "treasury_entered", LedgerMessage.kind != "registration")
        ).all()
        assert receipts and all(ours and ours == theirs for ours, theirs in receipts)
        # The journal adds up to the registrations as they stand.
        paid, entered = s.execute(
            select(func.sum(ProgressChange.paid), func.sum(ProgressChange.entered))
        ).one()
        assert paid == count(Registration.status.in_(TAKEN), of=Registration)
        assert entered == count(Registration.status == "treasury_entered", of=Registration)
        # A few refunds, given back in full: their registrations are unpaid again.
        refunds = s.execute(
            select(Refund.status, Registration.status)
            .join(OrderItem, OrderItem.id == Refund.order_item_id)
            .join(Registration, Registration.id == OrderItem.registration_id)
        ).all()
        assert refunds and set(refunds) == {("succeeded", "unpaid")}
        # Every change is audited on its county, dated in the season.
        first = s.scalar(
            select(func.min(AuditEntry.occurred_at)).where(AuditEntry.action == "order.paid")
        )
        assert first.year == 2019 and first.month == 9
        assert count(AuditEntry.region_code.is_(None), of=AuditEntry) == 0

    def state():
        with session_of(app) as s:
            tables = (
                PaymentOrder,
                OrderItem,
                LedgerMessage,
                LedgerAttempt,
                Refund,
                AuditEntry,
                GovernmentBatch,
                Bulletin,
            )
            counts = {t.__name__: s.scalar(select(func.count()).select_from(t)) for t in tables}
            return {
                **counts,
                "journal": s.execute(
                    select(ProgressChange.day, func.count()).group_by(ProgressChange.day)
                ).all(),
                "rollup": s.execute(
                    select(ProgressRoll.day, ProgressRoll.rolled_at, ProgressRoll.changes)
                ).all(),
                "days": s.scalar(select(func.count()).select_from(ProgressDay)),
                "statuses": s.execute(
                    select(Registration.status, func.count()).group_by(Registration.status)
                ).all(),
            }

    before = state()
    again = seed_season()
    assert "0 orders written" in again and "nothing new to roll" in again
    assert "0 registrations pushed on the import day; 0 registrations loaded" in again
    assert state() == before


def test_a_past_days_bill_reconciles_with_exactly_the_planted_discrepancies(
    app, seeded, http, live_server, staff_token
):
    day, lost, mismatch = PLANTED.search(seeded).groups()
    with session_of(app) as s:
        refunded_on = {beijing_today(t) for t in s.scalars(select(Refund.succeeded_at))}
    assert refunded_on
    recon = {"Authorization": f"Bearer {staff_token('recon', '410700')}"}
    url = live_server + "/api/staff/v1/reconciliations"

    ran = http.post(url, json={"date": day}, headers=recon)
    assert ran.status_code == 200, ran.text
    assert ran.json()["bill"]["status"] == "ok"
    found = http.get(
        live_server + "/api/staff/v1/discrepancies", params={"date": day}, headers=recon
    ).json()
    kinds = {(d["kind"], d["order_no"], d["status"]) for d in found}
    assert kinds == {("missing_in_ours", lost, "fixed"), ("amount_mismatch", mismatch, "open")}

    # Any other past day matches to the fen, refunds included.
    others = {date(2019, 9, 2), date(2019, 10, 15), *refunded_on} - {date.fromisoformat(day)}
    for other in sorted(others):
        clean = http.post(url, json={"date": other.isoformat()}, headers=recon)
        assert clean.status_code == 200, clean.text
        assert clean.json()["discrepancies"] == {}, (other, clean.json())
        assert clean.json()["matched"] > 0 or clean.json()["bill"]["status"] == "empty"

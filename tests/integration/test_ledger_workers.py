"""`flask worker` as real processes against the fake bureau: killed mid-delivery, and two at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.ledger.pushes import enqueue_pushes
from backend.models import (
    Enrollee,
    LedgerAttempt,
    LedgerMessage,
    OrderItem,
    PaymentOrder,
    Registration,
)
from backend.models.registrations import new_ref
from backend.values.id_numbers import birth_date
from fakes.tax.server import create_app as create_fake_bureau
from tests.support.people import make_id_number
from tests.support.regions import VILLAGE
from tests.support.servers import ServerThread

FLASK = Path(sys.executable).with_name("flask")


@pytest.fixture
def bureau():
    fake = create_fake_bureau(time_scale=0.01)
    with ServerThread(fake) as running:
        requests.post(f"{running.url}/_control/faults", json={"no_confirmation": True})
        yield running
    fake.extensions["fake_tax"].close()


def paid_registrations(engine, count: int) -> None:
    """`count` registrations paid through orders of ten, each with its pending outbox message,
    and each registration's push to the bureau, pending too (the worker sends it first)."""
    now = datetime.now(UTC)
    with Session(engine) as session:
        items = []
        for n in range(count):
            number = make_id_number(
                area=VILLAGE[:6],
                birth=(date(1970, 1, 1) + timedelta(days=n // 900)).strftime("%Y%m%d"),
                seq=f"{n % 900 + 100:03d}",
            )
            person = Enrollee(
                id_number=number, name="张三", birth_date=birth_date(number), village_code=VILLAGE
            )
            registration = Registration(
                ref=new_ref(),
                scheme="medical",
                period_year=2020,
                collection_no=f"W{n:09d}",
                village_code=VILLAGE,
                status="paid",
            )
            session.add(person)
            session.flush()
            registration.enrollee_id = person.id
            session.add(registration)
            items.append(registration)
        session.flush()
        for start in range(0, count, 10):
            batch = items[start : start + 10]
            order = PaymentOrder(
                order_no=f"SIW{start:012d}",
                openid="oWORKERS",
                idempotency_key=f"k{start}",
                request_hash="-",
                trade_type="JSAPI",
                status="paid",
                total_fen=25000 * len(batch),
                description="城乡居民医疗保险缴费",
                client_ip="127.0.0.1",
                expires_at=now,
                paid_at=now,
                transaction_id=f"42{start:026d}",
                items=[
                    OrderItem(
                        registration_id=r.id,
                        held_registration_id=r.id,
                        scheme="medical",
                        period_year=2020,
                        amount_fen=25000,
                    )
                    for r in batch
                ],
            )
            session.add(order)
            session.flush()
            for item in order.items:
                session.add(
                    LedgerMessage(
                        message_id=f"pay-{item.id}",
                        kind="payment",
                        registration_id=item.registration_id,
                        order_item_id=item.id,
                        next_attempt_at=now,
                    )
                )
        enqueue_pushes(session.connection(), [r.id for r in items], now=now)
        session.commit()


def start_worker(database_url: str, bureau_url: str, **env) -> subprocess.Popen:
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TAX_LEDGER_URL": bureau_url,
        "WORKER_INTERVAL_SECONDS": "0.1",
        "LEDGER_LEASE_SECONDS": "1",
        "LEDGER_RETRY_SCHEDULE": "0,0,0,0,0,0,0,0,0,0",
        "FAKE_WECHAT_URL": "http://127.0.0.1:9/",
        "LOG_LEVEL": "WARNING",
        **env,
    }
    return subprocess.Popen(
        [str(FLASK), "--app", "backend", "worker"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def outbox(engine) -> dict[str, int]:
    with Session(engine) as session:
        rows = session.execute(
            select(LedgerMessage.status, func.count()).group_by(LedgerMessage.status)
        ).all()
    return dict(rows)


def wait_delivered(engine, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if outbox(engine).get("delivered") == count:
            return
        time.sleep(0.2)
    raise AssertionError(f"not all delivered: {outbox(engine)}")


def stop(*workers: subprocess.Popen) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.wait(timeout=20)


def test_a_worker_killed_mid_delivery_leaves_nothing_lost_or_doubled(
    clean_db, with_regions, database_url, bureau
):
    paid_registrations(clean_db, 5)
    # Each delivery takes the bureau 1.5 s: the kill lands while one is in flight.
    requests.post(f"{bureau.url}/_control/faults", json={"slow": 1.5})
    first = start_worker(database_url, bureau.url)
    time.sleep(2.5)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert outbox(clean_db).get("pending", 0) > 0  # killed with work left

    requests.post(f"{bureau.url}/_control/faults", json={"slow": 0})
    second = start_worker(database_url, bureau.url)
    try:
        wait_delivered(clean_db, 10)  # five pushes, five payments
    finally:
        stop(second)
    accepted = requests.get(f"{bureau.url}/_control/messages").json()
    with Session(clean_db) as session:
        ours = session.scalars(
            select(LedgerMessage.message_id).where(LedgerMessage.kind == "payment")
        ).all()
    # One accepted message per paid registration, whatever was sent twice.
    assert sorted(m["message_id"] for m in accepted) == sorted(ours)


def test_two_workers_share_a_thousand_messages_without_sending_one_twice(
    clean_db, with_regions, database_url, bureau
):
    if clean_db.dialect.name != "postgresql":
        pytest.skip("the SKIP LOCKED claim is PostgreSQL's; SQLite runs one writer at a time")
    paid_registrations(clean_db, 1000)
    # Leases longer than a round: on a busy machine a round of 50 can outlast a 1 s lease, and a
    # lease that ends is a legitimate resend; here only the claims may keep the workers apart.
    workers = [start_worker(database_url, bureau.url, LEDGER_LEASE_SECONDS="30") for _ in range(2)]
    try:
        wait_delivered(clean_db, 2000)  # the pushes, then the payments
    finally:
        stop(*workers)
    accepted = requests.get(f"{bureau.url}/_control/messages").json()
    assert len(accepted) == 1000
    assert {m["deliveries"] for m in accepted} == {1}  # never sent twice, not even concurrently
    held = requests.get(f"{bureau.url}/_control/registrations").json()["registrations"]
    assert len(held) == 1000 and {h["deliveries"] for h in held} == {1}
    with Session(clean_db) as session:
        workers_seen = session.scalar(select(func.count(func.distinct(LedgerAttempt.worker))))
    assert workers_seen == 2  # both took a share

"""A notification storm under gunicorn on PostgreSQL: every payment notification delivered many
times at once, some after their order expired and closed, some never; beside a trivial endpoint
measured in the same run.

Goal (production-readiness issue): no double credit, whatever the storm: every paid order is
credited exactly once, with one tax ledger message per paid registration, and the lost payments
are credited by the worker's order check (orderquery); the throughput is reported.

Method: seed BENCH_STORM_PEOPLE people (default 3,000) into a fresh PostgreSQL database, start the
fake WeChat platform and gunicorn (2 sync workers, as the other benchmarks, with the bench app and
its /bench/echo baseline) on one business clock, sign in once, then:

1. late orders (BENCH_STORM_LATE, default 50): made through the API, expired (their expiry set in
   the past), closed by one round of the worker's order check (closeorder at WeChat, closed here);
2. orders (BENCH_STORM_ORDERS, default 1,000) and lost orders (BENCH_STORM_LOST, default 50) made
   through the API (POST /api/mp/v1/orders: pricing, unifiedorder at the fake);
3. every order is paid at the fake (the late ones forced, as a payment racing the close), with no
   notification sent; the notification of each paid trade is signed as WeChat signs it (the fake's
   trade: transaction_id, time_end, amount) with the merchant key;
4. baseline: BENCH_STORM_ECHO_REQUESTS (default 4,000) posts to /bench/echo (a smorest endpoint,
   no database), by the same client as the storm, before and after it: `echo` is the mean rate;
5. the storm: each notification of the orders and the late orders is posted BENCH_STORM_COPIES
   times (default 20), the copies side by side, from 2 x COPIES client threads, so all the copies
   of a notification are in flight at once; each answer must be 200 with SUCCESS (a duplicate is
   acknowledged, never credited again). `notifications_per_s` is the storm's rate,
   `credited_per_s` the orders credited over the storm's wall time. (A Python client, not wrk: a
   storm is a finite set of posts, and wrk's threads stopping one by one leave idle connections
   that block gunicorn's sync workers.)
6. the lost orders are due a look (next_check_at set to now): rounds of the worker's order check
   ask WeChat (orderquery) and credit them; `lost_credited_per_s` over those rounds.

Then the database must show: every order paid, exactly one order.paid audit entry each, exactly
one payment ledger message per order item and per registration, every registration paid, the
progress journal counting each paid registration once, and `flask check-money` finding the day in
order. `notify_ratio` = notifications_per_s / echo. Results: bench/results/storm.json.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import requests
from sqlalchemy import bindparam, create_engine, text

from backend.config import Config
from backend.infra.clock import clock_from_settings
from backend.orders.grants import grant
from backend.payments.wechat.routes import NOTIFY_PATH
from backend.values.beijing import beijing_today
from bench.common import BIN, RESULTS, background, free_port, fresh_database, log, seed_demo
from tests.support.storm import broken_invariants, journal_paid, notification, paid_at_platform

PEOPLE = int(os.environ.get("BENCH_STORM_PEOPLE", "3000"))
ORDERS = int(os.environ.get("BENCH_STORM_ORDERS", "1000"))
LATE = int(os.environ.get("BENCH_STORM_LATE", "50"))
LOST = int(os.environ.get("BENCH_STORM_LOST", "50"))
COPIES = int(os.environ.get("BENCH_STORM_COPIES", "20"))
WORKERS = os.environ.get("BENCH_WORKERS", "2")
ECHO_REQUESTS = int(os.environ.get("BENCH_STORM_ECHO_REQUESTS", "4000"))
ECHO_BODY = json.dumps({"id_number": "41072119800101001X", "name": "张三"}).encode()
JSON, XML = "application/json", "text/xml"
CLOCK_START = "2019-11-20T09:00:00+08:00"  # inside the demo policy's collection window


def main() -> dict:
    RESULTS.mkdir(parents=True, exist_ok=True)
    anchor = str(int(time.time()))
    clock = clock_from_settings(CLOCK_START, anchor, live=False)
    cfg = Config()
    with fresh_database("cc_bench_storm") as url:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "ORDER_LIMIT_PER_OPENID": "100000000 per minute",
            "OPEN_ORDERS_PER_RESIDENT": "100000000",
            "LOG_LEVEL": "WARNING",
            "APP_CLOCK_START": CLOCK_START,
            "APP_CLOCK_ANCHOR": anchor,
        }
        log(f"seeding {PEOPLE:,} people")
        seed_demo(env, PEOPLE)
        engine = create_engine(url)
        refs = priceable(engine, LATE + ORDERS + LOST)
        wx_port, api_port = free_port(), free_port()
        api, wx = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{wx_port}"
        env["FAKE_WECHAT_URL"] = f"{wx}/"
        env["PUBLIC_BASE_URL"] = api
        app_log = RESULTS / "storm-gunicorn.log"
        app_log.unlink(missing_ok=True)
        with (
            background(
                [str(BIN / "python"), "-m", "fakes.wechat", "--port", str(wx_port)],
                env,
                wait_url=f"{wx}/_control/health",
            ),
            background(
                [
                    str(BIN / "gunicorn"),
                    "-w",
                    WORKERS,
                    "-b",
                    f"127.0.0.1:{api_port}",
                    "bench.bench_app:create_bench_app()",
                ],
                env,
                wait_url=f"{api}/healthz",
                log_file=app_log,
            ),
            requests.Session() as http,
        ):
            login = http.post(f"{wx}/_control/login", json={"user": "storm"}).json()
            token = http.post(f"{api}/api/mp/v1/session", json={"code": login["code"]}).json()
            auth = {"Authorization": f"Bearer {token['token']}"}
            # The refs as the user's lookups would have granted them (backend.orders.grants).
            secret = env.get("SECRET_KEY") or cfg.SECRET_KEY
            refs = [grant(secret, login["openid"], r) for r in refs]

            log(f"{LATE} late orders: made, expired, closed")
            late = make_orders(api, auth, refs[:LATE])
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "UPDATE payment_order SET expires_at = :past, next_check_at = :past "
                        "WHERE order_no IN :numbers"
                    ).bindparams(bindparam("numbers", expanding=True)),
                    {"past": clock.now() - timedelta(seconds=1), "numbers": late},
                )
            worker_round(env)
            closed = count(engine, late, "closed")
            log(f"{ORDERS:,} orders and {LOST} lost ones: made, paid at WeChat")
            orders = make_orders(api, auth, refs[LATE : LATE + ORDERS])
            lost = make_orders(api, auth, refs[LATE + ORDERS :])
            trades = pay_all(wx, orders) + pay_all(wx, late, force=True)
            pay_all(wx, lost)  # their notifications never come
            bodies = [notification(t, cfg.WECHAT_API_KEY) for t in trades]
            random.shuffle(bodies)

            log(f"baseline: /bench/echo, {ECHO_REQUESTS:,} requests")
            echo_before = blast(f"{api}/bench/echo", [ECHO_BODY], ECHO_REQUESTS, JSON)
            with engine.connect() as conn:
                journal_before = journal_paid(conn)
            log(f"storm: {len(bodies):,} notifications x {COPIES} copies")
            storm = blast(api + NOTIFY_PATH, bodies, COPIES, XML)
            credited_in_storm = count(engine, orders + late, "paid")
            echo_after = blast(f"{api}/bench/echo", [ECHO_BODY], ECHO_REQUESTS, JSON)

            log(f"lost: the worker's order check credits {LOST} through orderquery")
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "UPDATE payment_order SET next_check_at = :now WHERE order_no IN :numbers"
                    ).bindparams(bindparam("numbers", expanding=True)),
                    {"now": clock.now(), "numbers": lost},
                )
            started = time.monotonic()
            rounds = 0
            while count(engine, lost, "paid") < len(lost) and rounds < 10:
                worker_round(env)
                rounds += 1
            lost_seconds = time.monotonic() - started

            everyone = orders + late + lost
            with engine.connect() as conn:
                broken = broken_invariants(conn, everyone)
                journal = journal_paid(conn) - journal_before
            day = beijing_today(clock.now()).isoformat()
            money = subprocess.run(
                [str(BIN / "flask"), "--app", "backend", "check-money", day],
                env=env,
                capture_output=True,
                text=True,
            )
        engine.dispose()

    echo = (echo_before["per_s"] + echo_after["per_s"]) / 2
    sent = len(bodies) * COPIES
    statuses = storm["statuses"]
    storm_seconds = storm["seconds"]
    warnings = []
    if closed != len(late):
        warnings.append(f"{len(late) - closed} late orders did not close before they were paid")
    if statuses != {"200": sent} or storm["accepted"] != sent:
        warnings.append(f"answers other than 200 SUCCESS: {statuses}, {storm['accepted']}")
    if any(broken.values()):
        warnings.append(f"invariants broken: {broken}")
    if journal != len(everyone):
        warnings.append(f"the progress journal counts {journal} payments, not {len(everyone)}")
    if money.returncode != 0:
        warnings.append(f"check-money: {money.stdout.strip()} {money.stderr.strip()[-300:]}")
    return {
        "orders": ORDERS,
        "late": LATE,
        "lost": LOST,
        "copies": COPIES,
        "gunicorn_workers": int(WORKERS),
        "notifications_sent": sent,
        "storm_seconds": round(storm_seconds, 2),
        "notifications_per_s": round(storm["per_s"], 1),
        "notify_p99_ms": storm["p99_ms"],
        "credited_in_storm": credited_in_storm,
        "credited_per_s": round(credited_in_storm / storm_seconds, 1),
        "lost_credited_per_s": round(len(lost) / lost_seconds, 1) if lost_seconds else None,
        "worker_rounds_for_lost": rounds,
        "echo_per_s": {
            "before": round(echo_before["per_s"], 1),
            "after": round(echo_after["per_s"], 1),
        },
        "echo_p99_ms": [echo_before["p99_ms"], echo_after["p99_ms"]],
        "notify_ratio": round(storm["per_s"] / echo, 4) if echo else None,
        "invariants": broken,
        "journal_paid": journal,
        "check_money": money.stdout.strip().splitlines()[-1:] if money.stdout else [],
        "valid": not warnings,
        "warnings": warnings,
    }


def blast(url: str, bodies: list[bytes], copies: int, content_type: str) -> dict:
    """POST every body `copies` times, the copies side by side, from 2 x COPIES threads: all the
    copies of a body are in flight at once. The same client measures the baseline."""
    local = threading.local()

    def post(body: bytes) -> tuple[int, bool, float]:
        http = getattr(local, "http", None)
        if http is None:
            http = local.http = requests.Session()
        started = time.perf_counter()
        answer = http.post(url, data=body, headers={"Content-Type": content_type}, timeout=60)
        return answer.status_code, b"SUCCESS" in answer.content, time.perf_counter() - started

    work = [body for body in bodies for _ in range(copies)]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=2 * COPIES) as pool:
        done = list(pool.map(post, work))
    seconds = time.monotonic() - started
    latencies = sorted(latency for _, _, latency in done)
    return {
        "seconds": seconds,
        "per_s": len(work) / seconds,
        "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1),
        "statuses": dict(Counter(str(status) for status, _, _ in done)),
        "accepted": sum(1 for _, ok, _ in done if ok),
    }


def priceable(engine, count_: int) -> list[str]:
    """Unpaid medical registrations of people in no special group (always priceable)."""
    with engine.connect() as conn:
        refs = conn.scalars(
            text(
                "SELECT r.ref FROM registration r WHERE r.scheme = 'medical' "
                "AND r.status = 'unpaid' AND NOT EXISTS (SELECT 1 FROM "
                "special_group_membership m WHERE m.enrollee_id = r.enrollee_id) "
                "ORDER BY random() LIMIT :n"
            ),
            {"n": count_},
        ).all()
    if len(refs) < count_:
        raise SystemExit(f"only {len(refs)} priceable registrations: raise BENCH_STORM_PEOPLE")
    return list(refs)


def make_orders(api: str, auth: dict, refs: list[str]) -> list[str]:
    def one(ref: str) -> str:
        answer = requests.post(
            f"{api}/api/mp/v1/orders",
            json={"items": [{"registration_ref": ref}], "trade_type": "JSAPI"},
            headers={**auth, "Idempotency-Key": f"storm-{ref}"},
            timeout=30,
        )
        if answer.status_code != 201:
            raise SystemExit(f"order for {ref}: {answer.status_code} {answer.text[:200]}")
        return answer.json()["order_no"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, refs))


def pay_all(wx: str, order_nos: list[str], *, force: bool = False) -> list[dict]:
    def one(order_no: str) -> dict:
        with requests.Session() as http:
            return paid_at_platform(http, wx, order_no, force=force)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, order_nos))


def worker_round(env: dict) -> None:
    subprocess.run(
        [str(BIN / "flask"), "--app", "backend", "worker", "--once", "--job", "orders"],
        env=env,
        check=True,
        capture_output=True,
    )


def count(engine, order_nos: list[str], status: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM payment_order WHERE status = :status AND order_no IN :numbers"
            ).bindparams(bindparam("numbers", expanding=True)),
            {"status": status, "numbers": order_nos},
        ).scalar_one()


if __name__ == "__main__":
    outcome = main()
    (RESULTS / "storm.json").write_text(
        json.dumps(outcome, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(json.dumps(outcome, indent=2, ensure_ascii=False))
    sys.exit(0 if outcome["valid"] else 1)

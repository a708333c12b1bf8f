"""Ledger messages delivered per second by one `flask worker` and by two, against the fake tax
bureau, on PostgreSQL.

Method: seed N paid registrations (default 4,000) into a fresh database by plain SQL, in paid
orders of ten, each registration with its pending payment message in ledger_message (as a paid
notification leaves it) and its push to the bureau delivered (as the import's push would be
long before), which the fake bureau is told before each run (POST /_control/registrations). Start the fake bureau with confirmations switched off (no callbacks).
Then, BENCH_RUNS times (default 3), for one worker and then two: put every message back to
pending (never attempted, no payload), empty ledger_attempt, reset the bureau, start the workers
(WORKER_INTERVAL_SECONDS=0.05, LEDGER_LEASE_SECONDS=30) and poll the database every 0.1 s until
all N are delivered; then stop the workers (SIGTERM).

Times count from starting the processes: time_first is when the first delivery was seen (mostly
process start-up), time_all when the last was. Two rates: N / time_all, and N / (time_all -
time_first), the steady rate without start-up. After each run the bureau must hold N messages,
each delivered once, and the database N deliveries and one attempt per message.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from contextlib import ExitStack

from sqlalchemy import create_engine, text

from backend.infra import id_vault
from bench.common import BIN, RESULTS, background, free_port, fresh_database, log, median

MESSAGES = int(os.environ.get("BENCH_LEDGER_MESSAGES", "4000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
WORKER_COUNTS = (1, 2)
INTERVAL = "0.05"
LEASE = "30"
POLL_SECONDS = 0.1
STALL_SECONDS = 60  # no new delivery for this long ends the run as failed
VILLAGE = "410721100201"
COUNTY = VILLAGE[:6] + "000000"  # the county its orders are filed under

REGIONS = """
INSERT INTO region (code, name, level, parent_code) VALUES
  ('410700000000', '新乡市', 'city', NULL),
  ('410721000000', '新乡县', 'county', '410700000000'),
  ('410721100000', '翟坡镇', 'township', '410721000000'),
  ('410721100201', '大召营村', 'village', '410721100000')
"""

# Unique 18-character id numbers (not valid ones: the bureau does not check them), hashed and
# sealed in Python (backend.infra.id_vault, the environment's keys, as the workers read them).
ENROLLEES = """
INSERT INTO enrollee (id, id_hash, id_sealed, name, birth_date, village_code, created_at,
                      updated_at)
VALUES (:id, :id_hash, :id_sealed, '张三', DATE '1970-01-01', :village, now(), now())
"""

REGISTRATIONS = """
INSERT INTO registration (ref, enrollee_id, scheme, period_year, collection_no, village_code,
                          status, created_at, updated_at)
SELECT 'L' || lpad(g::text, 12, '0'), e.id, 'medical', 2020, 'W' || lpad(g::text, 9, '0'),
       :village, 'paid', now(), now()
FROM generate_series(0, CAST(:n AS int) - 1) g
JOIN enrollee e ON e.id = g + 1
ORDER BY g
"""

ORDERS = """
INSERT INTO payment_order (order_no, openid, idempotency_key, request_hash, trade_type, status,
    total_fen, description, client_ip, expires_at, transaction_id, paid_at, paid_fen,
    next_check_at, county_code, created_at, updated_at)
SELECT 'SIW' || lpad(o::text, 12, '0'), 'oBENCHLEDGER', 'k' || o, '-', 'JSAPI', 'paid',
       25000 * least(10, CAST(:n AS int) - 10 * o), '城乡居民医疗保险缴费', '127.0.0.1', now(),
       '42' || lpad(o::text, 26, '0'), now(), 25000 * least(10, CAST(:n AS int) - 10 * o),
       now(), :county, now(), now()
FROM generate_series(0, (CAST(:n AS int) - 1) / 10) o ORDER BY o
"""

ITEMS = """
INSERT INTO order_item (order_id, registration_id, held_registration_id, scheme, period_year,
    grade_yuan, amount_fen, gov_paid_fen, contribution_subsidy_fen)
SELECT po.id, r.id, r.id, 'medical', 2020, NULL, 25000, 0, 0
FROM generate_series(0, CAST(:n AS int) - 1) g
JOIN registration r ON r.collection_no = 'W' || lpad(g::text, 9, '0')
JOIN payment_order po ON po.order_no = 'SIW' || lpad((g / 10)::text, 12, '0')
ORDER BY g
"""

MESSAGES_SQL = """
INSERT INTO ledger_message (message_id, kind, registration_id, order_item_id, status, attempts,
    next_attempt_at, created_at, updated_at)
SELECT 'pay-' || i.id, 'payment', i.registration_id, i.id, 'pending', 0, now(), now(), now()
FROM order_item i ORDER BY i.id
"""

# The registrations were pushed to the bureau before anyone paid (a payment waits for its push).
PUSHES_SQL = """
INSERT INTO ledger_message (message_id, kind, registration_id, status, attempts, next_attempt_at,
    payload, ledger_ref, delivered_at, created_at, updated_at)
SELECT 'reg-' || r.id, 'registration', r.id, 'delivered', 1, now(),
       json_build_object('message_id', 'reg-' || r.id, 'collection_no', r.collection_no,
           'id_sealed', e.id_sealed, 'name', e.name, 'scheme', r.scheme,
           'period_year', r.period_year, 'region_code', r.village_code,
           'payable_fen', 25000, 'gov_paid_fen', 0),
       'L20191120' || lpad(r.id::text, 12, '0'), now(), now(), now()
FROM registration r JOIN enrollee e ON e.id = r.enrollee_id ORDER BY r.id
"""

RESET = """
UPDATE ledger_message SET status = 'pending', attempts = 0, next_attempt_at = now(),
    payload = NULL, ledger_ref = NULL, delivered_at = NULL, last_error = NULL, updated_at = now()
WHERE kind = 'payment'
"""


def main() -> dict:
    RESULTS.mkdir(parents=True, exist_ok=True)
    with fresh_database("cc_bench_ledger") as url:
        engine = create_engine(url)
        try:
            seed(engine)
            return measure(engine, url)
        finally:
            engine.dispose()


def seed(engine) -> None:
    log(f"seeding {MESSAGES:,} paid registrations with pending ledger messages")
    params = {"n": MESSAGES, "village": VILLAGE, "county": COUNTY}
    with engine.begin() as conn:
        conn.execute(text(REGIONS))
        vault = id_vault.current()
        numbers = [f"B{g:017d}" for g in range(MESSAGES)]
        conn.execute(
            text(ENROLLEES),
            [
                {"id": g + 1, "id_hash": vault.hash_id(n), "id_sealed": vault.seal(n), **params}
                for g, n in enumerate(numbers)
            ],
        )
        conn.execute(text("SELECT setval(pg_get_serial_sequence('enrollee', 'id'), :n)"), params)
        for sql in (REGISTRATIONS, ORDERS, ITEMS, MESSAGES_SQL, PUSHES_SQL):
            conn.execute(text(sql), params)
        count = conn.scalar(text("SELECT count(*) FROM ledger_message WHERE status = 'pending'"))
    if count != MESSAGES:
        raise SystemExit(f"seeded {count} ledger messages, wanted {MESSAGES}")
    vacuum(engine)


def vacuum(engine) -> None:
    with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text("VACUUM ANALYZE ledger_message, ledger_attempt"))


def measure(engine, url: str) -> dict:
    tax_port = free_port()
    bureau = f"http://127.0.0.1:{tax_port}"
    # Every process on the system clock: the seeded rows carry the database's now(), and the
    # bureau checks the workers' signed timestamps against its own clock (APP_CLOCK_* unset).
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("APP_CLOCK_")},
        "DATABASE_URL": url,
        "TAX_LEDGER_URL": bureau,
        "WORKER_INTERVAL_SECONDS": INTERVAL,
        "LEDGER_LEASE_SECONDS": LEASE,
        "FAKE_WECHAT_URL": "http://127.0.0.1:9/",  # nothing to check at WeChat: no open orders
        "LOG_LEVEL": "WARNING",
    }
    worker_log = RESULTS / "ledger-worker.log"
    worker_log.unlink(missing_ok=True)
    runs: dict[int, list[dict]] = {w: [] for w in WORKER_COUNTS}
    with background(
        [str(BIN / "python"), "-m", "fakes.tax", "--port", str(tax_port)],
        env,
        wait_url=f"{bureau}/_control/health",
    ):
        for run in range(1, RUNS + 1):
            for workers in WORKER_COUNTS:
                log(f"run {run}: {workers} worker(s)")
                prepare(engine, bureau)
                one = run_workers(engine, env, workers, worker_log)
                one["checks"] = check(engine, bureau, workers)
                runs[workers].append(one)
                log(
                    f"  all {one['time_all_s']} s, first {one['time_first_s']} s, "
                    f"{one['rate_all']}/s ({one['rate_steady']}/s steady), ok={one['checks']['ok']}"
                )
    return summarise(runs)


def prepare(engine, bureau: str) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger_attempt"))
        conn.execute(text(RESET))
    vacuum(engine)
    post_json(f"{bureau}/_control/reset", {})
    post_json(f"{bureau}/_control/faults", {"no_confirmation": True})
    with engine.connect() as conn:
        pushed = conn.scalars(
            text("SELECT payload FROM ledger_message WHERE kind = 'registration' ORDER BY id")
        ).all()
    post_json(f"{bureau}/_control/registrations", {"registrations": pushed})


def run_workers(engine, env: dict[str, str], workers: int, worker_log) -> dict:
    with engine.connect() as conn, ExitStack() as stack:
        started = time.monotonic()
        for _ in range(workers):
            stack.enter_context(
                background(
                    [str(BIN / "flask"), "--app", "backend", "worker"], env, log_file=worker_log
                )
            )
        first = None
        last_count, last_change = 0, started
        while True:
            time.sleep(POLL_SECONDS)
            delivered, dead = conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE status = 'delivered'), "
                    "count(*) FILTER (WHERE status = 'dead') FROM ledger_message "
                    "WHERE kind = 'payment'"
                )
            ).one()
            conn.rollback()  # a fresh snapshot for the next poll
            now = time.monotonic()
            if delivered and first is None:
                first = now - started
            if delivered != last_count:
                last_count, last_change = delivered, now
            if delivered + dead >= MESSAGES:
                break
            if now - last_change > STALL_SECONDS:
                raise SystemExit(
                    f"stalled at {delivered} delivered, {dead} dead of {MESSAGES} "
                    f"(see {worker_log})"
                )
        elapsed = now - started
    # the workers are stopped (SIGTERM, waited for) on leaving the ExitStack
    steady = elapsed - first
    return {
        "time_all_s": round(elapsed, 3),
        "time_first_s": round(first, 3),
        "rate_all": round(MESSAGES / elapsed, 1),
        "rate_steady": round(MESSAGES / steady, 1) if steady > 0 else None,
    }


def check(engine, bureau: str, workers: int) -> dict:
    accepted = get_json(f"{bureau}/_control/messages")
    deliveries = [m["deliveries"] for m in accepted]
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM ledger_message"
                " WHERE kind = 'payment' AND status = 'delivered'), "
                "(SELECT count(*) FROM ledger_message WHERE status = 'dead'), "
                "(SELECT count(*) FROM ledger_attempt), "
                "(SELECT count(*) FROM ledger_attempt WHERE outcome <> 'delivered'), "
                "(SELECT count(DISTINCT worker) FROM ledger_attempt), "
                "(SELECT count(*) FROM ledger_message WHERE attempts <> 1)"
            )
        ).one()
    found = {
        "bureau_messages": len(accepted),
        "bureau_delivered_more_than_once": sum(1 for d in deliveries if d != 1),
        "db_delivered": row[0],
        "db_dead": row[1],
        "db_attempts": row[2],
        "db_failed_attempts": row[3],
        "workers_seen": row[4],
        "db_messages_attempted_not_once": row[5],
    }
    found["ok"] = (
        found["bureau_messages"] == MESSAGES
        and found["bureau_delivered_more_than_once"] == 0
        and found["db_delivered"] == MESSAGES
        and found["db_attempts"] == MESSAGES
        and found["db_failed_attempts"] == 0
    )
    return found


def summarise(runs: dict[int, list[dict]]) -> dict:
    by_workers = {}
    for workers, results in runs.items():
        by_workers[str(workers)] = {
            "rate_all": [r["rate_all"] for r in results],
            "rate_steady": [r["rate_steady"] for r in results],
            "time_all_s": [r["time_all_s"] for r in results],
            "time_first_s": [r["time_first_s"] for r in results],
            "median_rate_all": round(median([r["rate_all"] for r in results]), 1),
            "median_rate_steady": round(median([r["rate_steady"] for r in results]), 1),
            "median_time_first_s": round(median([r["time_first_s"] for r in results]), 3),
            "checks": [r["checks"] for r in results],
        }
    one, two = by_workers["1"], by_workers["2"]
    return {
        "benchmark": "ledger",
        "unit": "messages delivered per second",
        "workers": by_workers,
        "speedup_2_over_1": {
            "rate_all": round(two["median_rate_all"] / one["median_rate_all"], 2),
            "rate_steady": round(two["median_rate_steady"] / one["median_rate_steady"], 2),
        },
        "all_checks_ok": all(c["ok"] for w in by_workers.values() for c in w["checks"]),
        "settings": {
            "messages": MESSAGES,
            "runs": RUNS,
            "worker_interval_s": float(INTERVAL),
            "ledger_lease_s": float(LEASE),
            "poll_s": POLL_SECONDS,
            "cores": os.cpu_count(),
        },
    }


def post_json(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.load(response)


if __name__ == "__main__":
    outcome = main()
    (RESULTS / "ledger.json").write_text(
        json.dumps(outcome, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(json.dumps(outcome, indent=2, ensure_ascii=False))
    sys.exit(0)

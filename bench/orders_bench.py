"""Order creation and payment-notification throughput under gunicorn on PostgreSQL, each beside a
baseline measured in the same run.

Goals (orders issue): an order is created at no less than 0.25 of its baseline's rate, and a
payment notification is credited at no less than 0.35 of the bare SQL rate.

Baselines. Creating an order costs two things nobody can take away: the database work of the
order (what the app writes, as bare SQL) and one signed unifiedorder round trip to WeChat Pay.
Both are measured in every run:

- sql_create: pgbench runs the order's bare SQL transaction at `sql` transactions per second;
- wx_unifiedorder: wrk posts pre-signed unifiedorder XML bodies (each a new out_trade_no, with
  the fields and signature the app's WeChat client sends) straight to the fake platform the app
  uses, with the app run's concurrency, and sustains `unifiedorder` accepted calls per second.

Each load has the whole machine to itself while it runs, so 1/sql is the machine's time per
order for the database part and 1/unifiedorder its time per order for the platform part. An
order needs both on the same machine, so their times add:

    time per order = 1/sql + 1/unifiedorder
    baseline       = 1 / (1/sql + 1/unifiedorder)   orders per second

(e.g. 2,500 tps and 1,000 requests/s give 714 orders/s), and `creation_ratio` is the app's
rate over the baseline's, per run; the figure judged is the median of the runs. The load
generators' own CPU (pgbench, wrk) stays in both parts: it can only make the baseline slower.
A notification costs only its database work: `notify_ratio` is the app's credits per second over
pgbench's bare SQL rate, per run, median of the runs.

Method: seed N people (default 20,000) into a fresh PostgreSQL database, add a block of extra
registrations by plain SQL (for the bare SQL runs and for orders to pay), start the fake WeChat
platform and gunicorn (2 sync workers, as the lookup benchmark) on one business clock inside the
2019 collection window (APP_CLOCK_START / APP_CLOCK_ANCHOR, shared), sign in once, then after a
short warm-up (every step, 3 s) alternate, BENCH_RUNS times (default 3; 1 is a quick run), 10 s
each:

1. SQL create (pgbench, 8 clients, prepared statements): one transaction inserting a payment_order (with its
   next_check_at and the county of its registration), its order_item holding a registration,
   the guarded registration update (unpaid -> pending, through order_item) and the order.create
   audit entry filed under the county: what create_order writes, with the same rows, indexes and
   constraints. The county is read from the registration in the order's INSERT (the app has it
   from its pricing read).
2. Unifiedorder (wrk, 2 threads, as many connections as the app run): POST pay/unifiedorder to
   the fake platform, a signed JSAPI trade each; a call counts when result_code is SUCCESS. The
   fake (werkzeug's server) closes every connection after its answer, so wrk, like the app,
   opens one TCP connection per call.
3. App create (wrk, 2 threads, 32 connections): POST /api/mp/v1/orders, each with a new
   Idempotency-Key and a priceable registration no order has used. Besides the pricing read and
   its writes, every order makes one unifiedorder call to the fake platform and a second write
   storing the prepay_id and payment parameters: both are part of what is measured.
4. SQL notify (pgbench): one transaction doing the guarded update created -> paid by order_no
   and amount, the update of its registration (through order_item), one progress journal row and
   one ledger_message (the tax outbox) per registration and the order.paid audit entry, on a pool of 'created' orders made
   before the run.
5. App notify (wrk): POST /api/payments/wechat/notify with correctly signed XML, each notification
   once, for the app's unpaid orders and, to have enough, SQL copies of an app-made order (same
   columns, item and registration hold). A credit is an answer carrying SUCCESS.

Rates are compared within each run (the machine is noisy): medians, the ratio of the medians and
the median of the per-run ratios (`creation_ratio`, `notify_ratio`, the figures the goals are
judged on). A run whose load ran out of prepared work (registrations, unifiedorder bodies,
notifications), or whose app answered anything but 201 / SUCCESS, is marked invalid and its side's
goal is not judged. Afterwards the database must show every paid order credited once. Results:
bench/results/orders.json.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from wechatpy.pay.utils import calculate_signature, dict_to_xml

from backend.config import Config
from backend.infra.clock import Clock, clock_from_settings
from backend.orders.grants import grant
from backend.payments.wechat.routes import NOTIFY_PATH
from backend.values.beijing import compact_text
from bench.common import (
    BIN,
    RESULTS,
    background,
    free_port,
    fresh_database,
    log,
    median,
    require_tool,
    seed_demo,
    wrk,
)

PEOPLE = int(os.environ.get("BENCH_ORDERS_PEOPLE", "20000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
WORKERS = os.environ.get("BENCH_WORKERS", "2")
SECONDS = int(os.environ.get("BENCH_ORDERS_SECONDS", "10"))
WARMUP_SECONDS = 3
CONNECTIONS = int(os.environ.get("BENCH_ORDERS_CONNECTIONS", "32"))  # over wrk's 2 threads
WRK_THREADS = 2  # common.wrk runs -t2
PG_CLIENTS = int(os.environ.get("BENCH_PGBENCH_CLIENTS", "8"))
PG_THREADS = 2
# pgbench's query mode: prepared (as psycopg prepares the app's statements on the server), or
# simple (every statement parsed and planned again: how the results before 2026-12 were made).
PG_MODE = os.environ.get("BENCH_PGBENCH_MODE", "prepared")
# Rows each pgbench client may use in one run (distinct registrations, pre-made orders): enough
# for 1,000 transactions per second per client; a client that runs out aborts the run.
SQL_PER_CLIENT = int(os.environ.get("BENCH_ORDERS_SQL_PER_CLIENT", str(1000 * SECONDS)))
# Notifications ready for each app run: enough for 2,000 per second. A run that uses them all
# up measures the pool, not the app, so its result is marked invalid (see "warnings").
NOTIFY_POOL = int(os.environ.get("BENCH_ORDERS_NOTIFY_POOL", str(2000 * SECONDS)))
# Signed unifiedorder bodies for each baseline run: enough for 4,000 per second (same rule).
UNIFIEDORDER_POOL = int(os.environ.get("BENCH_ORDERS_UNIFIEDORDER_POOL", str(4000 * SECONDS)))
GOAL_CREATION_RATIO = 0.25
GOAL_NOTIFY_RATIO = 0.35
# The business clock of every process the benchmark starts: inside the demo policy's collection
# window (2019-09-01 .. 2019-12-31), so orders are priceable; the anchor is set at start.
CLOCK_START = "2019-11-20T09:00:00+08:00"
SQL_OPENID = "bench-sql"  # the payer of the bare SQL orders (as in SQL_CREATE), told apart by it
DESCRIPTION = "城乡居民医疗保险缴费"  # what the app writes for one medical registration
HERE = Path(__file__).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")

# -- the bare SQL transactions ---------------------------------------------------------------
# Each is the statements backend/orders/creation.py (_INSERT_ORDER, _INSERT_ITEM, _HOLD,
# _AUDIT_CREATED) and backend/orders/crediting.py (_PAY, _CREDIT_REGISTRATIONS,
# _ENQUEUE_LEDGER_PAYMENTS, _AUDIT_PAID) run, with pgbench's variables as their parameters. Run
# as prepared statements (pgbench -M prepared), as psycopg runs the app's after a few uses: the
# bare SQL pays no parse and plan per statement that the app does not pay either. pgbench reads
# :name inside quotes too, so text is concatenated ('openid:' || ...), and <:name> marks a text
# variable (pgbench_script: a parameter when prepared, a quoted literal in simple mode).

SQL_CREATE = """\
\\set i :i + 1
\\set reg :reg_base + :client_id * :per_client + :i - 1
BEGIN;
INSERT INTO payment_order (order_no, openid, idempotency_key, request_hash, trade_type, status,
    total_fen, description, client_ip, expires_at, next_check_at, county_code, created_at,
    updated_at)
  SELECT 'BC' || :run || '-' || :client_id || '-' || :i, 'bench-sql',
    'bc-' || :run || '-' || :client_id || '-' || :i, md5('a' || :reg) || md5('b' || :reg),
    'JSAPI', 'created', 25000, '城乡居民医疗保险缴费', '127.0.0.1', now() + interval '30 minutes',
    now() + interval '5 minutes', substr(village_code, 1, 6) || '000000', now(), now()
  FROM registration WHERE id = :reg
  RETURNING id AS order_id, order_no, county_code \\gset
INSERT INTO order_item (order_id, registration_id, held_registration_id, scheme, period_year,
    grade_yuan, amount_fen, gov_paid_fen, contribution_subsidy_fen)
  VALUES (:order_id, :reg, :reg, 'medical', 2020, NULL, 25000, 0, 0)
  RETURNING id;
UPDATE registration SET status = 'pending', updated_at = now()
  WHERE id IN (SELECT registration_id FROM order_item WHERE order_id = :order_id)
    AND status = 'unpaid'
  RETURNING id;
INSERT INTO audit_entry (occurred_at, actor, action, region_code, target, detail)
  VALUES (now(), 'openid:' || 'bench-sql', 'order.create', <:county_code>, <:order_no>,
    CAST('{"total_fen": 25000, "registrations": 1, "trade_type": "JSAPI"}' AS json))
  RETURNING id;
COMMIT;
"""

SQL_NOTIFY = """\
\\set i :i + 1
BEGIN;
UPDATE payment_order SET status = 'paid',
    transaction_id = 'BT' || :run || '-' || :client_id || '-' || :i,
    paid_at = now(), paid_fen = 25000, updated_at = now()
  WHERE order_no = 'BN' || :run || '-' || :client_id || '-' || :i AND total_fen = 25000
    AND status = 'created'
  RETURNING id AS order_id, order_no, transaction_id, county_code \\gset
UPDATE registration SET status = 'paid', paid_channel = 'wechat_miniprogram', updated_at = now()
  WHERE id IN (SELECT registration_id FROM order_item WHERE order_id = :order_id)
    AND (status = 'pending' OR status = 'unpaid')
  RETURNING id;
INSERT INTO progress_change (day, village_code, scheme, period_year, channel, registered, paid,
    paid_fen, gov_paid_fen, entered)
  SELECT CAST(now() AS date), r.village_code, r.scheme, r.period_year, 'wechat_miniprogram', 0, 1,
    i.amount_fen, i.gov_paid_fen, 0
  FROM order_item i JOIN registration r ON r.id = i.held_registration_id
  WHERE i.order_id = :order_id;
INSERT INTO ledger_message (message_id, kind, registration_id, order_item_id, status, attempts,
    next_attempt_at, created_at, updated_at)
  SELECT 'pay-' || CAST(id AS VARCHAR), 'payment', registration_id, id, 'pending', 0, now(),
    now(), now()
  FROM order_item WHERE order_id = :order_id;
INSERT INTO audit_entry (occurred_at, actor, action, region_code, target, detail)
  VALUES (now(), 'wechat:' || 'notify', 'order.paid', <:county_code>, <:order_no>,
    CAST('{"transaction_id": "' || <:transaction_id> || '", "paid_fen": 25000, "reason": "paid"}'
      AS json))
  RETURNING id;
COMMIT;
"""


def pgbench_script(sql: str) -> str:
    """The script for PG_MODE: <:name> becomes :name (prepared) or ':name' (simple)."""
    quote = "'" if PG_MODE == "simple" else ""
    return re.sub(r"<:(\w+)>", rf"{quote}:\1{quote}", sql)


# Extra registrations, one block: the enrollees again, in period years no policy covers.
EXTRA_REGISTRATIONS = """
INSERT INTO registration (ref, enrollee_id, scheme, period_year, collection_no, village_code,
                          status, created_at, updated_at)
SELECT 'X' || lpad(g::text, 12, '0'), e.id, 'medical', 3000 + g / n.n,
       'X' || lpad(g::text, 12, '0'), e.village_code, 'unpaid', now(), now()
FROM generate_series(0, CAST(:count AS int) - 1) g
CROSS JOIN (SELECT count(*) AS n FROM enrollee) n
JOIN (SELECT id, village_code, row_number() OVER (ORDER BY id) - 1 AS k FROM enrollee) e
  ON e.k = g % n.n
ORDER BY g
"""


def main() -> dict:
    RESULTS.mkdir(parents=True, exist_ok=True)
    require_tool("wrk")
    pgbench = require_tool("pgbench", "postgresql-client")
    sql_rows = PG_CLIENTS * SQL_PER_CLIENT
    anchor = str(int(time.time()))
    clock = clock_from_settings(CLOCK_START, anchor, live=False)
    with fresh_database("cc_bench_orders") as url:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "ORDER_LIMIT_PER_OPENID": "100000000 per minute",
            # One user makes every order of the load, none of them paid.
            "OPEN_ORDERS_PER_RESIDENT": "100000000",
            "LOG_LEVEL": "WARNING",
            # One business clock for the app and the fake platform (and the bodies signed here).
            "APP_CLOCK_START": CLOCK_START,
            "APP_CLOCK_ANCHOR": anchor,
        }
        log(f"seeding {PEOPLE:,} people")
        seed_demo(env, PEOPLE)
        db = Database(url)
        slices = db.order_refs(RUNS + 1)
        log(f"{sum(len(s) for s in slices):,} priceable registrations for the app's orders")
        extra_base = db.add_extra_registrations(sql_rows + (RUNS + 1) * NOTIFY_POOL)
        sql_base, copy_base = extra_base, extra_base + sql_rows
        scripts = {
            "create": RESULTS / "orders-sql-create.sql",
            "notify": RESULTS / "orders-sql-notify.sql",
        }
        scripts["create"].write_text(pgbench_script(SQL_CREATE), encoding="utf-8")
        scripts["notify"].write_text(pgbench_script(SQL_NOTIFY), encoding="utf-8")

        wx_port, api_port = free_port(), free_port()
        api, wx = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{wx_port}"
        env["FAKE_WECHAT_URL"] = f"{wx}/"
        env["PUBLIC_BASE_URL"] = api
        app_log = RESULTS / "orders-gunicorn.log"
        app_log.unlink(missing_ok=True)
        with (
            background(
                [str(BIN / "python"), "-m", "fakes.wechat", "--port", str(wx_port)],
                env,
                wait_url=f"{wx}/_control/health",
            ) as fake,
            background(
                [
                    str(BIN / "gunicorn"),
                    "-w",
                    WORKERS,
                    "-b",
                    f"127.0.0.1:{api_port}",
                    "backend:create_app()",
                ],
                env,
                wait_url=f"{api}/healthz",
                log_file=app_log,
            ) as app,
        ):
            login = post_json(f"{wx}/_control/login", {"user": "bench"})
            token = post_json(f"{api}/api/mp/v1/session", {"code": login["code"]})["token"]
            openid = login["openid"]
            secret = env.get("SECRET_KEY") or Config().SECRET_KEY
            procs = {"gunicorn": app.pid, "fake_wechat": fake.pid, "postgres": db.postmaster()}
            sql_procs = {"postgres": procs["postgres"]}
            notices = Notices(openid, clock)
            trades = UnifiedOrders(openid, api + NOTIFY_PATH, clock)
            copies, template = 0, None
            rounds = []
            for run in range(RUNS + 1):
                seconds = WARMUP_SECONDS if run == 0 else SECONDS
                log("warming up" if run == 0 else f"run {run} of {RUNS}")
                one = {}
                db.reset_sql_pool(sql_base, sql_rows, "unpaid")
                one["sql_create"] = run_pgbench(
                    pgbench,
                    url,
                    scripts["create"],
                    seconds,
                    sql_procs,
                    run=run,
                    reg_base=sql_base,
                    per_client=SQL_PER_CLIENT,
                )
                one["sql_create"]["rows_changed"] = db.count_sql_pool(sql_base, sql_rows, "pending")
                bodies = RESULTS / "orders-unifiedorder.txt"
                bodies.write_text(
                    "".join(f"{b}\n" for b in trades.build(run, UNIFIEDORDER_POOL)),
                    encoding="utf-8",
                )
                one["wx_unifiedorder"] = run_wrk(
                    wx,
                    "signed_xml.lua",
                    seconds,
                    procs,
                    "unifiedorder-result",
                    {
                        "BENCH_BODIES": str(bodies),
                        "BENCH_PATH": "/pay/unifiedorder",
                        "BENCH_SUCCESS": "<result_code><![CDATA[SUCCESS]]></result_code>",
                        "BENCH_LABEL": "unifiedorder",
                    },
                )
                refs = RESULTS / "orders-refs.txt"
                # As the user's lookups would have granted them (backend.orders.grants).
                refs.write_text(
                    "".join(f"{grant(secret, openid, r)}\n" for r in slices[run]),
                    encoding="utf-8",
                )
                one["app_create"] = run_wrk(
                    api,
                    "orders.lua",
                    seconds,
                    procs,
                    "orders-result",
                    {
                        "BENCH_TOKEN": token,
                        "BENCH_REFS": str(refs),
                        "BENCH_KEY_PREFIX": f"bench-r{run}",
                    },
                )
                if run == 0 and one["app_create"]["good"] == 0:
                    raise SystemExit(
                        "the app created no order during the warm-up (answers: "
                        f"{one['app_create']['statuses']}); see {app_log}"
                    )
                db.reset_sql_pool(sql_base, sql_rows, "pending")
                db.add_sql_notify_orders(run, sql_base)
                one["sql_notify"] = run_pgbench(
                    pgbench, url, scripts["notify"], seconds, sql_procs, run=run
                )
                one["sql_notify"]["rows_changed"] = db.count_sql_pool(sql_base, sql_rows, "paid")
                if template is None:
                    template = db.template_order(openid)
                copies += db.top_up_orders_to_pay(openid, template, copy_base, copies)
                notice_file = RESULTS / "orders-notices.txt"
                notice_file.write_text(
                    "".join(f"{n}\n" for n in notices.build(db.orders_to_pay(openid))),
                    encoding="utf-8",
                )
                one["app_notify"] = run_wrk(
                    api,
                    "signed_xml.lua",
                    seconds,
                    procs,
                    "notify-result",
                    {
                        "BENCH_BODIES": str(notice_file),
                        "BENCH_PATH": "/api/payments/wechat/notify",
                        "BENCH_SUCCESS": "<return_code><![CDATA[SUCCESS]]></return_code>",
                        "BENCH_LABEL": "notify",
                    },
                )
                one["create_baseline"] = {"per_s": baseline_rate(one)}
                log("  ".join(f"{name} {rate(result):.0f}/s" for name, result in one.items()))
                rounds.append(one)
        # gunicorn has stopped (finishing the requests it had): nothing changes any more.
        checks = db.checks(openid)
        db.dispose()
    checks["success_answers"] = sum(r["app_notify"]["successes"] for r in rounds)
    # Requests still in flight when wrk stops are credited without wrk reading the answer.
    checks["credited_after_wrk_stopped"] = checks["app_orders_paid"] - checks["success_answers"]
    checks["app_log_errors"] = app_log_errors(app_log)
    # Each bare SQL transaction must have moved its registration (its guarded update matched).
    checks["sql_transactions_without_their_update"] = sum(
        r[name]["transactions"] - r[name]["rows_changed"]
        for r in rounds
        for name in ("sql_create", "sql_notify")
    )
    checks["sql_failed_transactions"] = sum(
        r[name]["failed"] for r in rounds for name in ("sql_create", "sql_notify")
    )
    return summarize(rounds[1:], rounds[0], checks, copies)


# -- results ------------------------------------------------------------------------------


def rate(result: dict) -> float:
    """Transactions per second (pgbench), accepted answers per second (wrk: orders answered 201,
    notifications credited, unifiedorder calls answered SUCCESS), or a baseline's rate."""
    for key in ("tps", "good_per_s", "per_s"):
        if key in result:
            return result[key]
    return 0.0


def baseline_rate(one: dict) -> float:
    """Orders per second of the creation baseline: the bare SQL of an order and one bare
    unifiedorder round trip, their times per order added (see the module's docstring)."""
    sql, unifiedorder = rate(one["sql_create"]), rate(one["wx_unifiedorder"])
    if sql <= 0 or unifiedorder <= 0:
        return 0.0
    return 1 / (1 / sql + 1 / unifiedorder)


def summarize(runs: list[dict], warmup: dict, checks: dict, copies: int) -> dict:
    def rates(name: str) -> list[float]:
        return [rate(r[name]) for r in runs]

    def invalid_runs(*names: str) -> list[int]:
        return [n for n, r in enumerate(runs, 1) if any(r[name]["warnings"] for name in names)]

    def app_side(app: str, good: str) -> dict:
        statuses = _sum_statuses(runs, app)
        return {
            "app_p99_ms_runs": [r[app]["p99_ms"] for r in runs],
            "app_statuses": statuses,
            f"app_not_{good}": sum(r[app]["requests"] - r[app]["good"] for r in runs),
            "app_non_2xx": sum(c for s, c in statuses.items() if not s.startswith("2")),
        }

    def cpu(name: str) -> dict[str, float]:
        return {
            part: round(median([r[name]["cpu_ms_per_request"][part] for r in runs]), 3)
            for part in runs[0][name]["cpu_ms_per_request"]
        }

    def steal(*names: str) -> dict[str, list[float]]:
        return {name: [r[name]["steal_pct"] for r in runs] for name in names}

    def ratios(app_rates: list[float], base_rates: list[float]) -> dict:
        per_run = [a / b if b else 0.0 for a, b in zip(app_rates, base_rates, strict=True)]
        return {
            "ratio_per_run": [round(x, 4) for x in per_run],
            "ratio_median_of_runs": round(median(per_run), 4),
            "ratio_of_medians": round(median(app_rates) / median(base_rates), 4),
        }

    sql_create, unifiedorder = rates("sql_create"), rates("wx_unifiedorder")
    baseline, app_create = rates("create_baseline"), rates("app_create")
    sql_notify, app_notify = rates("sql_notify"), rates("app_notify")
    create = {
        "measured": "app: POST /api/mp/v1/orders answered 201 per second, one registration "
        "each, including one unifiedorder call to the fake WeChat platform and a second "
        "commit (prepay_id); baseline: 1 / (1/sql + 1/unifiedorder) orders per second, where "
        "sql is pgbench's rate of the order's bare SQL (order + item + guarded registration "
        "update + audit entry, one transaction) and unifiedorder the rate wrk sustains posting "
        "signed unifiedorder calls straight to the fake platform (result_code SUCCESS)",
        "app_per_s_median": round(median(app_create), 1),
        "baseline_per_s_median": round(median(baseline), 1),
        "sql_tps_median": round(median(sql_create)),
        "unifiedorder_per_s_median": round(median(unifiedorder)),
        "app_per_s_runs": [round(x, 1) for x in app_create],
        "baseline_per_s_runs": [round(x, 1) for x in baseline],
        "sql_tps_runs": [round(x) for x in sql_create],
        "unifiedorder_per_s_runs": [round(x) for x in unifiedorder],
        **ratios(app_create, baseline),
        # For comparison with earlier results (no goal): the app against the bare SQL alone.
        "ratio_to_sql_alone_median_of_runs": ratios(app_create, sql_create)["ratio_median_of_runs"],
        "unifiedorder_p99_ms_runs": [r["wx_unifiedorder"]["p99_ms"] for r in runs],
        "unifiedorder_statuses": _sum_statuses(runs, "wx_unifiedorder"),
        "sql_latency_ms_runs": [r["sql_create"]["latency_ms"] for r in runs],
        **app_side("app_create", "201"),
        "cpu_ms_per_request_median": {
            "app": cpu("app_create"),
            "unifiedorder": cpu("wx_unifiedorder"),
            "sql": cpu("sql_create"),
        },
        "steal_pct_runs": steal("sql_create", "wx_unifiedorder", "app_create"),
        "invalid_runs": invalid_runs("wx_unifiedorder", "app_create"),
    }
    notify = {
        "measured": "app: signed notifications answered SUCCESS per second, each a first "
        "delivery; sql: guarded order update + registration update + one ledger_message per "
        "registration + audit entry, one transaction",
        "app_per_s_median": round(median(app_notify), 1),
        "sql_tps_median": round(median(sql_notify)),
        "app_per_s_runs": [round(x, 1) for x in app_notify],
        "sql_tps_runs": [round(x) for x in sql_notify],
        **ratios(app_notify, sql_notify),
        "sql_latency_ms_runs": [r["sql_notify"]["latency_ms"] for r in runs],
        **app_side("app_notify", "success"),
        "cpu_ms_per_request_median": {"app": cpu("app_notify"), "sql": cpu("sql_notify")},
        "steal_pct_runs": steal("sql_notify", "app_notify"),
        "invalid_runs": invalid_runs("app_notify"),
        "orders_copied_by_sql_to_have_enough": copies,
    }
    creation_ratio = create["ratio_median_of_runs"]
    notify_ratio = notify["ratio_median_of_runs"]
    warnings = [
        f"{'warm-up' if n == 0 else f'run {n}'}: {w}"
        for n, r in enumerate([warmup, *runs])
        for one in r.values()
        for w in one.get("warnings", [])
    ]
    return {
        "creation_ratio": creation_ratio,
        "notify_ratio": notify_ratio,
        "goal_creation_ratio": GOAL_CREATION_RATIO,
        # None when a run was invalid (a load ran out of work, or the app refused requests):
        # the rate it gives is not a measurement of the app.
        "goal_creation_ratio_met": None
        if create["invalid_runs"]
        else creation_ratio >= GOAL_CREATION_RATIO,
        "goal_notify_ratio": GOAL_NOTIFY_RATIO,
        "goal_notify_ratio_met": None
        if notify["invalid_runs"]
        else notify_ratio >= GOAL_NOTIFY_RATIO,
        "no_double_credit": checks["targets_credited_twice"] == 0
        and checks["paid_orders_with_unpaid_registration"] == 0
        and checks["paid_items_without_one_ledger_message"] == 0,
        "people": PEOPLE,
        "runs": len(runs),
        "seconds_per_run": SECONDS,
        "warmup_seconds": WARMUP_SECONDS,
        "gunicorn_workers": int(WORKERS),
        "wrk_threads": WRK_THREADS,
        "wrk_connections": CONNECTIONS,
        "pgbench_clients": PG_CLIENTS,
        "pgbench_threads": PG_THREADS,
        "pgbench_mode": PG_MODE,
        "business_clock_start": CLOCK_START,
        "create": create,
        "notify": notify,
        "checks": checks,
        "warnings": warnings,
    }


def _sum_statuses(runs: list[dict], name: str) -> dict[str, int]:
    statuses: dict[str, int] = {}
    for r in runs:
        for status, count in r[name]["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    return statuses


def app_log_errors(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line for line in lines if re.search(r"\b(ERROR|CRITICAL)\b|Traceback", line)][:20]


# -- load generators ------------------------------------------------------------------------


def run_pgbench(
    pgbench: str, url: str, script: Path, seconds: int, procs: dict, **variables
) -> dict:
    target = make_url(url)
    args = [
        pgbench,
        "-n",
        "-f",
        str(script),
        "-c",
        str(PG_CLIENTS),
        "-j",
        str(PG_THREADS),
        "-M",
        PG_MODE,
        "-T",
        str(seconds),
        "-h",
        target.host or "127.0.0.1",
        "-p",
        str(target.port or 5432),
        "-U",
        target.username or "postgres",
        "-D",
        "i=0",
        *[f"-D{name}={value}" for name, value in variables.items()],
        target.database,
    ]
    pg_env = {**os.environ, **({"PGPASSWORD": target.password} if target.password else {})}
    cpu = CpuMeter(procs, client="pgbench")
    steal = StealMeter()
    out = subprocess.run(args, capture_output=True, text=True, env=pg_env)
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out.stdout)
    if tps is None or "aborted" in out.stderr:
        raise SystemExit(
            f"pgbench {script.name} failed (raise BENCH_ORDERS_SQL_PER_CLIENT if a client ran "
            f"out of rows):\n{out.stdout}\n{out.stderr}"
        )
    failed = re.search(r"number of failed transactions: (\d+)", out.stdout)
    transactions = int(re.search(r"actually processed: (\d+)", out.stdout).group(1))
    return {
        "tps": float(tps.group(1)),
        "latency_ms": float(re.search(r"latency average = ([\d.]+) ms", out.stdout).group(1)),
        "transactions": transactions,
        "failed": int(failed.group(1)) if failed else 0,
        "cpu_ms_per_request": cpu.stop(transactions),
        "steal_pct": steal.stop(),
    }


def run_wrk(base: str, script: str, seconds: int, procs: dict, marker: str, wrk_env: dict) -> dict:
    cpu = CpuMeter(procs)
    steal = StealMeter()
    out = wrk(
        base,
        HERE / script,
        duration=seconds,
        connections=CONNECTIONS,
        env={**wrk_env, "BENCH_WRK_THREADS": str(WRK_THREADS)},
    )
    steal_pct = steal.stop()
    report = json.loads(re.search(rf"^{marker} (.*)$", out["raw"], re.M).group(1))
    statuses = report["statuses"]
    requests = sum(statuses.values())
    good = report.get("successes", statuses.get("201", 0))
    warnings = []
    if any(report.get(f"threads_out_of_{what}") for what in ("refs", "bodies")):
        warnings.append(f"{script}: a wrk thread ran out of work; its rate is too low")
    elif good < requests:
        warnings.append(
            f"{script}: {requests - good} of {requests} answers not accepted {statuses}"
        )
    return {
        "rps": out["rps"],
        "good_per_s": out["rps"] * good / requests if requests else 0.0,
        "p99_ms": out["p99_ms"],
        "requests": requests,
        "good": good,
        "statuses": statuses,
        "successes": good,
        "cpu_ms_per_request": cpu.stop(requests),
        "steal_pct": steal_pct,
        "warnings": warnings,
    }


def post_json(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def beijing_compact(clock: Clock, later: timedelta = timedelta()) -> str:
    """The business clock's time (plus `later`) as WeChat writes it: '20191120090000'."""
    return compact_text(clock.now() + later)


class Notices:
    """WeChat Pay's payment notifications for our orders, signed with the merchant key."""

    def __init__(self, openid: str, clock: Clock) -> None:
        self.cfg = Config()
        self.openid = openid
        self.clock = clock
        self.count = 0

    def build(self, orders: list[tuple[str, int]]) -> list[str]:
        time_end = beijing_compact(self.clock)
        bodies = []
        for order_no, total_fen in orders:
            self.count += 1
            data = {
                "return_code": "SUCCESS",
                "appid": self.cfg.WECHAT_APPID,
                "mch_id": self.cfg.WECHAT_MCH_ID,
                "nonce_str": f"bench{self.count:010d}",
                "result_code": "SUCCESS",
                "openid": self.openid,
                "trade_type": "JSAPI",
                "bank_type": "OTHERS",
                "fee_type": "CNY",
                "time_end": time_end,
                "out_trade_no": order_no,
                "total_fee": str(total_fen),
                "cash_fee": str(total_fen),
                "transaction_id": f"4200{self.count:024d}",
            }
            xml = dict_to_xml(data, calculate_signature(data, self.cfg.WECHAT_API_KEY))
            bodies.append(xml.replace("\n", ""))  # one a line for signed_xml.lua
        return bodies


class UnifiedOrders:
    """Signed pay/unifiedorder calls with the fields the app's WeChat client sends for a JSAPI
    order of one medical registration (MD5-signed with the merchant key), each with a new
    out_trade_no."""

    def __init__(self, openid: str, notify_url: str, clock: Clock) -> None:
        self.cfg = Config()
        self.openid = openid
        self.notify_url = notify_url
        self.clock = clock

    def build(self, run: int, count: int) -> list[str]:
        time_start = beijing_compact(self.clock)
        time_expire = beijing_compact(self.clock, timedelta(seconds=self.cfg.ORDER_TTL_SECONDS))
        bodies = []
        for n in range(count):
            data = {
                "appid": self.cfg.WECHAT_APPID,
                "mch_id": self.cfg.WECHAT_MCH_ID,
                "nonce_str": secrets.token_hex(16),
                "body": DESCRIPTION,
                "out_trade_no": f"BU{run:04d}{n:020d}",  # 26 characters, as the app's
                "total_fee": 25000,
                "spbill_create_ip": "127.0.0.1",
                "time_start": time_start,
                "time_expire": time_expire,
                "notify_url": self.notify_url,
                "trade_type": "JSAPI",
                "openid": self.openid,
            }
            xml = dict_to_xml(data, calculate_signature(data, self.cfg.WECHAT_API_KEY))
            bodies.append(xml.replace("\n", ""))  # one a line for signed_xml.lua
        return bodies


# -- where the time goes ----------------------------------------------------------------------


def _proc_stat(pid: int | str) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2 :].split()  # fields from the third on (state, ppid, ...)


def _comm(pid: int | str) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _cpu_s(fields: list[str]) -> float:
    # utime + stime + the same of its children that ended (reaped): cutime + cstime
    return sum(int(fields[k]) for k in (11, 12, 13, 14)) / CLK_TCK


class CpuMeter:
    """CPU milliseconds, per request or transaction, of each process tree in `procs` (a root and
    its children: gunicorn's master and workers, the fake platform, the PostgreSQL server's
    postmaster and backends) and of the load generator (`client`: wrk or pgbench), while a load
    runs. A child that ended meanwhile (a pgbench connection's backend) is counted through its
    parent's time of reaped children. PostgreSQL's share includes whatever else the server did
    meanwhile (other databases too)."""

    def __init__(self, procs: dict[str, int], client: str = "wrk") -> None:
        self.procs = procs
        self.client = client
        self.start = self._sample()
        self.children = _children_cpu()

    def _sample(self) -> dict[tuple[str, int], float]:
        found = {}
        for pid in (p for p in os.listdir("/proc") if p.isdigit()):
            fields = _proc_stat(pid)
            if fields is None:
                continue
            for name, root in self.procs.items():
                if int(pid) == root or int(fields[1]) == root:
                    found[(name, int(pid))] = _cpu_s(fields)
        return found

    def stop(self, requests: int) -> dict[str, float]:
        end = self._sample()
        used = {name: 0.0 for name in self.procs}
        for (name, pid), seconds in end.items():
            used[name] += seconds - self.start.get((name, pid), 0.0)
        for (name, pid), seconds in self.start.items():
            if (name, pid) not in end:  # ended: its whole time is in its parent's children's
                used[name] -= seconds
        used[self.client] = _children_cpu() - self.children
        return {name: 1000 * s / max(requests, 1) for name, s in used.items()}


def _children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


class StealMeter:
    """The share of CPU time the hypervisor took (steal) while a load ran, in percent."""

    def __init__(self) -> None:
        self.start = self._read()

    @staticmethod
    def _read() -> list[int]:
        with open("/proc/stat") as f:
            return [int(x) for x in f.readline().split()[1:9]]

    def stop(self) -> float:
        delta = [b - a for a, b in zip(self.start, self._read(), strict=True)]
        return round(100 * delta[7] / max(sum(delta), 1), 1)


# -- the database -----------------------------------------------------------------------------


class Database:
    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        self.autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    def dispose(self) -> None:
        self.engine.dispose()

    def postmaster(self) -> int:
        """The PostgreSQL server's main process (the parent of every backend), when it runs on
        this machine; 0 (nothing measured) otherwise."""
        with self.engine.connect() as conn:
            backend = conn.scalar(text("SELECT pg_backend_pid()"))
        fields = _proc_stat(backend)
        if fields is None or _comm(backend) != "postgres" or _comm(fields[1]) != "postgres":
            return 0  # another machine's process numbers
        return int(fields[1])

    def order_refs(self, parts: int) -> list[list[str]]:
        """Unpaid medical registrations of people in no special group (never fully paid by the
        government, so always priceable), shuffled, in `parts` disjoint slices."""
        with self.engine.connect() as conn:
            refs = conn.scalars(
                text(
                    "SELECT r.ref FROM registration r WHERE r.scheme = 'medical' "
                    "AND r.status = 'unpaid' AND NOT EXISTS (SELECT 1 FROM "
                    "special_group_membership m WHERE m.enrollee_id = r.enrollee_id) "
                    "ORDER BY random()"
                )
            ).all()
        size = len(refs) // parts
        return [refs[k * size : (k + 1) * size] for k in range(parts)]

    def add_extra_registrations(self, count: int) -> int:
        """`count` registrations with consecutive ids; returns the first id."""
        with self.engine.begin() as conn:
            conn.execute(text(EXTRA_REGISTRATIONS), {"count": count})
            first, last, misplaced = conn.execute(
                text(
                    "SELECT min(id), max(id), count(*) FILTER (WHERE id - (SELECT min(id) "
                    "FROM registration WHERE ref LIKE 'X%') <> substr(ref, 2)::int) "
                    "FROM registration WHERE ref LIKE 'X%'"
                )
            ).one()
        if last - first + 1 != count or misplaced:
            raise SystemExit("the extra registrations did not get consecutive ids")
        self.vacuum()
        return first

    def vacuum(self) -> None:
        with self.autocommit.connect() as conn:
            conn.execute(
                text(
                    "VACUUM ANALYZE payment_order, order_item, registration, audit_entry, "
                    "ledger_message"
                )
            )

    def reset_sql_pool(self, base: int, rows: int, status: str) -> None:
        """Drop the bare SQL runs' orders and set their registrations to `status` (not timed)."""
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "DELETE FROM ledger_message WHERE order_item_id IN (SELECT i.id FROM "
                    "order_item i JOIN payment_order o ON o.id = i.order_id "
                    "WHERE o.openid = :openid)"
                ),
                {"openid": SQL_OPENID},
            )
            conn.execute(
                text(
                    "DELETE FROM order_item WHERE order_id IN "
                    "(SELECT id FROM payment_order WHERE openid = :openid)"
                ),
                {"openid": SQL_OPENID},
            )
            conn.execute(
                text("DELETE FROM payment_order WHERE openid = :openid"), {"openid": SQL_OPENID}
            )
            conn.execute(
                text(
                    "UPDATE registration SET status = :status, updated_at = now() "
                    "WHERE id BETWEEN :first AND :last AND status <> :status"
                ),
                {"status": status, "first": base, "last": base + rows - 1},
            )
        self.vacuum()

    def count_sql_pool(self, base: int, rows: int, status: str) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(
                text(
                    "SELECT count(*) FROM registration "
                    "WHERE id BETWEEN :first AND :last AND status = :status"
                ),
                {"status": status, "first": base, "last": base + rows - 1},
            )

    def add_sql_notify_orders(self, run: int, base: int) -> None:
        """'created' orders BN<run>-<client>-<i>, each holding its own registration."""
        spec = {"run": run, "clients": PG_CLIENTS - 1, "per": SQL_PER_CLIENT, "base": base}
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO payment_order (order_no, openid, idempotency_key, request_hash, "
                    "trade_type, status, total_fen, description, client_ip, expires_at, "
                    "next_check_at, county_code, created_at, updated_at) "
                    "SELECT 'BN' || :run || '-' || c || '-' || i, :openid, "
                    "'bn-' || :run || '-' || c || '-' || i, md5('a' || c || '-' || i) || "
                    "md5('b' || c || '-' || i), 'JSAPI', 'created', 25000, :description, "
                    "'127.0.0.1', now() + interval '30 minutes', now() + interval '5 minutes', "
                    "substr(r.village_code, 1, 6) || '000000', now(), now() "
                    "FROM generate_series(0, CAST(:clients AS int)) c "
                    "CROSS JOIN generate_series(1, CAST(:per AS int)) i "
                    "JOIN registration r ON r.id = :base + c * :per + i - 1 "
                    "ORDER BY c, i"
                ),
                {**spec, "openid": SQL_OPENID, "description": DESCRIPTION},
            )
            conn.execute(
                text(
                    "INSERT INTO order_item (order_id, registration_id, held_registration_id, "
                    "scheme, period_year, grade_yuan, amount_fen, gov_paid_fen, "
                    "contribution_subsidy_fen) "
                    "SELECT o.id, :base + c * :per + i - 1, :base + c * :per + i - 1, "
                    "'medical', 2020, NULL, 25000, 0, 0 "
                    "FROM generate_series(0, CAST(:clients AS int)) c "
                    "CROSS JOIN generate_series(1, CAST(:per AS int)) i "
                    "JOIN payment_order o ON o.order_no = 'BN' || :run || '-' || c || '-' || i"
                ),
                spec,
            )
        self.vacuum()

    def template_order(self, openid: str) -> int:
        """An order the app made, the model of the copies."""
        with self.engine.connect() as conn:
            found = conn.scalar(
                text(
                    "SELECT min(id) FROM payment_order WHERE openid = :openid "
                    "AND status = 'created' AND prepay_id IS NOT NULL"
                ),
                {"openid": openid},
            )
        if found is None:
            raise SystemExit("the app created no order during the warm-up")
        return found

    def top_up_orders_to_pay(self, openid: str, template: int, base: int, made: int) -> int:
        """Copy the template order (with its item, hold and audit entry) until NOTIFY_POOL orders
        wait for payment, each holding one of the registrations from `base` + `made` on."""
        with self.engine.begin() as conn:
            waiting = conn.scalar(
                text(
                    "SELECT count(*) FROM payment_order WHERE openid = :openid "
                    "AND status = 'created'"
                ),
                {"openid": openid},
            )
            count = max(NOTIFY_POOL - waiting, 0)
            if count == 0:
                return 0
            spec = {"template": template, "first": made, "last": made + count - 1, "base": base}
            conn.execute(
                text(
                    "INSERT INTO payment_order (order_no, openid, idempotency_key, request_hash, "
                    "trade_type, status, total_fen, description, client_ip, expires_at, "
                    "next_check_at, county_code, prepay_id, pay_params, created_at, updated_at) "
                    "SELECT 'SB' || lpad(g::text, 24, '0'), t.openid, 'copy-' || g, "
                    "t.request_hash, t.trade_type, 'created', t.total_fen, t.description, "
                    "t.client_ip, t.expires_at, t.next_check_at, "
                    "substr(r.village_code, 1, 6) || '000000', t.prepay_id, t.pay_params, "
                    "t.created_at, t.updated_at "
                    "FROM generate_series(CAST(:first AS int), CAST(:last AS int)) g "
                    "JOIN registration r ON r.id = :base + g "
                    "CROSS JOIN payment_order t WHERE t.id = :template ORDER BY g"
                ),
                spec,
            )
            conn.execute(
                text(
                    "INSERT INTO order_item (order_id, registration_id, held_registration_id, "
                    "scheme, period_year, grade_yuan, amount_fen, gov_paid_fen, "
                    "contribution_subsidy_fen) "
                    "SELECT o.id, :base + g, :base + g, t.scheme, t.period_year, t.grade_yuan, "
                    "t.amount_fen, t.gov_paid_fen, t.contribution_subsidy_fen "
                    "FROM generate_series(CAST(:first AS int), CAST(:last AS int)) g "
                    "JOIN payment_order o ON o.order_no = 'SB' || lpad(g::text, 24, '0') "
                    "CROSS JOIN order_item t WHERE t.order_id = :template"
                ),
                spec,
            )
            conn.execute(
                text(
                    "UPDATE registration SET status = 'pending', updated_at = now() "
                    "WHERE id BETWEEN :base + :first AND :base + :last"
                ),
                spec,
            )
            conn.execute(
                text(
                    "INSERT INTO audit_entry (occurred_at, actor, action, region_code, target, "
                    "detail) SELECT t.created_at, 'openid:' || :openid, 'order.create', "
                    "o.county_code, o.order_no, "
                    "json_build_object('total_fen', t.total_fen, 'registrations', 1, "
                    "'trade_type', t.trade_type) "
                    "FROM generate_series(CAST(:first AS int), CAST(:last AS int)) g "
                    "JOIN payment_order o ON o.order_no = 'SB' || lpad(g::text, 24, '0') "
                    "CROSS JOIN payment_order t WHERE t.id = :template"
                ),
                {**spec, "openid": openid},
            )
        self.vacuum()
        return count

    def orders_to_pay(self, openid: str) -> list[tuple[str, int]]:
        """The payer's unpaid orders, those the app made first, then the copies."""
        with self.engine.connect() as conn:
            return [
                (no, fen)
                for no, fen in conn.execute(
                    text(
                        "SELECT order_no, total_fen FROM payment_order WHERE openid = :openid "
                        "AND status = 'created' ORDER BY order_no LIKE 'SB%', id LIMIT :limit"
                    ),
                    {"openid": openid, "limit": NOTIFY_POOL},
                )
            ]

    def checks(self, openid: str) -> dict:
        """Credited once: one order.paid audit entry per order, and paid orders' registrations
        paid."""
        with self.engine.connect() as conn:

            def one(sql: str) -> int:
                return conn.scalar(text(sql), {"openid": openid})

            return {
                "app_orders_created": one(
                    "SELECT count(*) FROM payment_order WHERE openid = :openid "
                    "AND order_no LIKE 'SI%'"
                ),
                "app_orders_paid": one(
                    "SELECT count(*) FROM payment_order WHERE openid = :openid AND status = 'paid'"
                ),
                "app_orders_paid_audited": one(
                    "SELECT count(DISTINCT a.target) FROM audit_entry a JOIN payment_order o "
                    "ON o.order_no = a.target WHERE a.action = 'order.paid' "
                    "AND o.openid = :openid"
                ),
                "targets_credited_twice": one(
                    "SELECT count(*) FROM (SELECT target FROM audit_entry "
                    "WHERE action = 'order.paid' GROUP BY target HAVING count(*) > 1) twice"
                ),
                "paid_orders_with_unpaid_registration": one(
                    "SELECT count(*) FROM payment_order o JOIN order_item i ON i.order_id = o.id "
                    "JOIN registration r ON r.id = i.registration_id "
                    "WHERE o.openid = :openid AND o.status = 'paid' AND r.status <> 'paid'"
                ),
                "paid_items_without_one_ledger_message": one(
                    "SELECT count(*) FROM payment_order o JOIN order_item i ON i.order_id = o.id "
                    "WHERE o.openid = :openid AND o.status = 'paid' AND (SELECT count(*) "
                    "FROM ledger_message m WHERE m.order_item_id = i.id "
                    "AND m.kind = 'payment') <> 1"
                ),
                "app_orders_not_paid_status": one(
                    "SELECT count(*) FROM payment_order WHERE openid = :openid "
                    "AND status NOT IN ('created', 'paid')"
                ),
            }


if __name__ == "__main__":
    outcome = main()
    (RESULTS / "orders.json").write_text(
        json.dumps(outcome, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(json.dumps(outcome, indent=2, ensure_ascii=False))
    sys.exit(0)

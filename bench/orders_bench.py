"""Order creation and payment-notification throughput under gunicorn on PostgreSQL, each beside a
pgbench run of the equivalent bare SQL transaction in the same run.

Goal (orders issue): payment notifications are credited at no less than 25% of the bare SQL rate.

Method: seed N people (default 20,000) into a fresh PostgreSQL database, add a block of extra
registrations by plain SQL (for the bare SQL runs and for orders to pay), start the fake WeChat
platform and gunicorn (2 sync workers, as the lookup benchmark), sign in once, then after a short
warm-up alternate, BENCH_RUNS times (default 3), 10 s each:

1. SQL create (pgbench, 8 clients): one transaction inserting a payment_order, its order_item
   holding a registration, the guarded registration update (unpaid -> pending) and the
   order.create audit entry: what create_order writes, with the same rows, indexes and constraints.
2. App create (wrk, 2 threads, 32 connections): POST /api/mp/v1/orders, each with a new
   Idempotency-Key and a priceable registration no order has used. Besides the pricing reads and
   that transaction, every order makes one unifiedorder call to the fake platform and a second
   commit storing the prepay_id and payment parameters: both are part of what is measured.
3. SQL notify (pgbench): one transaction doing the guarded update created -> paid by order_no,
   the update of its registration (through order_item) and the order.paid audit entry, on a pool
   of 'created' orders made before the run.
4. App notify (wrk): POST /api/payments/wechat/notify with correctly signed XML, each notification
   once, for the app's unpaid orders and, to have enough, SQL copies of an app-made order (same
   columns, item and registration hold). A credit is an answer carrying SUCCESS.

Rates are compared within each run (the machine is noisy): medians, the ratio of the medians and
the median of the per-run ratios. Afterwards the database must show every paid order credited once.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from wechatpy.pay.utils import calculate_signature, dict_to_xml

from backend.config import Config
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
# Rows each pgbench client may use in one run (distinct registrations, pre-made orders): enough
# for 1,000 transactions per second per client; a client that runs out aborts the run.
SQL_PER_CLIENT = int(os.environ.get("BENCH_ORDERS_SQL_PER_CLIENT", str(1000 * SECONDS)))
# Notifications ready for each app run: enough for 2,000 per second. A run that uses them all
# up measures the pool, not the app, so its result is marked invalid (see "warnings").
NOTIFY_POOL = int(os.environ.get("BENCH_ORDERS_NOTIFY_POOL", str(2000 * SECONDS)))
GOAL_NOTIFY_RATIO = 0.25
SQL_OPENID = "bench-sql"  # the payer of the bare SQL orders (as in SQL_CREATE), told apart by it
HERE = Path(__file__).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")

# -- the bare SQL transactions (pgbench substitutes :names, inside literals too) --------------

SQL_CREATE = """\
\\set i :i + 1
\\set reg :reg_base + :client_id * :per_client + :i - 1
BEGIN;
INSERT INTO payment_order (order_no, openid, idempotency_key, request_hash, trade_type, status,
    total_fen, description, client_ip, expires_at, created_at, updated_at)
  VALUES ('BC:run-:client_id-:i', 'bench-sql', 'bc-:run-:client_id-:i',
    md5('a:reg') || md5('b:reg'), 'JSAPI', 'created', 25000, '城乡居民医疗保险缴费',
    '127.0.0.1', now() + interval '30 minutes', now(), now())
  RETURNING id AS order_id \\gset
INSERT INTO order_item (order_id, registration_id, held_registration_id, scheme, period_year,
    grade_yuan, amount_fen, gov_paid_fen, contribution_subsidy_fen)
  VALUES (:order_id, :reg, :reg, 'medical', 2020, NULL, 25000, 0, 0);
UPDATE registration SET status = 'pending', updated_at = now()
  WHERE id IN (:reg) AND status = 'unpaid';
INSERT INTO audit_entry (occurred_at, actor, action, target, detail)
  VALUES (now(), 'openid:bench-sql', 'order.create', 'BC:run-:client_id-:i',
    '{"total_fen": 25000, "registrations": 1, "trade_type": "JSAPI"}');
COMMIT;
"""

SQL_NOTIFY = """\
\\set i :i + 1
BEGIN;
UPDATE payment_order SET status = 'paid', transaction_id = 'BT:run-:client_id-:i',
    paid_at = now(), paid_fen = 25000, status_reason = NULL, updated_at = now()
  WHERE order_no = 'BN:run-:client_id-:i' AND status = 'created'
  RETURNING id AS order_id \\gset
UPDATE registration SET status = 'paid', updated_at = now()
  WHERE id IN (SELECT registration_id FROM order_item WHERE order_id = :order_id)
    AND status IN ('pending', 'unpaid');
INSERT INTO audit_entry (occurred_at, actor, action, target, detail)
  VALUES (now(), 'wechat:notify', 'order.paid', 'BN:run-:client_id-:i',
    '{"transaction_id": "BT:run-:client_id-:i", "paid_fen": 25000, "reason": "paid"}');
COMMIT;
"""

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
    with fresh_database("cc_bench_orders") as url:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "ORDER_LIMIT_PER_OPENID": "100000000 per minute",
            "LOG_LEVEL": "WARNING",
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
        scripts["create"].write_text(SQL_CREATE, encoding="utf-8")
        scripts["notify"].write_text(SQL_NOTIFY, encoding="utf-8")

        wx_port, api_port = free_port(), free_port()
        api = f"http://127.0.0.1:{api_port}"
        env["FAKE_WECHAT_URL"] = f"http://127.0.0.1:{wx_port}/"
        env["PUBLIC_BASE_URL"] = api
        app_log = RESULTS / "orders-gunicorn.log"
        app_log.unlink(missing_ok=True)
        with (
            background(
                [str(BIN / "python"), "-m", "fakes.wechat", "--port", str(wx_port)],
                env,
                wait_url=f"http://127.0.0.1:{wx_port}/_control/health",
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
            login = post_json(f"http://127.0.0.1:{wx_port}/_control/login", {"user": "bench"})
            token = post_json(f"{api}/api/mp/v1/session", {"code": login["code"]})["token"]
            openid = login["openid"]
            procs = {"gunicorn": app.pid, "fake_wechat": fake.pid}
            notices = Notices(openid)
            copies, template = 0, None
            rounds = []
            for run in range(RUNS + 1):
                seconds = WARMUP_SECONDS if run == 0 else SECONDS
                log("warming up" if run == 0 else f"run {run}")
                one = {}
                db.reset_sql_pool(sql_base, sql_rows, "unpaid")
                one["sql_create"] = run_pgbench(
                    pgbench,
                    url,
                    scripts["create"],
                    seconds,
                    run=run,
                    reg_base=sql_base,
                    per_client=SQL_PER_CLIENT,
                )
                one["sql_create"]["rows_changed"] = db.count_sql_pool(sql_base, sql_rows, "pending")
                refs = RESULTS / "orders-refs.txt"
                refs.write_text("".join(f"{r}\n" for r in slices[run]), encoding="utf-8")
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
                db.reset_sql_pool(sql_base, sql_rows, "pending")
                db.add_sql_notify_orders(run, sql_base)
                one["sql_notify"] = run_pgbench(pgbench, url, scripts["notify"], seconds, run=run)
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
                    "notify.lua",
                    seconds,
                    procs,
                    "notify-result",
                    {"BENCH_NOTICES": str(notice_file)},
                )
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
    """Transactions per second (pgbench), orders answered 201 or notifications credited (wrk)."""
    return result.get("tps", result.get("good_per_s", 0.0))


def summarize(runs: list[dict], warmup: dict, checks: dict, copies: int) -> dict:
    def side(sql: str, app: str, good: str) -> dict:
        sql_rates = [rate(r[sql]) for r in runs]
        app_rates = [rate(r[app]) for r in runs]
        per_run = [a / s for a, s in zip(app_rates, sql_rates, strict=True)]
        statuses: dict[str, int] = {}
        for r in runs:
            for status, count in r[app]["statuses"].items():
                statuses[status] = statuses.get(status, 0) + count
        cpu = {
            name: round(median([r[app]["cpu_ms_per_request"][name] for r in runs]), 2)
            for name in runs[0][app]["cpu_ms_per_request"]
        }
        return {
            "sql_tps_median": round(median(sql_rates)),
            "app_per_s_median": round(median(app_rates), 1),
            "sql_tps_runs": [round(x) for x in sql_rates],
            "app_per_s_runs": [round(x, 1) for x in app_rates],
            "ratio_app_to_sql": round(median(app_rates) / median(sql_rates), 4),
            "ratio_per_run": [round(x, 4) for x in per_run],
            "ratio_median_of_runs": round(median(per_run), 4),
            "app_p99_ms_runs": [r[app]["p99_ms"] for r in runs],
            "sql_latency_ms_runs": [r[sql]["latency_ms"] for r in runs],
            "app_statuses": statuses,
            f"app_not_{good}": sum(r[app]["requests"] - r[app]["good"] for r in runs),
            "app_non_2xx": sum(c for s, c in statuses.items() if not s.startswith("2")),
            "app_cpu_ms_per_request_median": cpu,
            "steal_pct_runs": {
                "sql": [r[sql]["steal_pct"] for r in runs],
                "app": [r[app]["steal_pct"] for r in runs],
            },
        }

    create = side("sql_create", "app_create", "201")
    notify = side("sql_notify", "app_notify", "success")
    warnings = [w for r in [warmup, *runs] for one in r.values() for w in one.get("warnings", [])]
    return {
        "people": PEOPLE,
        "runs": len(runs),
        "seconds_per_run": SECONDS,
        "gunicorn_workers": int(WORKERS),
        "wrk_threads": WRK_THREADS,
        "wrk_connections": CONNECTIONS,
        "pgbench_clients": PG_CLIENTS,
        "pgbench_threads": PG_THREADS,
        "create": {
            "measured": "app: POST /api/mp/v1/orders answered 201 per second, one registration "
            "each, including one unifiedorder call to the fake WeChat platform and a second "
            "commit (prepay_id); sql: order + item + guarded registration update + audit entry, "
            "one transaction",
            **create,
        },
        "notify": {
            "measured": "app: signed notifications answered SUCCESS per second, each a first "
            "delivery; sql: guarded order update + registration update + audit entry, one "
            "transaction",
            **notify,
            "orders_copied_by_sql_to_have_enough": copies,
        },
        "goal_notify_ratio": GOAL_NOTIFY_RATIO,
        # None when a wrk thread ran out of work: the rate it gives is a floor, not a measurement.
        "goal_notify_ratio_met": None
        if warnings
        else notify["ratio_app_to_sql"] >= GOAL_NOTIFY_RATIO,
        "checks": checks,
        "no_double_credit": checks["targets_credited_twice"] == 0
        and checks["paid_orders_with_unpaid_registration"] == 0,
        "warnings": warnings,
    }


def app_log_errors(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line for line in lines if re.search(r"\b(ERROR|CRITICAL)\b|Traceback", line)][:20]


# -- load generators ------------------------------------------------------------------------


def run_pgbench(pgbench: str, url: str, script: Path, seconds: int, **variables) -> dict:
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
    steal = StealMeter()
    out = subprocess.run(args, capture_output=True, text=True, env=pg_env)
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out.stdout)
    if tps is None or "aborted" in out.stderr:
        raise SystemExit(
            f"pgbench {script.name} failed (raise BENCH_ORDERS_SQL_PER_CLIENT if a client ran "
            f"out of rows):\n{out.stdout}\n{out.stderr}"
        )
    failed = re.search(r"number of failed transactions: (\d+)", out.stdout)
    return {
        "tps": float(tps.group(1)),
        "latency_ms": float(re.search(r"latency average = ([\d.]+) ms", out.stdout).group(1)),
        "transactions": int(re.search(r"actually processed: (\d+)", out.stdout).group(1)),
        "failed": int(failed.group(1)) if failed else 0,
        "steal_pct": steal.stop(),
    }


def run_wrk(api: str, script: str, seconds: int, procs: dict, marker: str, wrk_env: dict) -> dict:
    cpu = CpuMeter(procs)
    steal = StealMeter()
    out = wrk(
        api,
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
    if report.get("threads_out_of_refs") or report.get("threads_out_of_notices"):
        warnings.append(f"{script}: a wrk thread ran out of work; its rate is too low")
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


class Notices:
    """WeChat Pay's payment notifications for our orders, signed with the merchant key."""

    def __init__(self, openid: str) -> None:
        self.cfg = Config()
        self.openid = openid
        self.count = 0

    def build(self, orders: list[tuple[str, int]]) -> list[str]:
        time_end = f"{datetime.now(UTC) + timedelta(hours=8):%Y%m%d%H%M%S}"
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
            bodies.append(xml.replace("\n", ""))  # one a line for notify.lua
        return bodies


# -- where the time goes ----------------------------------------------------------------------


def _proc_stat(pid: int | str) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2 :].split()  # fields from the third on (state, ppid, ...)


def _cpu_s(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


class CpuMeter:
    """CPU seconds, per request, of gunicorn (master and workers), the fake platform, PostgreSQL
    (every postgres process) and wrk, while wrk runs."""

    def __init__(self, procs: dict[str, int]) -> None:
        self.procs = procs
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
            try:
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                continue
            if comm == "postgres":
                found[("postgres", int(pid))] = _cpu_s(fields)
        return found

    def stop(self, requests: int) -> dict[str, float]:
        end = self._sample()
        used = {name: 0.0 for name in [*self.procs, "postgres"]}
        for (name, pid), seconds in end.items():
            used[name] += seconds - self.start.get((name, pid), 0.0)
        used["wrk"] = _children_cpu() - self.children
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
                text("VACUUM ANALYZE payment_order, order_item, registration, audit_entry")
            )

    def reset_sql_pool(self, base: int, rows: int, status: str) -> None:
        """Drop the bare SQL runs' orders and set their registrations to `status` (not timed)."""
        with self.engine.begin() as conn:
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
                    "created_at, updated_at) "
                    "SELECT 'BN' || :run || '-' || c || '-' || i, :openid, "
                    "'bn-' || :run || '-' || c || '-' || i, md5('a' || c || '-' || i) || "
                    "md5('b' || c || '-' || i), 'JSAPI', 'created', 25000, '城乡居民医疗保险缴费', "
                    "'127.0.0.1', now() + interval '30 minutes', now(), now() "
                    "FROM generate_series(0, CAST(:clients AS int)) c, generate_series(1, CAST(:per AS int)) i "
                    "ORDER BY c, i"
                ),
                {**spec, "openid": SQL_OPENID},
            )
            conn.execute(
                text(
                    "INSERT INTO order_item (order_id, registration_id, held_registration_id, "
                    "scheme, period_year, grade_yuan, amount_fen, gov_paid_fen, "
                    "contribution_subsidy_fen) "
                    "SELECT o.id, :base + c * :per + i - 1, :base + c * :per + i - 1, "
                    "'medical', 2020, NULL, 25000, 0, 0 "
                    "FROM generate_series(0, CAST(:clients AS int)) c CROSS JOIN generate_series(1, CAST(:per AS int)) i "
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
                    "prepay_id, pay_params, created_at, updated_at) "
                    "SELECT 'SB' || lpad(g::text, 24, '0'), t.openid, 'copy-' || g, "
                    "t.request_hash, t.trade_type, 'created', t.total_fen, t.description, "
                    "t.client_ip, now() + interval '30 minutes', t.prepay_id, t.pay_params, "
                    "now(), now() FROM generate_series(CAST(:first AS int), CAST(:last AS int)) g, payment_order t "
                    "WHERE t.id = :template ORDER BY g"
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
                    "INSERT INTO audit_entry (occurred_at, actor, action, target, detail) "
                    "SELECT now(), 'openid:' || :openid, 'order.create', "
                    "'SB' || lpad(g::text, 24, '0'), "
                    '\'{"total_fen": 25000, "registrations": 1, "trade_type": "JSAPI"}\' '
                    "FROM generate_series(CAST(:first AS int), CAST(:last AS int)) g"
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

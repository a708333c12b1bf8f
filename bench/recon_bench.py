"""Reconciling a day of 1,000,000 payments on PostgreSQL: the stored ALL bill against our orders,
beside polars reading the same bill file in the same run.

Aim (reconciliation issue): end to end, reconciling the day takes under 3x what polars takes just
to read the bill file, and the reconciling process peaks under 1.5 GB.

Method: a fresh, migrated database; N paid orders (default 1,000,000) of one Beijing day loaded
by COPY, with a few planted differences (not timed); the day's ALL bill written to a file in
WeChat's format (fakes.wechat.bill's columns and summary line, CRLF) with N payment rows and a few
refund rows, and its wechat_bill record. The planted differences: 4 payments WeChat took that we
hold as unpaid (lost notifications), 3 of our payments the bill lacks, one of ours billed on the
next day (not a difference), 3 amounts that differ, 2 duplicate payments (refund_due), 3 refunds
on both sides, one refund only in the bill and one only ours.

Then BENCH_RUNS times (default 3), alternating, each in a fresh process:
1. read: polars.read_csv of the file (comma-separated, no quoting, every column as text, the two
   summary lines left out), then every value's leading backtick stripped; and the same read alone.
2. reconcile: backend.recon.reconcile.reconcile_day for the day, as `flask reconcile` calls it
   (the app's unit of work, payment gateway and business clock; the gateway's read_bill hands it
   the bill as plain rows), with WeChat Pay pointed at a closed port: the 4 lost payments cannot
   be confirmed at WeChat and stay open, like every other planted difference.
Seconds are taken inside the process around the call (the process's wall time, with interpreter
start and imports, is given too); memory is the process's peak RSS. Every reconcile must report
exactly the planted differences and match everything else. A last process times the stages of
reconcile_day one by one: the bill read from its text (Path.read_text, then parse) and from its
file (parse_file; backend.payments.wechat.bill), our payments and our refunds
(backend.recon.our_records), matching.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from backend.infra import id_vault
from bench.common import BIN, RESULTS, fresh_database, log, median
from fakes.wechat.bill import COLUMNS, SUMMARY

ORDERS = int(os.environ.get("BENCH_RECON_ORDERS", "1000000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
AIM_RATIO = 3.0
AIM_PEAK_MB = 1536
DAY = date(2024, 3, 1)  # Beijing
TODAY = DAY + timedelta(days=1)  # reconciled the next day: a payment the bill lacks is held
DAY_START = datetime(2024, 2, 29, 16, 0, tzinfo=UTC)  # DAY's Beijing midnight
APPID, MCH_ID = "wxdemoappid000001", "1900000109"
VILLAGE = "410721100201"
COUNTY = VILLAGE[:6] + "000000"
REFUND_FEN = 5000


def order_no(n: int) -> str:
    return f"SIB{n:012d}"


def transaction_id(n: int) -> str:
    return f"42{n:026d}"


def amount(n: int) -> int:
    return 25000 + (n % 7) * 1000


def paid_at(n: int) -> datetime:
    return DAY_START + timedelta(microseconds=n * 86_400_000_000 // ORDERS)


class Plan:
    """Which orders carry a planted difference (by index among the N paid orders)."""

    def __init__(self, n: int) -> None:
        self.missing_in_bill = [n * k // 8 for k in (1, 2, 3)]
        self.billed_next_day = n * 4 // 8
        self.amount_mismatch = [n * k // 8 for k in (5, 6, 7)]
        self.duplicate = [11, 12]  # refund_due: a second payment for registrations paid before
        self.refunded = [21, 22, 23]  # a partial refund on both sides
        self.refund_ours_only = 24
        self.refund_bill_only = 25
        self.lost = [f"SIBX{k:011d}" for k in (1, 2, 3, 4)]  # paid at WeChat, unpaid with us

    def expected(self) -> set[tuple[str, str, str]]:
        """(kind, order_no, refund_no) of every difference reconcile must leave open."""
        found = {("missing_in_ours", number, "") for number in self.lost}
        found |= {("missing_in_bill", order_no(n), "") for n in self.missing_in_bill}
        found |= {("amount_mismatch", order_no(n), "") for n in self.amount_mismatch}
        found |= {("duplicate_payment", order_no(n), "") for n in self.duplicate}
        for n in (self.refund_ours_only, self.refund_bill_only):
            found.add(("status_mismatch", order_no(n), refund_no(n)))
        return found

    def expected_matched(self, bill_payments: int) -> int:
        unmatched = len(self.lost) + len(self.amount_mismatch) + len(self.duplicate)
        return bill_payments - unmatched + len(self.refunded)


def refund_no(n: int) -> str:
    return f"R{order_no(n)}"


# --- the database -----------------------------------------------------------------------------

ORDER_COLUMNS = (
    "order_no, openid, idempotency_key, request_hash, trade_type, status, total_fen, "
    "description, client_ip, expires_at, transaction_id, paid_at, paid_fen, billed_on, "
    "next_check_at, county_code, created_at, updated_at"
)


def load_orders(url: str, plan: Plan) -> None:
    """N paid orders of DAY and the 4 unpaid ones, by COPY; the refunds and what they need.

    A paid order's next_check_at is its paid_at (the poller has nothing to ask), an unpaid one's
    its creation (due a look); the orders with a registration (refunds() adds one to each
    refunded order) are filed under its county, the others under none."""
    import psycopg

    duplicate = set(plan.duplicate)
    with_county = {*plan.refunded, plan.refund_ours_only}
    created = DAY_START.isoformat()
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY payment_order ({ORDER_COLUMNS}) FROM STDIN") as cp,
        ):
            lines = []
            for n in range(ORDERS):
                status = "refund_due" if n in duplicate else "paid"
                billed = (
                    (DAY + timedelta(days=1)).isoformat() if n == plan.billed_next_day else r"\N"
                )
                fen = amount(n)
                paid = paid_at(n).isoformat()
                county = COUNTY if n in with_county else r"\N"
                lines.append(
                    f"{order_no(n)}\toBENCH{n % 5000:06d}\tk{n}\t-\tJSAPI\t{status}\t{fen}\t"
                    f"城乡居民医疗保险缴费\t127.0.0.1\t{created}\t{transaction_id(n)}\t"
                    f"{paid}\t{fen}\t{billed}\t{paid}\t{county}\t{created}\t{created}\n"
                )
                if len(lines) == 20000:
                    cp.write("".join(lines))
                    lines.clear()
            for k, number in enumerate(plan.lost):
                lines.append(
                    f"{number}\toBENCHLOST\tlost{k}\t-\tJSAPI\tcreated\t30000\t"
                    f"城乡居民医疗保险缴费\t127.0.0.1\t{created}\t\\N\t\\N\t\\N\t\\N\t"
                    f"{created}\t\\N\t{created}\t{created}\n"
                )
            cp.write("".join(lines))
        conn.commit()
    engine = create_engine(url)
    with engine.begin() as conn:
        refunds(conn, plan)
    with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text("VACUUM ANALYZE payment_order"))
    engine.dispose()


def refunds(conn, plan: Plan) -> None:
    """Our refunds (succeeded on DAY) of the refunded orders and the ours-only one, each with the
    registration and order item a refund belongs to."""
    conn.execute(
        text(
            "INSERT INTO region (code, name, level, parent_code) VALUES "
            "('410700000000', '新乡市', 'city', NULL), "
            "('410721000000', '新乡县', 'county', '410700000000'), "
            "('410721100000', '翟坡镇', 'township', '410721000000'), "
            "('410721100201', '大召营村', 'village', '410721100000')"
        )
    )
    succeeded = DAY_START + timedelta(hours=15)
    vault = id_vault.current()  # the environment's keys, as the app's
    for n in [*plan.refunded, plan.refund_ours_only]:
        params = {
            "n": n,
            "no": order_no(n),
            "village": VILLAGE,
            "at": succeeded,
            "rno": refund_no(n),
            "id_hash": vault.hash_id(f"R{n:017d}"),
            "id_sealed": vault.seal(f"R{n:017d}"),
        }
        conn.execute(
            text(
                "INSERT INTO enrollee (id_hash, id_sealed, name, birth_date, village_code, "
                "created_at, updated_at) VALUES (:id_hash, :id_sealed, '张三', "
                "DATE '1970-01-01', :village, now(), now())"
            ),
            params,
        )
        conn.execute(
            text(
                "INSERT INTO registration (ref, enrollee_id, scheme, period_year, collection_no, "
                "village_code, status, created_at, updated_at) SELECT "
                "'R' || lpad(CAST(:n AS text), 12, '0'), e.id, 'medical', 2024, "
                "'R' || lpad(CAST(:n AS text), 9, '0'), :village, 'paid', now(), now() "
                "FROM enrollee e WHERE e.id_hash = :id_hash"
            ),
            params,
        )
        conn.execute(
            text(
                "INSERT INTO order_item (order_id, registration_id, held_registration_id, scheme, "
                "period_year, grade_yuan, amount_fen, gov_paid_fen, contribution_subsidy_fen) "
                "SELECT po.id, r.id, r.id, 'medical', 2024, NULL, po.total_fen, 0, 0 "
                "FROM payment_order po, registration r WHERE po.order_no = :no "
                "AND r.ref = 'R' || lpad(CAST(:n AS text), 12, '0')"
            ),
            params,
        )
        conn.execute(
            text(
                "INSERT INTO refund (refund_no, order_id, order_item_id, amount_fen, reason, status, "
                "refund_id, requested_by, attempts, next_check_at, succeeded_at, created_at, "
                "updated_at) SELECT :rno, i.order_id, i.id, "
                f"{REFUND_FEN}, 'other', 'succeeded', '50' || :no, 'bench', 1, :at, :at, :at, :at "
                "FROM order_item i JOIN payment_order po ON po.id = i.order_id WHERE po.order_no = :no"
            ),
            params,
        )


def store_bill(url: str, path: Path, counts: dict) -> None:
    """The day's wechat_bill record, as pull-bill leaves it (its totals in fen, which
    reconciliation does not read, are left at 0)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO wechat_bill (bill_date, status, sha256, path, row_count, "
                "payment_count, refund_count, settlement_fen, refund_fen, fetched_at, created_at, "
                "updated_at) VALUES (:day, 'ok', :sha, :path, :rows, :payments, :refunds, 0, 0, "
                "now(), now(), now())"
            ),
            {
                "day": DAY,
                "sha": hashlib.sha256(path.read_bytes()).hexdigest(),
                "path": str(path),
                "rows": counts["payments"] + counts["refunds"],
                "payments": counts["payments"],
                "refunds": counts["refunds"],
            },
        )
    engine.dispose()


# --- the bill ---------------------------------------------------------------------------------


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _fee(fen: int) -> int:
    """WeChat's 0.6% fee, rounded half up to the fen (fakes.wechat.bill.fee, in integers)."""
    return (fen * 6 + 500) // 1000


COMMON = {
    "公众账号ID": APPID,
    "商户号": MCH_ID,
    "特约商户号": "0",
    "设备号": "",
    "交易类型": "JSAPI",
    "付款银行": "OTHERS",
    "货币种类": "CNY",
    "代金券金额": "0.00",
    "充值券退款金额": "0.00",
    "商品名称": "城乡居民医疗保险缴费",
    "商户数据包": "",
    "费率": "0.60%",
    "费率备注": "",
}
PAYMENT = {
    **COMMON,
    "交易时间": "{time}",
    "微信订单号": "{txn}",
    "商户订单号": "{number}",
    "用户标识": "{openid}",
    "交易状态": "SUCCESS",
    "应结订单金额": "{yuan}",
    "微信退款单号": "0",
    "商户退款单号": "0",
    "退款金额": "0.00",
    "退款类型": "",
    "退款状态": "",
    "手续费": "{fee}",
    "订单金额": "{yuan}",
    "申请退款金额": "0.00",
}
REFUND = {
    **PAYMENT,
    "交易状态": "REFUND",
    "应结订单金额": "0.00",
    "微信退款单号": "{refund_id}",
    "商户退款单号": "{refund_no}",
    "退款金额": "{yuan}",
    "退款类型": "ORIGINAL",
    "退款状态": "SUCCESS",
    "手续费": "{fee}",
    "订单金额": "0.00",
    "申请退款金额": "{yuan}",
}


def _template(values: dict[str, str]) -> str:
    return ",".join("`" + values[c] for c in COLUMNS["ALL"]) + "\r\n"


def write_bill(path: Path, plan: Plan) -> dict:
    """DAY's ALL bill: a payment row for every paid order but those planted otherwise, the lost
    payments, the refund rows; then the summary lines. Returns its counts."""
    payment, refund = _template(PAYMENT), _template(REFUND)
    left_out = {*plan.missing_in_bill, plan.billed_next_day}
    off = {n: 100 for n in plan.amount_mismatch}  # the bill settles a yuan more
    payments = refunds = settled = refunded = fees = 0

    def beijing(moment: datetime) -> str:
        return (moment + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")

    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(",".join(COLUMNS["ALL"]) + "\r\n")
        lines = []
        for n in range(ORDERS):
            if n in left_out:
                continue
            fen = amount(n) + off.get(n, 0)
            seconds = n * 86400 // ORDERS
            lines.append(
                payment.format(
                    time=f"2024-03-01 {seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}",
                    txn=transaction_id(n),
                    number=order_no(n),
                    openid=f"oBENCH{n % 5000:06d}",
                    yuan=_yuan(fen),
                    fee=_yuan(_fee(fen)) + "000",
                )
            )
            payments += 1
            settled += fen
            fees += _fee(fen)
            if len(lines) == 20000:
                out.write("".join(lines))
                lines.clear()
        for k, number in enumerate(plan.lost):
            fen = 30000
            lines.append(
                payment.format(
                    time="2024-03-01 23:59:58",
                    txn=f"43{k:026d}",
                    number=number,
                    openid="oBENCHLOST",
                    yuan=_yuan(fen),
                    fee=_yuan(_fee(fen)) + "000",
                )
            )
            payments += 1
            settled += fen
            fees += _fee(fen)
        for n in [*plan.refunded, plan.refund_bill_only]:
            lines.append(
                refund.format(
                    time=beijing(paid_at(n)),
                    txn=transaction_id(n),
                    number=order_no(n),
                    openid=f"oBENCH{n % 5000:06d}",
                    refund_id=f"50{order_no(n)}",
                    refund_no=refund_no(n),
                    yuan=_yuan(REFUND_FEN),
                    fee=_yuan(-_fee(REFUND_FEN)) + "000",
                )
            )
            refunds += 1
            refunded += REFUND_FEN
            fees -= _fee(REFUND_FEN)
        out.write("".join(lines))
        out.write(SUMMARY + "\r\n")
        summary = [
            str(payments + refunds),
            _yuan(settled),
            _yuan(refunded),
            "0.00",
            _yuan(fees) + "000",
            _yuan(settled),
            _yuan(refunded),
        ]
        out.write(",".join("`" + v for v in summary) + "\r\n")
    return {"payments": payments, "refunds": refunds, "bytes": path.stat().st_size}


# --- the measured processes -------------------------------------------------------------------


def child_read(path: str, records: int) -> dict:
    import polars as pl

    started = time.perf_counter()
    frame = pl.read_csv(path, quote_char=None, infer_schema=False, n_rows=records)
    read = time.perf_counter() - started
    frame = frame.select(pl.all().str.strip_prefix("`"))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "read_only_seconds": read, "rows": frame.height}


def child_reconcile() -> dict:
    """reconcile_day of DAY as `flask reconcile` calls it: the app's unit of work, payment
    gateway, clock and refund check delay (TODAY stands for the clock's Beijing date)."""
    from backend import create_app
    from backend.infra.web import clock, payment_gateway, unit_of_work
    from backend.recon.reconcile import reconcile_day

    app = create_app()
    with app.app_context():
        uow, gateway = unit_of_work(), payment_gateway()
        check_after = timedelta(seconds=app.config["APP_CONFIG"].REFUND_CHECK_AFTER_SECONDS)
        started = time.perf_counter()
        report = reconcile_day(
            uow,
            gateway,
            day=DAY,
            today=TODAY,
            now=clock().now(),
            refund_check_after=check_after,
        )
        seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "matched": report.matched,
        "found": [
            [d.kind, d.order_no, d.refund_no, d.status, d.ours_fen, d.bill_fen]
            for d in report.discrepancies
        ],
    }


def child_stages() -> dict:
    """reconcile_day's stages 1-3 one by one (each its own bill and our side, freed after); the
    bill from its file is matched in the plain rows the payment gateway hands over (read_bill)."""
    from backend import create_app
    from backend.infra.web import unit_of_work
    from backend.models import WeChatBill
    from backend.payments.wechat.bill import PlainBill, parse, parse_file
    from backend.recon.matching import match
    from backend.recon.our_records import day_payments, day_refunds

    app = create_app()
    stages = {}

    def timed(name, work):
        started = time.perf_counter()
        result = work()
        stages[name] = round(time.perf_counter() - started, 3)
        return result

    with app.app_context():
        uow = unit_of_work()
        with uow as session:
            path = Path(session.query(WeChatBill.path).filter_by(bill_date=DAY).scalar())
        timed("bill_read_text_then_parse", lambda: parse(path.read_text("utf-8")).frame())
        bill = parse_file(path)
        timed("bill_parse_file", bill.frame)
        with uow as session:
            ours = timed("our_payments", lambda: day_payments(session, DAY))
            refunds = timed("our_refunds", lambda: day_refunds(session, DAY))
        timed("match", lambda: match(PlainBill(bill), ours, day=DAY, today=TODAY, refunds=refunds))
    return stages


def run_child(args: list[str], env: dict[str, str]) -> dict:
    started = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "python"), "-m", "bench.recon_bench", *args],
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_seconds"] = wall
    return result


def check(result: dict, plan: Plan, bill_payments: int) -> dict:
    """The day's discrepancies are exactly the planted ones; the lost payments (WeChat out of
    reach) and the rest stay open, the payments the bill lacks are held."""
    found = {(kind, number, refund) for kind, number, refund, *_ in result["found"]}
    expected = plan.expected()
    statuses: dict[str, int] = {}
    for kind, _, _, status, _, _ in result["found"]:
        statuses[f"{kind}:{status}"] = statuses.get(f"{kind}:{status}", 0) + 1
    wanted_statuses = {
        "missing_in_ours:open": len(plan.lost),
        "missing_in_bill:held": len(plan.missing_in_bill),
        "amount_mismatch:open": len(plan.amount_mismatch),
        "duplicate_payment:open": len(plan.duplicate),  # no order items: nothing to refund
        "status_mismatch:open": 2,
    }
    checks = {
        "discrepancies": len(result["found"]),
        "statuses": statuses,
        "matched": result["matched"],
        "matched_expected": plan.expected_matched(bill_payments),
        "unexpected": sorted(map(list, found - expected)),
        "not_found": sorted(map(list, expected - found)),
    }
    checks["ok"] = (
        not checks["unexpected"]
        and not checks["not_found"]
        and checks["discrepancies"] == len(expected)
        and statuses == wanted_statuses
        and checks["matched"] == checks["matched_expected"]
    )
    return checks


def main() -> dict:
    RESULTS.mkdir(parents=True, exist_ok=True)
    plan = Plan(ORDERS)
    with (
        fresh_database("cc_bench_recon") as url,
        tempfile.TemporaryDirectory(prefix="recon-bench-") as folder,
    ):
        path = Path(folder) / f"{DAY:%Y%m%d}-ALL.txt"
        log(f"writing the {ORDERS:,}-payment bill")
        counts = write_bill(path, plan)
        log(f"loading {ORDERS:,} orders by COPY")
        started = time.perf_counter()
        load_orders(url, plan)
        load_seconds = time.perf_counter() - started
        store_bill(url, path, counts)
        env = {  # the system clock (APP_CLOCK_* unset): DAY is long past
            **{k: v for k, v in os.environ.items() if not k.startswith("APP_CLOCK_")},
            "DATABASE_URL": url,
            "FAKE_WECHAT_URL": "http://127.0.0.1:9/",  # closed: lost payments stay open
            "LOG_LEVEL": "WARNING",
        }
        records = counts["payments"] + counts["refunds"]
        reads, reconciles = [], []
        for run in range(1, RUNS + 1):
            read = run_child(["read", str(path), str(records)], env)
            if read["rows"] != records:
                raise SystemExit(f"polars read {read['rows']} rows, the bill has {records}")
            reads.append(read)
            one = run_child(["reconcile"], env)
            one["checks"] = check(one, plan, counts["payments"])
            reconciles.append(one)
            log(
                f"run {run}: read {read['seconds']:.2f} s ({read['peak_rss_mb']:.0f} MB), "
                f"reconcile {one['seconds']:.2f} s ({one['peak_rss_mb']:.0f} MB), "
                f"ok={one['checks']['ok']}"
            )
        stages = run_child(["stages"], env)
    return summarise(reads, reconciles, stages, counts, load_seconds)


def summarise(reads, reconciles, stages, counts, load_seconds) -> dict:
    read_s = median([r["seconds"] for r in reads])
    recon_s = median([r["seconds"] for r in reconciles])
    recon_process_s = median([r["process_seconds"] for r in reconciles])
    peak = max(r["peak_rss_mb"] for r in reconciles)
    ratio = recon_s / read_s
    return {
        "benchmark": "reconciliation",
        "bill": {**counts, "mb": round(counts["bytes"] / 2**20, 1)},
        "orders_loaded": ORDERS + 4,
        "load_seconds_untimed": round(load_seconds, 1),
        "polars_read_s": [round(r["seconds"], 3) for r in reads],
        "polars_read_without_strip_s": [round(r["read_only_seconds"], 3) for r in reads],
        "polars_peak_rss_mb": [round(r["peak_rss_mb"]) for r in reads],
        "reconcile_s": [round(r["seconds"], 3) for r in reconciles],
        "reconcile_process_s": [round(r["process_seconds"], 3) for r in reconciles],
        "reconcile_peak_rss_mb": [round(r["peak_rss_mb"]) for r in reconciles],
        "ratio_per_run": [
            round(c["seconds"] / r["seconds"], 2) for r, c in zip(reads, reconciles, strict=True)
        ],
        "median_polars_read_s": round(read_s, 3),
        "median_reconcile_s": round(recon_s, 3),
        "median_reconcile_process_s": round(recon_process_s, 3),
        "ratio_reconcile_to_read": round(ratio, 2),
        "ratio_process_to_read": round(recon_process_s / read_s, 2),
        "ratio_reconcile_to_read_without_strip": round(
            recon_s / median([r["read_only_seconds"] for r in reads]), 2
        ),
        "max_reconcile_peak_rss_mb": round(peak),
        "stages_s": stages,
        "aim_ratio_met": ratio < AIM_RATIO,
        "aim_memory_met": peak < AIM_PEAK_MB,
        "all_checks_ok": all(r["checks"]["ok"] for r in reconciles),
        "checks": [r["checks"] for r in reconciles],
        "settings": {"orders": ORDERS, "runs": RUNS, "cores": os.cpu_count(), "day": str(DAY)},
    }


def child(argv: list[str]) -> None:
    mode = argv[0]
    if mode == "read":
        result = child_read(argv[1], int(argv[2]))
    elif mode == "reconcile":
        result = child_reconcile()
    else:
        result = child_stages()
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    if len(sys.argv) > 1:
        child(sys.argv[1:])
        sys.exit(0)
    outcome = main()
    (RESULTS / "recon.json").write_text(
        json.dumps(outcome, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(json.dumps(outcome, indent=2, ensure_ascii=False))
    sys.exit(0)

"""Import of 1,000,000 registrations into PostgreSQL against the database's own cost of the writes.

Goal (the channels issue): `flask import registrations` reaches at least 0.8 of a bare
INSERT ... SELECT of the same rows into the real tables, pushes to the tax bureau included, with
memory that does not grow with the file.

Method: generate a registrations CSV of N rows (1,000,000 by default; every row a new person, valid
ID numbers, real village codes of the seeded region tree) and one of N/10 other people, then in a
fresh database
1. load the big file into a plain text table with PostgreSQL's own COPY (not timed: it only puts
   the rows where plain SQL can read them);
2. BENCH_RUNS times (default 3), alternating, each on emptied tables after a CHECKPOINT:
   - baseline: bare SQL INSERT ... SELECT from that table into the real, indexed enrollee,
     registration and ledger_message tables (one pending push per registration, as the import
     writes), timed, then rolled back; same session settings as the import (no JIT);
   - `flask import registrations FILE` of the big file under /usr/bin/time -v (the whole
     command, interpreter and application start included): rows/s, peak RSS;
   the ratio of each run is import rows/s over baseline rows/s; medians over the runs;
3. `flask import registrations` of the small file once, for its peak RSS: memory that does not
   grow with the file shows as nearly equal peaks.
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import date, timedelta

from sqlalchemy import create_engine, make_url, text
from stdnum.cn import ric

from backend.imports.rows import REGISTRATION_COLUMNS
from backend.infra import id_vault
from bench.common import (
    BIN,
    PROJECT,
    RESULTS,
    fresh_database,
    log,
    median,
    peak_rss_mb,
    require_tool,
    seed_demo,
)

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "1000000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
GOAL = 0.8
HEADER = list(REGISTRATION_COLUMNS)
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"
EMPTY = (
    "TRUNCATE ledger_message, ledger_attempt, registration, special_group_membership, enrollee,"
    " progress_change, audit_entry RESTART IDENTITY CASCADE"
)

BASELINE_EXTRA = ("id_hash", "id_sealed")
SQL_BASELINE = (
    """
INSERT INTO enrollee (id_hash, id_sealed, name, birth_date, village_code, household_no, phone,
                      created_at, updated_at)
SELECT id_hash, id_sealed, name, to_date(substr(id_number, 7, 8), 'YYYYMMDD'), village_code,
       household_no, nullif(phone, ''), now(), now()
FROM copy_baseline
""",
    """
INSERT INTO registration (ref, enrollee_id, scheme, period_year, collection_no, village_code,
                          status, created_at, updated_at)
SELECT 'R' || substr(md5(c.collection_no), 1, 16), e.id, c.scheme, c.period_year::int,
       c.collection_no, c.village_code, 'unpaid', now(), now()
FROM copy_baseline c JOIN enrollee e ON e.id_hash = c.id_hash
""",
    """
INSERT INTO ledger_message (message_id, kind, registration_id, status, attempts,
                            next_attempt_at, created_at, updated_at)
SELECT 'reg-' || r.id || '-0bench00', 'registration', r.id, 'pending', 0, now(), now(), now()
FROM copy_baseline c JOIN registration r ON r.collection_no = c.collection_no
""",
)


def write_csv(
    path,
    rows: int,
    villages: list[str],
    *,
    second: bool = False,
    seed: int = 7,
    baseline_path=None,
) -> None:
    """Every row a distinct person: (birth date, sequence) is unique by construction. With
    `baseline_path`, the same rows for the bare SQL too, with each ID number's hash and sealed
    form (the enrollee table stores no other; computed here, outside the timed SQL)."""
    rng = random.Random(seed)
    first_day = date(1940, 1, 1)
    prefix = "S" if second else "B"
    vault = id_vault.current()
    with ExitStack() as files:
        f = files.enter_context(open(path, "w", newline="", encoding="utf-8"))
        out = csv.writer(f)
        out.writerow(HEADER)
        bare = None
        if baseline_path is not None:
            bare = csv.writer(
                files.enter_context(open(baseline_path, "w", newline="", encoding="utf-8"))
            )
            bare.writerow((*HEADER, *BASELINE_EXTRA))
        for n in range(rows):
            village = villages[n % len(villages)]
            born = first_day + timedelta(days=(n // 500) * 14)  # 2,000 dates over ~77 years
            seq = n % 500 + (500 if second else 0)
            first17 = f"{village[:6]}{born:%Y%m%d}{seq:03d}"
            id_number = first17 + ric.calc_check_digit(first17 + "0")
            name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
            row = [
                f"{prefix}{n:09d}",
                id_number,
                name,
                "medical",
                2020,
                village,
                f"H{n // 4:08d}",
                "",
            ]
            out.writerow(row)
            if bare is not None:
                bare.writerow([*row, vault.hash_id(id_number), vault.seal(id_number)])


def empty(engine) -> None:
    with engine.begin() as conn:
        conn.execute(text(EMPTY))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CHECKPOINT"))


def baseline_seconds(engine) -> float:
    """The bare SQL's time for the same rows, rolled back."""
    with engine.connect() as conn:
        conn.execute(text("SET LOCAL jit = off"))
        started = time.perf_counter()
        for statement in SQL_BASELINE:
            conn.execute(text(statement))
        seconds = time.perf_counter() - started
        conn.rollback()
    return seconds


def flask_import(time_bin: str, path, env: dict) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of `flask import registrations path`."""
    started = time.perf_counter()
    run = subprocess.run(
        [time_bin, "-v", str(BIN / "flask"), "--app", "backend", "import", "registrations", path],
        env=env,
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        print(run.stdout[-2000:], run.stderr[-4000:], file=sys.stderr)
        raise SystemExit("import failed")
    return seconds, peak_rss_mb(run.stderr)


def main() -> dict:
    RESULTS.mkdir(parents=True, exist_ok=True)
    time_bin = "/usr/bin/time"
    if not os.path.exists(time_bin):
        require_tool("time")
    psql = require_tool("psql", "postgresql-client")
    results: dict = {"rows": ROWS, "runs": []}
    with fresh_database("cc_bench_import") as url:
        env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
        seed_demo(env, 0)
        engine = create_engine(url)
        with engine.connect() as conn:
            villages = conn.scalars(
                text("SELECT code FROM region WHERE level = 'village' ORDER BY code")
            ).all()
        big = RESULTS / f"registrations-{ROWS}.csv"
        bare_rows = RESULTS / f"baseline-{ROWS}.csv"
        small = RESULTS / f"registrations-{ROWS // 10}.csv"
        log(f"writing {ROWS:,}-row CSV")
        write_csv(big, ROWS, villages, baseline_path=bare_rows)
        write_csv(small, ROWS // 10, villages, second=True, seed=8)

        pg = make_url(url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE TABLE copy_baseline ("
                    + ", ".join(f"{c} text" for c in (*HEADER, *BASELINE_EXTRA))
                    + ")"
                )
            )
        subprocess.run(
            [
                *(psql, "-h", pg.host, "-U", pg.username, "-d", pg.database, "-q", "-c"),
                f"\\copy copy_baseline FROM '{bare_rows}' WITH (FORMAT csv, HEADER true)",
            ],
            check=True,
        )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE copy_baseline"))

        for n in range(1, RUNS + 1):
            empty(engine)
            log(
                f"run {n}/{RUNS}: bare INSERT ... SELECT into enrollee, registration, ledger_message"
            )
            sql_seconds = baseline_seconds(engine)
            empty(engine)
            log(f"run {n}/{RUNS}: flask import registrations ({ROWS:,} rows)")
            import_seconds, peak = flask_import(time_bin, str(big), env)
            with engine.connect() as conn:
                stored = conn.scalar(text("SELECT count(*) FROM registration"))
                pushes = conn.scalar(
                    text("SELECT count(*) FROM ledger_message WHERE kind = 'registration'")
                )
            if stored != ROWS or pushes != ROWS:
                raise SystemExit(f"import stored {stored} registrations and {pushes} pushes")
            run = {
                "sql_baseline_seconds": round(sql_seconds, 1),
                "sql_baseline_rows_per_s": round(ROWS / sql_seconds),
                "import_seconds": round(import_seconds, 1),
                "import_rows_per_s": round(ROWS / import_seconds),
                "import_peak_rss_mb": round(peak, 1),
                "ratio": round(sql_seconds / import_seconds, 3),
            }
            log(f"run {n}/{RUNS}: {run}")
            results["runs"].append(run)

        empty(engine)
        log(f"flask import registrations ({ROWS // 10:,} rows), for its peak memory")
        _seconds, small_peak = flask_import(time_bin, str(small), env)
        engine.dispose()
        big.unlink()
        bare_rows.unlink()
        small.unlink()

    runs = results["runs"]
    results["ratio_median"] = round(median([r["ratio"] for r in runs]), 3)
    results["import_rows_per_s_median"] = round(median([r["import_rows_per_s"] for r in runs]))
    results["sql_baseline_rows_per_s_median"] = round(
        median([r["sql_baseline_rows_per_s"] for r in runs])
    )
    results["registrations_and_pushes_per_run"] = ROWS
    results["big_peak_rss_mb"] = max(r["import_peak_rss_mb"] for r in runs)
    results["small_peak_rss_mb"] = round(small_peak, 1)
    results["peak_rss_ratio_big_to_small"] = round(
        results["big_peak_rss_mb"] / results["small_peak_rss_mb"], 2
    )
    results["goal"] = GOAL
    results["goal_met"] = results["ratio_median"] >= GOAL
    (RESULTS / "import.json").write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2, ensure_ascii=False))

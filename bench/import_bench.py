"""Import of 1,000,000 registrations into PostgreSQL: rows per second and peak memory.

Goal (foundation issue): at least 20,000 rows/s, memory that does not grow with the file.

Method: generate a registrations CSV of N rows (1,000,000 by default; every row a new person, valid
ID numbers, real village codes of the seeded region tree), then in a fresh database
1. baselines: PostgreSQL's own COPY of the same file into a plain text table (moving the bytes),
   and a bare SQL INSERT ... SELECT from that table into the real, indexed enrollee and
   registration tables (the database's own cost of the writes, no validation), rolled back,
2. `flask import registrations FILE` under /usr/bin/time -v, for N and for N/10 rows: rows/s and
   peak RSS (memory that does not grow with the file shows as nearly equal peaks).
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import time
from datetime import date, timedelta

from sqlalchemy import create_engine, make_url, text
from stdnum.cn import ric

from backend.imports.rows import REGISTRATION_COLUMNS
from bench.common import (
    BIN,
    PROJECT,
    RESULTS,
    fresh_database,
    log,
    peak_rss_mb,
    require_tool,
    seed_demo,
)

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "1000000"))
HEADER = list(REGISTRATION_COLUMNS)
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"


SQL_BASELINE_ENROLLEES = """
INSERT INTO enrollee (id_number, name, birth_date, village_code, household_no, phone,
                      created_at, updated_at)
SELECT id_number, name, to_date(substr(id_number, 7, 8), 'YYYYMMDD'), village_code,
       household_no, nullif(phone, ''), now(), now()
FROM copy_baseline
"""
SQL_BASELINE_REGISTRATIONS = """
INSERT INTO registration (ref, enrollee_id, scheme, period_year, collection_no, village_code,
                          status, created_at, updated_at)
SELECT 'R' || substr(md5(c.collection_no), 1, 16), e.id, c.scheme, c.period_year::int,
       c.collection_no, c.village_code, 'unpaid', now(), now()
FROM copy_baseline c JOIN enrollee e ON e.id_number = c.id_number
"""


def write_csv(path, rows: int, villages: list[str], *, second: bool = False, seed: int = 7) -> None:
    """Every row a distinct person: (birth date, sequence) is unique by construction."""
    rng = random.Random(seed)
    first_day = date(1940, 1, 1)
    prefix = "S" if second else "B"
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for n in range(rows):
            village = villages[n % len(villages)]
            born = first_day + timedelta(days=(n // 500) * 14)  # 2,000 dates over ~77 years
            seq = n % 500 + (500 if second else 0)
            first17 = f"{village[:6]}{born:%Y%m%d}{seq:03d}"
            id_number = first17 + ric.calc_check_digit(first17 + "0")
            name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
            out.writerow(
                [
                    f"{prefix}{n:09d}",
                    id_number,
                    name,
                    "medical",
                    2020,
                    village,
                    f"H{n // 4:08d}",
                    "",
                ]
            )


def main() -> dict:
    RESULTS.mkdir(parents=True, exist_ok=True)
    time_bin = "/usr/bin/time"
    if not os.path.exists(time_bin):
        require_tool("time")
    psql = require_tool("psql", "postgresql-client")
    results: dict = {"rows": ROWS}
    with fresh_database("cc_bench_import") as url:
        env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
        seed_demo(env, 0)
        engine = create_engine(url)
        with engine.connect() as conn:
            villages = conn.scalars(
                text("SELECT code FROM region WHERE level = 'village' ORDER BY code")
            ).all()
        big = RESULTS / f"registrations-{ROWS}.csv"
        small = RESULTS / f"registrations-{ROWS // 10}.csv"
        log(f"writing {ROWS:,}-row CSV")
        write_csv(big, ROWS, villages)
        write_csv(small, ROWS // 10, villages, second=True, seed=8)

        pg = make_url(url)
        log("baseline: COPY into a text table")
        with engine.begin() as conn:
            conn.execute(
                text("CREATE TABLE copy_baseline (" + ", ".join(f"{c} text" for c in HEADER) + ")")
            )
        started = time.perf_counter()
        subprocess.run(
            [
                psql,
                "-h",
                pg.host,
                "-U",
                pg.username,
                "-d",
                pg.database,
                "-q",
                "-c",
                f"\\copy copy_baseline FROM '{big}' WITH (FORMAT csv, HEADER true)",
            ],
            check=True,
        )
        copy_seconds = time.perf_counter() - started

        # The database's own cost of the same writes: bare INSERT ... SELECT into the real,
        # indexed tables (enrollees, then their registrations), timed, then rolled back.
        log("baseline: bare SQL INSERT ... SELECT into enrollee + registration")
        with engine.connect() as conn:
            started = time.perf_counter()
            conn.execute(text(SQL_BASELINE_ENROLLEES))
            conn.execute(text(SQL_BASELINE_REGISTRATIONS))
            sql_seconds = time.perf_counter() - started
            conn.rollback()
        engine.dispose()

        for label, path, rows in (("small", small, ROWS // 10), ("big", big, ROWS)):
            log(f"flask import registrations ({rows:,} rows)")
            started = time.perf_counter()
            run = subprocess.run(
                [
                    time_bin,
                    "-v",
                    str(BIN / "flask"),
                    "--app",
                    "backend",
                    "import",
                    "registrations",
                    str(path),
                ],
                env=env,
                capture_output=True,
                text=True,
                cwd=PROJECT,
            )
            seconds = time.perf_counter() - started
            if run.returncode != 0:
                print(run.stdout[-2000:], run.stderr[-4000:], file=sys.stderr)
                raise SystemExit("import failed")
            results[f"{label}_rows"] = rows
            results[f"{label}_seconds"] = round(seconds, 1)
            results[f"{label}_rows_per_s"] = round(rows / seconds)
            results[f"{label}_peak_rss_mb"] = round(peak_rss_mb(run.stderr), 1)
        engine = create_engine(url)
        with engine.connect() as conn:
            stored = conn.scalar(text("SELECT count(*) FROM registration"))
        engine.dispose()
        big.unlink()
        small.unlink()

    results["registrations_stored"] = stored
    results["copy_baseline_seconds"] = round(copy_seconds, 1)
    results["copy_baseline_rows_per_s"] = round(ROWS / copy_seconds)
    results["sql_baseline_seconds"] = round(sql_seconds, 1)
    results["sql_baseline_rows_per_s"] = round(ROWS / sql_seconds)
    results["ratio_import_to_sql_baseline"] = round(
        results["big_rows_per_s"] / results["sql_baseline_rows_per_s"], 3
    )
    results["ratio_import_to_copy"] = round(
        results["big_rows_per_s"] / results["copy_baseline_rows_per_s"], 3
    )
    results["peak_rss_ratio_big_to_small"] = round(
        results["big_peak_rss_mb"] / results["small_peak_rss_mb"], 2
    )
    results["goal_rows_per_s_met"] = results["big_rows_per_s"] >= 20000
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2, ensure_ascii=False))

"""Lookup throughput and latency under gunicorn on PostgreSQL, against a trivial smorest baseline.

Goal (foundation issue): lookup reaches at least 50% of the baseline's requests per second, and its
p99 stays under 50 ms at half of the lookup's own maximum rate.

Method: seed N people (default 1,000,000) into a fresh PostgreSQL database, start the fake WeChat
platform and gunicorn (2 sync workers, the most predictable setting on 2 cores), sign in once, then
alternate wrk runs (2 threads, 32 connections, 10 s) on the baseline and on the lookup (rotating
over 2,000 real people). Then hold the lookup at half its median maximum with hey and read p99.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

from sqlalchemy import create_engine, text

from backend.infra import id_vault
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

PEOPLE = int(os.environ.get("BENCH_LOOKUP_PEOPLE", "1000000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
WORKERS = os.environ.get("BENCH_WORKERS", "2")
# >1 runs gthread workers; beware: one worker may take every keep-alive connection and leave
# the other idle, which starves whichever endpoint runs then and makes the ratio meaningless.
THREADS = os.environ.get("BENCH_THREADS", "1")


def post_json(url: str, body: dict, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def main() -> dict:
    RESULTS.mkdir(parents=True, exist_ok=True)
    require_tool("wrk")
    hey = require_tool("hey")
    with fresh_database("cc_bench_lookup") as url:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "LOOKUP_LIMIT_PER_OPENID": "100000000 per minute",
            "LOOKUP_LIMIT_PER_ADDRESS": "100000000 per minute",
            "LOG_LEVEL": "WARNING",
        }
        log(f"seeding {PEOPLE:,} people")
        seed_demo(env, PEOPLE)
        engine = create_engine(url)
        with engine.connect() as conn:
            vault = id_vault.current()  # the environment's keys, as the app's
            rows = [
                (vault.open(sealed), name)
                for sealed, name in conn.execute(
                    text("SELECT id_sealed, name FROM enrollee ORDER BY random() LIMIT 2000")
                )
            ]
        engine.dispose()
        people_file = RESULTS / "people.txt"
        people_file.write_text("".join(f"{i}\t{n}\n" for i, n in rows), encoding="utf-8")

        wx_port, api_port = free_port(), free_port()
        env["FAKE_WECHAT_URL"] = f"http://127.0.0.1:{wx_port}/"
        api = f"http://127.0.0.1:{api_port}"
        with (
            background(
                [str(BIN / "python"), "-m", "fakes.wechat", "--port", str(wx_port)],
                env,
                wait_url=f"http://127.0.0.1:{wx_port}/_control/health",
            ),
            background(
                [
                    str(BIN / "gunicorn"),
                    "-w",
                    WORKERS,
                    "--threads",
                    THREADS,
                    "-b",
                    f"127.0.0.1:{api_port}",
                    "bench.bench_app:create_bench_app()",
                ],
                env,
                wait_url=f"{api}/healthz",
            ),
        ):
            code = post_json(f"http://127.0.0.1:{wx_port}/_control/login", {"user": "bench"})[
                "code"
            ]
            token = post_json(f"{api}/api/mp/v1/session", {"code": code})["token"]
            first = rows[0]
            answer = post_json(
                f"{api}/api/mp/v1/lookup", {"id_number": first[0], "name": first[1]}, token
            )
            assert answer["registrations"], "the sampled person has no registrations"

            wrk_env = {"BENCH_TOKEN": token, "BENCH_PEOPLE": str(people_file)}
            here = Path(__file__).parent
            log("warming up")
            wrk(api, here / "echo.lua", duration=3)
            wrk(api, here / "lookup.lua", duration=3, env=wrk_env)
            baseline, lookup = [], []
            for run in range(RUNS):
                baseline.append(wrk(api, here / "echo.lua"))
                lookup.append(wrk(api, here / "lookup.lua", env=wrk_env))
                log(
                    f"run {run + 1}: baseline {baseline[-1]['rps']:.0f} req/s, lookup {lookup[-1]['rps']:.0f} req/s"
                )
            errors = sum(r["non_2xx"] for r in baseline + lookup)

            lookup_max = median([r["rps"] for r in lookup])
            half = lookup_max / 2
            body = RESULTS / "lookup-body.json"
            body.write_text(
                json.dumps({"id_number": first[0], "name": first[1]}, ensure_ascii=False),
                encoding="utf-8",
            )
            clients = 8
            out = subprocess.run(
                [
                    hey,
                    "-z",
                    "15s",
                    "-c",
                    str(clients),
                    "-q",
                    f"{half / clients:.1f}",
                    "-m",
                    "POST",
                    "-T",
                    "application/json",
                    "-H",
                    f"Authorization: Bearer {token}",
                    "-D",
                    str(body),
                    f"{api}/api/mp/v1/lookup",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            p99_half = float(re.search(r"99% in ([\d.]+) secs", out).group(1)) * 1000
            achieved = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
            statuses = re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)

    base_rps = median([r["rps"] for r in baseline])
    run_ratios = [lk["rps"] / b["rps"] for b, lk in zip(baseline, lookup, strict=True)]
    result = {
        "people": PEOPLE,
        "gunicorn_workers": int(WORKERS),
        "gunicorn_threads": int(THREADS),
        "baseline_rps_median": round(base_rps),
        "lookup_rps_median": round(lookup_max),
        "lookup_rps_runs": [round(r["rps"]) for r in lookup],
        "baseline_rps_runs": [round(r["rps"]) for r in baseline],
        "ratio_lookup_to_baseline": round(lookup_max / base_rps, 3),
        # Each run pairs a baseline with the lookup run right after it; on a noisy machine the
        # median of these pairs is steadier than the ratio of the two medians.
        "ratio_per_run": [round(r, 3) for r in run_ratios],
        "ratio_median_of_runs": round(median(run_ratios), 3),
        "lookup_p99_ms_at_max_median": median([r["p99_ms"] for r in lookup]),
        "half_rate_target_rps": round(half),
        "half_rate_achieved_rps": round(achieved),
        "lookup_p99_ms_at_half_rate": round(p99_half, 1),
        "hey_status_codes": dict(statuses),
        "non_2xx_during_wrk": errors,
        "goal_ratio_met": lookup_max / base_rps >= 0.5,
        "goal_p99_met": p99_half < 50,
    }
    return result


if __name__ == "__main__":
    outcome = main()
    print(json.dumps(outcome, indent=2, ensure_ascii=False))
    sys.exit(0)

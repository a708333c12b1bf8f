"""What a payment call costs through WeChat Pay API v3 beside v2, measured in the same run.

Each API's adapter (backend/payments/wechat/ and backend/payments/wechat_v3/) creates a JSAPI
trade and queries it, one call after another, against the fake platform (its own process, as
under `make run`). v2 signs with MD5 and sends on a kept-alive pool; v3 signs each request
SHA256-RSA with the merchant key, checks the platform's RSA signature on each answer, and the
library opens a new connection per call. The figure is `v3_ratio`: v3's calls per second over
v2's, per run, median of the runs (BENCH_RUNS, default 3, alternating v2 and v3, BENCH_CALLS
create+query pairs each, default 300). The client's CPU per call is reported beside it (what the
API worker pays; the fake's own CPU is not in it).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

from backend.config import Config
from backend.payments.gateway import PaymentRequest
from backend.payments.wechat.gateway import WeChatPayGateway
from backend.payments.wechat_v3 import keys as v3_keys
from backend.payments.wechat_v3.gateway import WeChatPayV3Gateway
from bench.common import BIN, PROJECT, background, free_port, log, median

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
CALLS = int(os.environ.get("BENCH_CALLS", "300"))
NOTIFY = "http://127.0.0.1:9/notify"  # nobody listens: the trades are never paid


def gateways(base: str, key_dir: str):
    cfg = Config()
    v2 = WeChatPayGateway(
        appid=cfg.WECHAT_APPID,
        mch_id=cfg.WECHAT_MCH_ID,
        api_key=cfg.WECHAT_API_KEY,
        base_url=base,
        notify_url=NOTIFY,
        refund_notify_url=NOTIFY,
    )
    v3 = WeChatPayV3Gateway(
        appid=cfg.WECHAT_APPID,
        mch_id=cfg.WECHAT_MCH_ID,
        keys=v3_keys.load(key_dir),
        base_url=base,
        notify_url=NOTIFY,
        refund_notify_url=NOTIFY,
    )
    return {"v2": v2, "v3": v3}


def one_pass(gateway, calls: int) -> tuple[float, float]:
    """(create+query pairs per second, client CPU ms per pair)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        number = "B" + uuid.uuid4().hex[:20]
        now = datetime.now(UTC)
        gateway.create(
            PaymentRequest(
                order_no=number,
                total_fen=25000,
                description="城乡居民医疗保险缴费",
                channel="wechat_miniprogram",
                client_ip="127.0.0.1",
                created_at=now,
                expires_at=now + timedelta(minutes=30),
                payer="oBENCH",
            )
        )
        assert gateway.query(number).state == "unpaid"
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return calls / wall, cpu / calls * 1000


def main() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryDirectory() as keys:
        args = [str(BIN / "python"), "-m", "fakes.wechat", "--port", str(port), "--v3-keys", keys]
        with background(args, {**os.environ, "PYTHONPATH": str(PROJECT)}, base + "_control/health"):
            pay = gateways(base, keys)
            one_pass(pay["v2"], 20)  # warm-up: imports, first connections
            one_pass(pay["v3"], 20)
            rates: dict[str, list[float]] = {"v2": [], "v3": []}
            cpu: dict[str, list[float]] = {"v2": [], "v3": []}
            ratios = []
            for run in range(RUNS):
                for api in ("v2", "v3") if run % 2 == 0 else ("v3", "v2"):
                    rate, ms = one_pass(pay[api], CALLS)
                    rates[api].append(rate)
                    cpu[api].append(ms)
                    log(f"run {run + 1} {api}: {rate:.0f} pairs/s, client CPU {ms:.2f} ms/pair")
                ratios.append(rates["v3"][-1] / rates["v2"][-1])
    result = {
        "calls_per_pass": CALLS,
        "runs": RUNS,
        "v2_pairs_per_s": round(median(rates["v2"]), 1),
        "v3_pairs_per_s": round(median(rates["v3"]), 1),
        "v2_client_cpu_ms": round(median(cpu["v2"]), 3),
        "v3_client_cpu_ms": round(median(cpu["v3"]), 3),
        "v3_ratio": round(median(ratios), 3),
    }
    print("| figure | value |\n| --- | --- |")
    for name, value in result.items():
        print(f"| {name} | {value} |")
    results = PROJECT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "pay_api.json").write_text(json.dumps(result, indent=2))
    sys.stdout.flush()


if __name__ == "__main__":
    main()

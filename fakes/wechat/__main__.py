"""`python -m fakes.wechat [--host H] [--port P] [--time-scale S] [--state-file PATH]
[--v3-keys DIR]`: run the fake WeChat platform.

Environment defaults: FAKE_WECHAT_PORT (8001), FAKE_WECHAT_TIME_SCALE (1.0: WeChat's real
notification retry and refund waits), FAKE_WECHAT_STATE_FILE (unset: trades live in memory only),
FAKE_WECHAT_V3_KEYS (unset: API v2 only; a directory: API v3 too, with that key set).
APP_CLOCK_START / APP_CLOCK_ANCHOR, as the backend reads them, set the day its trades and bills
happen on.
"""

from __future__ import annotations

import argparse
import os
from datetime import datetime

from werkzeug.serving import run_simple

from fakes.clock import wall_clock_from_env
from fakes.wechat.beijing import BEIJING
from fakes.wechat.server import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description="fake WeChat platform")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("FAKE_WECHAT_PORT", "8001")))
    parser.add_argument(
        "--time-scale",
        type=float,
        default=float(os.environ.get("FAKE_WECHAT_TIME_SCALE") or "1.0"),
        help="multiplies WeChat's waits (notification retries, refund processing); 0.01 is 100x faster",
    )
    parser.add_argument(
        "--state-file",
        default=os.environ.get("FAKE_WECHAT_STATE_FILE") or None,
        help="keep trades in this JSON file across restarts",
    )
    parser.add_argument(
        "--v3-keys",
        default=os.environ.get("FAKE_WECHAT_V3_KEYS") or None,
        help="speak WeChat Pay API v3 too, with the key set in this directory (made if missing)",
    )
    args = parser.parse_args()
    if args.time_scale <= 0:
        parser.error("--time-scale must be positive")
    wall_clock = wall_clock_from_env()
    now = datetime.fromtimestamp(wall_clock(), BEIJING)
    print(
        f"fake WeChat platform on http://{args.host}:{args.port}/ (time scale {args.time_scale}, "
        f"Beijing time {now:%Y-%m-%d %H:%M}"
        + (f", state in {args.state_file})" if args.state_file else ")"),
        flush=True,
    )
    app = create_app(
        time_scale=args.time_scale,
        state_file=args.state_file,
        wall_clock=wall_clock,
        v3_keys_dir=args.v3_keys,
    )
    run_simple(args.host, args.port, app, threaded=True)


if __name__ == "__main__":
    main()

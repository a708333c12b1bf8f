"""`python -m fakes.tax [--host H] [--port P] [--secret S] [--callback-url URL] [--time-scale S]
[--confirm-delay SECONDS] [--state-file PATH]`: run the fake tax bureau ledger.

Environment defaults: FAKE_TAX_PORT (8002), TAX_LEDGER_SECRET (the backend's development secret),
TAX_CALLBACK_URL (http://127.0.0.1:8000/api/tax/v1/treasury-entries), FAKE_TAX_TIME_SCALE (1.0),
FAKE_TAX_STATE_FILE (unset: messages live in memory only). APP_CLOCK_START / APP_CLOCK_ANCHOR, as the
backend reads them, set the clock its receipts and signatures are dated by.
"""

from __future__ import annotations

import argparse
import os

from werkzeug.serving import run_simple

from backend.config import Config
from fakes.clock import wall_clock_from_env
from fakes.tax.server import DEFAULT_CALLBACK_URL, create_app


def main() -> None:
    parser = argparse.ArgumentParser(description="fake tax bureau ledger")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("FAKE_TAX_PORT") or "8002"))
    parser.add_argument(
        "--secret",
        default=Config().TAX_LEDGER_SECRET,
        help="shared HMAC-SHA256 secret (default: $TAX_LEDGER_SECRET or the development secret)",
    )
    parser.add_argument(
        "--callback-url",
        default=os.environ.get("TAX_CALLBACK_URL") or DEFAULT_CALLBACK_URL,
        help="where treasury-entry confirmations are POSTed",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=float(os.environ.get("FAKE_TAX_TIME_SCALE") or "1.0"),
        help="multiplies the confirmation delay and retry waits; 0.01 is 100x faster",
    )
    parser.add_argument(
        "--confirm-delay",
        type=float,
        default=2.0,
        help="seconds from accepting a payment to confirming it (before --time-scale)",
    )
    parser.add_argument(
        "--state-file",
        default=os.environ.get("FAKE_TAX_STATE_FILE") or None,
        help="keep messages in this JSON file across restarts (and the registrations pushed in"
        " <name>-registrations.json beside it)",
    )
    args = parser.parse_args()
    if args.time_scale <= 0:
        parser.error("--time-scale must be positive")
    if args.confirm_delay < 0:
        parser.error("--confirm-delay must not be negative")
    print(
        f"fake tax bureau on http://{args.host}:{args.port}/ (confirmations to "
        f"{args.callback_url}, time scale {args.time_scale}"
        + (f", state in {args.state_file})" if args.state_file else ")"),
        flush=True,
    )
    app = create_app(
        secret=args.secret,
        callback_url=args.callback_url,
        time_scale=args.time_scale,
        confirm_delay=args.confirm_delay,
        state_file=args.state_file,
        clock=wall_clock_from_env(),
    )
    try:
        run_simple(args.host, args.port, app, threaded=True)
    finally:
        app.extensions["fake_tax"].close()


if __name__ == "__main__":
    main()

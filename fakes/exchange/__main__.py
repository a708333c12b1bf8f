"""`python -m fakes.exchange [--host H] [--port P] [--secret S]`: run the fake data exchange platform.

Environment defaults: FAKE_EXCHANGE_PORT (8004), EXCHANGE_SECRET (the backend's development
secret). APP_CLOCK_START / APP_CLOCK_ANCHOR, as the backend reads them, set the clock its
signature checks and times use.
"""

from __future__ import annotations

import argparse
import os

from werkzeug.serving import run_simple

from backend.config import Config
from fakes.clock import wall_clock_from_env
from fakes.exchange.server import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description="fake data exchange platform")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("FAKE_EXCHANGE_PORT") or "8004")
    )
    parser.add_argument(
        "--secret",
        default=Config().EXCHANGE_SECRET,
        help="shared HMAC-SHA256 secret (default: $EXCHANGE_SECRET or the development secret)",
    )
    args = parser.parse_args()
    print(f"fake data exchange platform on http://{args.host}:{args.port}/", flush=True)
    run_simple(
        args.host,
        args.port,
        create_app(secret=args.secret, clock=wall_clock_from_env()),
        threaded=True,
    )


if __name__ == "__main__":
    main()

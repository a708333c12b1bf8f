"""`python -m fakes.wechat [--host H] [--port P]`: run the fake WeChat platform."""

from __future__ import annotations

import argparse
import os

from werkzeug.serving import run_simple

from fakes.wechat.server import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description="fake WeChat platform")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("FAKE_WECHAT_PORT", "8001")))
    args = parser.parse_args()
    print(f"fake WeChat platform on http://{args.host}:{args.port}/", flush=True)
    run_simple(args.host, args.port, create_app(), threaded=True)


if __name__ == "__main__":
    main()

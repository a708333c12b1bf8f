"""Apache ECharts, installed from npm (package.json, `make install`) and served by the app itself:
no CDN, so the dashboard works on a closed network and under a strict CSP. The version is in the
address, so browsers may keep the file for a year and still fetch a new one after an upgrade.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from backend.config import PROJECT_DIR

PACKAGE = PROJECT_DIR / "node_modules" / "echarts"
SCRIPT = PACKAGE / "dist" / "echarts.min.js"
MAX_AGE = 365 * 24 * 3600


@cache
def echarts_version() -> str | None:
    """The installed version (None when `make install` has not run npm ci)."""
    try:
        return json.loads((PACKAGE / "package.json").read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        return None


def echarts_script() -> Path | None:
    return SCRIPT if SCRIPT.is_file() else None

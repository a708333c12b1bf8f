"""Where tests keep files for a person to look at (screenshots, rendered pages).

The SQLite and PostgreSQL passes of `make test` run at the same time, so each has its own folder:
var/<name> for SQLite, var/<name>-postgresql for PostgreSQL.
"""

from __future__ import annotations

import os
from pathlib import Path

from backend.config import PROJECT_DIR


def output_dir(name: str, *parts: str) -> Path:
    suffix = "-postgresql" if os.environ.get("TEST_DATABASE_URL") else ""
    return PROJECT_DIR.joinpath("var", name + suffix, *parts)

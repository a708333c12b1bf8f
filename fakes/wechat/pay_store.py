"""Optional persistence of the fake's trades, so bills survive a restart of `make run`.

The whole ledger is rewritten as one JSON file after each change and swapped in atomically: a
crash leaves either the old file or the new one, never half of one. Notification deliveries still
under way are not resumed after a restart.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class JsonStore:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        data = json.loads(self.path.read_text(encoding="utf-8"))
        return list(data.get("trades", []))

    def save(self, trades: list[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        with temporary.open("w", encoding="utf-8") as out:
            json.dump({"version": 1, "trades": trades}, out, ensure_ascii=False)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)

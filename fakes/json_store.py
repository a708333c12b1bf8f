"""Optional persistence for the fakes, so what they hold (trades, ledger messages) survives a
restart of `make run`.

The whole list is rewritten as one JSON file after each change and swapped in atomically: a crash
leaves either the old file or the new one, never half of one. Deliveries still under way are not
resumed after a restart.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class JsonStore:
    def __init__(self, path: str | os.PathLike[str], key: str) -> None:
        self.path = Path(path)
        self.key = key  # the list's name in the file: "trades", "messages"

    def load(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        data = json.loads(self.path.read_text(encoding="utf-8"))
        return list(data.get(self.key, []))

    def save(self, items: list[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        with temporary.open("w", encoding="utf-8") as out:
            json.dump({"version": 1, self.key: items}, out, ensure_ascii=False)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)

"""A short-lived cache of progress answers, per worker process, timed on the business clock.

The rollup changes only when the worker rolls it (today's every PROGRESS_ROLL_SECONDS, a past
day's never, unless an operator rolls it again), yet a county's answer costs a read of a hundred
rows and the ranking of its children: leaders refreshing a dashboard, or a 通报 tool polling,
ask the same thing many times a minute. An answer is kept PROGRESS_CACHE_SECONDS (10) and then
read afresh, so it is at most that much older than the rollup it came from. The database stays
the only record: this holds copies that expire, never a fact of its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from typing import Any


class AnswerCache:
    def __init__(self, *, max_entries: int = 4096) -> None:
        self._entries: OrderedDict[Hashable, tuple[datetime, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries

    def get_or_make(
        self, key: Hashable, make: Callable[[], Any], *, now: datetime, keep: timedelta
    ) -> Any:
        """The answer kept under `key` if younger than `keep`, else `make()`'s (then kept)."""
        if keep <= timedelta(0):
            return make()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > now:
                self._entries.move_to_end(key)
                return entry[1]
        answer = make()  # outside the lock: two misses at once both read, both store the same
        with self._lock:
            self._entries[key] = (now + keep, answer)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return answer

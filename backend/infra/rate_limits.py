"""Rate limits (sign-in, lookup, orders), counted with the `limits` package (flask-limiter's own)
directly.

flask-limiter's extension spends about 0.3 ms per request resolving decorated limits (exemption
scopes, per-request context, limit parsing), and its before-request hook runs on every request,
WeChat's callbacks included; counting a limit costs 6 µs. So the few limited views count here,
in the same storage (Redis when there is one, so every worker counts together), with the same
fixed-window strategy and the same rule for a broken Redis: keep limiting in process memory
rather than take the payment channel down, and go back to Redis once it answers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from backend.infra.clock import wall_seconds

log = logging.getLogger(__name__)

# flask-limiter's namespace, so counters of earlier versions and operators' habits still apply.
KEY_PREFIX = "LIMITER"


@dataclass
class TooManyRequests(Exception):
    limit: str  # as configured, e.g. "10 per minute"
    retry_after: int  # whole seconds until the window that was exceeded resets


@lru_cache(maxsize=64)
def _parse(limit: str) -> RateLimitItem:
    return parse(limit)


def _window_key(key: str, limit: str, now: float) -> tuple[str, int]:
    """The stored counter's name for the business-clock window holding `now`, and its expiry."""
    seconds = _parse(limit).get_expiry()
    return f"{KEY_PREFIX}/{key}/{limit}/{int(now // seconds)}", seconds


class RateLimits:
    """Fixed-window counters in `storage_uri`, with an in-memory stand-in while it is down."""

    def __init__(
        self,
        storage_uri: str,
        *,
        recheck_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        storage: Storage | None = None,
    ):
        self._primary = FixedWindowRateLimiter(storage or storage_from_string(storage_uri))
        self._fallback: FixedWindowRateLimiter | None = None
        self._dead_since: float | None = None
        self._recheck_seconds = recheck_seconds
        self._clock = clock
        self._lock = threading.Lock()

    @property
    def using_fallback(self) -> bool:
        return self._dead_since is not None

    def hit(self, limits: list[tuple[str, str]]) -> None:
        """Count one request against each (limit, key); raise TooManyRequests on the first breach.

        A key names what is counted, e.g. "lookup/user/<openid>"; the limit text is part of the
        stored counter's name, so changing a limit starts a fresh window.

        Every limit is counted even after one fails, as flask-limiter does, so a client that keeps
        knocking stays limited on all of them.
        """
        strategy = self._strategy()
        try:
            breached = self._count(strategy, limits)
        except Exception as exc:  # any storage failure: limits passes the driver's own errors up
            if strategy is not self._primary:
                raise
            self._mark_dead(exc)
            breached = self._count(self._strategy(), limits)
        if breached is not None:
            raise breached

    def count_failure(self, key: str, limit: str, *, now: float) -> None:
        """Count a failure of `key` (e.g. a lookup with a wrong name) in the window of `limit`
        that holds `now` (business-clock Unix seconds)."""
        self._on_storage(lambda storage: storage.incr(*_window_key(key, limit, now)))

    def locked(self, key: str, limit: str, *, now: float) -> bool:
        """Whether `key` has failed as often as `limit` allows in the window holding `now`.

        The window is counted on the business clock (its number is part of the stored key), so
        a test moves the clock rather than sleeping; the storage's expiry only clears old keys.
        """
        name, _ = _window_key(key, limit, now)
        count = self._on_storage(lambda storage: storage.get(name))
        return count >= _parse(limit).amount

    def _on_storage(self, use: Callable[[Storage], int]) -> int:
        strategy = self._strategy()
        try:
            return use(strategy.storage)
        except Exception as exc:  # as hit(): keep counting in memory while storage is down
            if strategy is not self._primary:
                raise
            self._mark_dead(exc)
            return use(self._strategy().storage)

    @staticmethod
    def _count(
        strategy: FixedWindowRateLimiter, limits: list[tuple[str, str]]
    ) -> TooManyRequests | None:
        breached = None
        for text, key in limits:
            item = _parse(text)
            if not strategy.hit(item, KEY_PREFIX, key) and breached is None:
                reset_at, _ = strategy.get_window_stats(item, KEY_PREFIX, key)
                breached = TooManyRequests(text, max(1, int(reset_at - wall_seconds())))
        return breached

    def _strategy(self) -> FixedWindowRateLimiter:
        if self._dead_since is None:
            return self._primary
        if self._clock() - self._dead_since >= self._recheck_seconds:
            with self._lock:
                if self._dead_since is not None and self._primary_answers():
                    log.warning("rate-limit storage is back; counting there again")
                    self._dead_since = None
                    return self._primary
                self._dead_since = self._clock()
        assert self._fallback is not None
        return self._fallback

    def _primary_answers(self) -> bool:
        try:
            return bool(self._primary.storage.check())
        except Exception:  # a storage that cannot even answer check() is still down
            return False

    def _mark_dead(self, exc: Exception) -> None:
        with self._lock:
            if self._fallback is None:
                self._fallback = FixedWindowRateLimiter(MemoryStorage())
            if self._dead_since is None:
                log.warning(
                    "rate-limit storage unreachable (%s); counting in process memory",
                    exc.__class__.__name__,
                )
            self._dead_since = self._clock()

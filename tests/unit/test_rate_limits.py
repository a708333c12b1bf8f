"""Lookup rate limits: fixed windows, every limit counted, and a stand-in while storage is down."""

from __future__ import annotations

import pytest
from limits.storage import MemoryStorage

from backend.infra.rate_limits import RateLimits, TooManyRequests
from backend.infra.web import address_group


class FlakyStorage(MemoryStorage):
    """Memory storage that can be switched off, as a Redis restart would."""

    def __init__(self):
        super().__init__()
        self.down = False

    def incr(self, *args, **kwargs):
        if self.down:
            raise ConnectionError("storage down")
        return super().incr(*args, **kwargs)

    def check(self) -> bool:
        return not self.down


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def hits(limits: RateLimits, n: int, key: str = "lookup/user/a") -> list[bool]:
    answers = []
    for _ in range(n):
        try:
            limits.hit([("2 per minute", key)])
            answers.append(True)
        except TooManyRequests as exc:
            assert exc.limit == "2 per minute"
            assert 1 <= exc.retry_after <= 60
            answers.append(False)
    return answers


def test_a_key_is_refused_after_its_limit_and_others_are_not():
    limits = RateLimits("memory://")
    assert hits(limits, 3) == [True, True, False]
    assert hits(limits, 1, key="lookup/user/b") == [True]


def test_every_limit_is_counted_even_when_the_first_is_breached():
    limits = RateLimits("memory://")
    pair = [("1 per minute", "lookup/address/1.2.3.4"), ("2 per minute", "lookup/user/a")]
    limits.hit(pair)
    with pytest.raises(TooManyRequests) as refused:
        limits.hit(pair)
    assert refused.value.limit == "1 per minute"
    # The user limit counted the refused request too: one more and it is spent as well.
    with pytest.raises(TooManyRequests):
        limits.hit([("2 per minute", "lookup/user/a")])


def test_counting_moves_to_memory_while_storage_is_down_and_back_when_it_recovers():
    storage, clock = FlakyStorage(), Clock()
    limits = RateLimits("memory://", storage=storage, clock=clock, recheck_seconds=30)
    assert hits(limits, 1) == [True]

    storage.down = True
    assert hits(limits, 3) == [True, True, False]  # limited in memory, not lifted
    assert limits.using_fallback

    storage.down = False
    clock.now += 10
    assert hits(limits, 1) == [False]  # not rechecked yet: still counting in memory
    clock.now += 30
    assert hits(limits, 2) == [True, False]  # back on the storage, where one hit was counted
    assert not limits.using_fallback


@pytest.mark.parametrize(
    ("address", "counted_as"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),  # same /64: one caller
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),  # an IPv4 client on a dual-stack socket
        ("unknown", "unknown"),
    ],
)
def test_an_ipv6_host_counts_by_its_64_and_ipv4_by_address(address, counted_as):
    assert address_group(address) == counted_as


def test_failures_lock_a_key_until_its_business_clock_window_ends():
    limits, hour = RateLimits("memory://"), 3600.0
    start = 1000 * hour + 10
    for _ in range(2):
        assert not limits.locked("lookup/failures/k", "2 per hour", now=start)
        limits.count_failure("lookup/failures/k", "2 per hour", now=start)
    assert limits.locked("lookup/failures/k", "2 per hour", now=start + 60)
    assert not limits.locked("lookup/failures/other", "2 per hour", now=start + 60)
    assert not limits.locked("lookup/failures/k", "2 per hour", now=start + hour)

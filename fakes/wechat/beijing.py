"""Beijing time (UTC+8), the only clock WeChat Pay speaks: order windows, time_end, bill days."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
COMPACT = "%Y%m%d%H%M%S"  # time_start, time_expire, time_end
DASHED = "%Y-%m-%d %H:%M:%S"  # refund_success_time, success_time, bill rows


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, BEIJING)


def compact(epoch: float) -> str:
    return at(epoch).strftime(COMPACT)


def dashed(epoch: float) -> str:
    return at(epoch).strftime(DASHED)


def parse_compact(text: str) -> float:
    """`yyyyMMddHHmmss` read as Beijing time, to epoch seconds; ValueError when malformed."""
    if len(text) != 14 or not text.isdigit():
        raise ValueError(text)
    return datetime.strptime(text, COMPACT).replace(tzinfo=BEIJING).timestamp()


def day_of(epoch: float) -> str:
    """The Beijing calendar day (`yyyyMMdd`) an instant falls on: the bill it belongs to."""
    return at(epoch).strftime("%Y%m%d")

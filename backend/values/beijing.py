"""Beijing time (UTC+8, no daylight saving): WeChat's times, its bill days and ours are cut in it."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def beijing_today(now: datetime) -> date:
    return now.astimezone(BEIJING).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The aware instants [midnight, next midnight) of a Beijing day."""
    start = datetime.combine(day, time(), BEIJING)
    return start, start + timedelta(days=1)


def beijing_text(moment: datetime) -> str:
    """'2019-11-05 18:00:00', as staff read times in files."""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def compact_text(moment: datetime) -> str:
    """'20191105180000': Beijing time as WeChat Pay writes it (order numbers, time_expire)."""
    return moment.astimezone(BEIJING).strftime("%Y%m%d%H%M%S")


def chinese_date(day: date) -> str:
    """'2019年12月31日', as a sentence for residents writes a date."""
    return f"{day.year}年{day.month}月{day.day}日"

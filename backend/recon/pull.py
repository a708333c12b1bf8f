"""Pulling the payment platform's bill of a day: download, store the file with its hash, read it,
record the day (ok, empty, invalid).

The file is kept as downloaded (UTF-8 bytes, the platform's line endings) in BILL_DIR as
YYYYMMDD-ALL.txt, also when it cannot be read, so it can be inspected. Pulling a day again
replaces the file and updates the day's record. The download happens outside any transaction.
"""

from __future__ import annotations

import calendar
import hashlib
import os
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from backend.errors import Conflict, Refused, Unavailable
from backend.infra import audit
from backend.infra.uow import UnitOfWork
from backend.models import WeChatBill
from backend.payments.bill import BillError
from backend.payments.gateway import GatewayError, PaymentGateway
from backend.values.beijing import beijing_today


class BillNotReady(Conflict):
    """The day's bill cannot exist yet: the platform writes the bill of day D on D+1 (Beijing)."""


# WeChat Pay serves the bills of the last three months only.
BILL_MONTHS_KEPT = 3


class BillTooOld(Refused):
    """The day is older than the platform keeps bills: asking would only be answered with an error."""


def oldest_bill_day(today: date) -> date:
    """The first day whose bill the platform still serves: the same day three months back."""
    year, month = divmod(today.year * 12 + today.month - 1 - BILL_MONTHS_KEPT, 12)
    return date(year, month + 1, min(today.day, calendar.monthrange(year, month + 1)[1]))


def bill_path(bill_dir: Path, day: date) -> Path:
    return bill_dir / f"{day:%Y%m%d}-ALL.txt"


def pull_bill(
    uow: UnitOfWork,
    gateway: PaymentGateway,
    day: date,
    *,
    bill_dir: Path,
    now: datetime,
    actor: str,
    region_code: str,
    today: date | None = None,
) -> WeChatBill:
    """Download, store and read the bill of `day`; keep its record (one per day).

    `region_code`: the caller's region, where the audit entry is filed (a bill is the whole
    merchant account's). `today` is the Beijing date (by default that of `now`); only days
    before it, and no older than three months (BILL_MONTHS_KEPT), are pulled.
    Unavailable when the platform cannot be reached; the record stays as it was then.
    """
    today = today or beijing_today(now)
    if day >= today:
        latest = today - timedelta(days=1)
        raise BillNotReady(
            f"{day.isoformat()} 的对账单还不能下载：微信在次日（北京时间）生成前一天的对账单，"
            f"最近可下载的是 {latest.isoformat()}。",
            reason="bill_not_ready",
        )
    if day < oldest_bill_day(today):
        raise BillTooOld(
            f"{day.isoformat()} 的对账单已无法下载：微信支付只保留近三个月的对账单"
            f"（最早可下载 {oldest_bill_day(today).isoformat()}）。",
            reason="bill_too_old",
            field="date",
        )
    try:
        text = gateway.download_bill(day)
    except GatewayError as exc:
        raise Unavailable(
            f"暂时无法连接微信支付，请稍后再试（{exc}）。", reason="payment_unavailable"
        ) from exc
    stored = None
    if text is not None:
        data = text.encode("utf-8")
        stored = bill_path(bill_dir, day)
        _write_atomically(stored, data)
        digest = hashlib.sha256(data).hexdigest()

    with uow as session:
        record = session.scalar(select(WeChatBill).where(WeChatBill.bill_date == day))
        first = record is None
        previous = None if record is None else record.sha256
        if record is None:
            record = WeChatBill(bill_date=day, fetched_at=now)
            session.add(record)
        _reset(record, now)
        if stored is None:
            record.status = "empty"
        else:
            record.sha256, record.path = digest, str(stored)
            _count(record, gateway, stored)
        record.hash_changed = None if first else record.sha256 != previous
        audit.record(
            session,
            actor=actor,
            action="bill.pull",
            region_code=region_code,
            target=day.isoformat(),
            detail={
                "status": record.status,
                "sha256": record.sha256,
                "previous_sha256": previous,
                "changed": record.hash_changed,
                "rows": record.row_count,
                "error": record.error,
            },
        )
        return record


def _reset(record: WeChatBill, now: datetime) -> None:
    record.fetched_at = now
    record.sha256 = record.path = record.error = None
    record.row_count = record.payment_count = record.refund_count = 0
    record.settlement_fen = record.refund_fen = 0


def _count(record: WeChatBill, gateway: PaymentGateway, path: Path) -> None:
    """Read the stored file as a table; the reader checks the totals line against the rows."""
    bill = gateway.read_bill(path)
    try:
        frame = bill.frame()
        if bill.totals is None:
            raise BillError(1, "the bill is blank")
    except BillError as exc:
        record.status = "invalid"
        record.error = str(exc)[:255]
        return
    refunds = int(frame.get_column("is_refund").sum())
    record.status = "ok"
    record.row_count = frame.height
    record.payment_count, record.refund_count = frame.height - refunds, refunds
    record.settlement_fen = bill.totals.paid_fen
    record.refund_fen = bill.totals.refund_fen


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise

"""Pulling WeChat Pay's ALL bill of a day: download, store the file with its hash, parse, record.

The file is kept as downloaded (UTF-8 bytes, WeChat's line endings) in BILL_DIR as
YYYYMMDD-ALL.txt, also when it cannot be parsed, so it can be inspected. Pulling a day again
replaces the file and updates the day's record.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.infra import audit
from backend.models import WeChatBill
from backend.payments.gateway import PaymentGateway
from backend.payments.wechat.bill import BillError, parse_file
from backend.values.beijing import beijing_today


class BillNotReady(ValueError):
    """The day's bill cannot exist yet: WeChat writes the bill of day D on D+1 (Beijing time)."""


def bill_path(bill_dir: Path, day: date) -> Path:
    return bill_dir / f"{day:%Y%m%d}-ALL.txt"


def pull_bill(
    session: Session,
    gateway: PaymentGateway,
    day: date,
    *,
    bill_dir: Path,
    now: datetime,
    actor: str,
    today: date | None = None,
) -> WeChatBill:
    """Download, store and parse the ALL bill of `day`; commit its record (one per day).

    `today` is the Beijing date (by default that of `now`); only days before it are pulled.
    Gateway errors propagate and leave the record as it was.
    """
    today = today or beijing_today(now)
    if day >= today:
        latest = today - timedelta(days=1)
        raise BillNotReady(
            f"no bill for {day.isoformat()} yet: WeChat writes a day's bill on the next day "
            f"(Beijing time); the latest is {latest.isoformat()}"
        )
    text = gateway.download_bill(day)

    record = session.scalar(select(WeChatBill).where(WeChatBill.bill_date == day))
    previous = record.sha256 if record is not None else None
    if record is None:
        record = WeChatBill(bill_date=day, fetched_at=now)
        session.add(record)
        first = True
    else:
        first = False
    _reset(record, now)

    if text is None:
        record.status = "empty"
    else:
        data = text.encode("utf-8")
        path = bill_path(bill_dir, day)
        _write_atomically(path, data)
        record.sha256 = hashlib.sha256(data).hexdigest()
        record.path = str(path)
        _count(record, path)

    record.hash_changed = None if first else record.sha256 != previous
    audit.record(
        session,
        actor=actor,
        action="bill.pull",
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
    session.commit()
    return record


def _reset(record: WeChatBill, now: datetime) -> None:
    record.fetched_at = now
    record.sha256 = record.path = record.error = None
    record.row_count = record.payment_count = record.refund_count = 0
    record.settlement_fen = record.refund_fen = 0


def _count(record: WeChatBill, path: Path) -> None:
    """Read the stored file as a table; the parser checks the totals line against the rows."""
    bill = parse_file(path)
    try:
        frame = bill.frame()
        if bill.summary is None:
            raise BillError(1, "the bill is blank")
    except BillError as exc:
        record.status = "invalid"
        record.error = str(exc)[:255]
        return
    refunds = int(frame.get_column("is_refund").sum())
    record.status = "ok"
    record.row_count = frame.height
    record.payment_count, record.refund_count = frame.height - refunds, refunds
    record.settlement_fen = bill.summary.settlement_fen
    record.refund_fen = bill.summary.refund_fen


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

"""The bureau's memory: every accepted message, its deliveries, its confirmation, the faults.

One thread-safe object shared by the endpoints and the confirmation threads. A message is known by
its message_id: a repeat is the same message (same ledger_ref), counted only as another delivery.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from fakes.json_store import JsonStore

BEIJING = timezone(timedelta(hours=8))
PAYMENT, REVERSAL = "payment", "reversal"
PAYMENT_FIELDS = (
    "message_id",
    "collection_no",
    "id_number",
    "name",
    "scheme",
    "period_year",
    "amount_fen",
    "paid_at",
    "channel",
    "order_no",
    "transaction_id",
)
# Switches flipped through /_control/faults; "fail_next" counts down, "slow" is seconds.
BOOL_FAULTS = ("down", "error_500", "wrong_signature", "duplicate_confirmation", "no_confirmation")
KNOWN_FAULTS = (*BOOL_FAULTS, "slow", "fail_next")


def beijing_iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, BEIJING).isoformat(timespec="seconds")


def new_ledger_ref(now: float) -> str:
    """`L` + Beijing date + 12 hex digits: unique across resets and restarts."""
    day = datetime.fromtimestamp(now, BEIJING).strftime("%Y%m%d")
    return f"L{day}{uuid.uuid4().hex[:12].upper()}"


def new_receipt_no(now: float) -> str:
    """20 digits like an e-tax payment receipt: tax office 4107, year, then a serial number."""
    year = datetime.fromtimestamp(now, BEIJING).strftime("%y")
    return f"4107{year}{secrets.randbelow(10**14):014d}"


@dataclass
class Attempt:
    """One HTTP delivery of a confirmation."""

    at: str  # ISO 8601, +08:00
    status: int | None  # None when no answer (refused, timeout)
    error: str | None = None


@dataclass
class Confirmation:
    tax_receipt_no: str
    entered_at: str | None = None  # fixed when first sent
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return any(a.status is not None and 200 <= a.status < 300 for a in self.attempts)


@dataclass
class Message:
    message_id: str
    ledger_ref: str
    kind: str  # payment or reversal
    body: dict[str, Any]
    received_at: str
    deliveries: int = 1
    confirmation: Confirmation | None = None

    def view(self) -> dict[str, Any]:
        data = asdict(self)
        if self.confirmation is not None:
            data["confirmation"]["acknowledged"] = self.confirmation.acknowledged
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        data = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        confirmation = data.get("confirmation")
        if confirmation is not None:
            attempts = [Attempt(**a) for a in confirmation.get("attempts", [])]
            data["confirmation"] = Confirmation(
                tax_receipt_no=confirmation["tax_receipt_no"],
                entered_at=confirmation.get("entered_at"),
                attempts=attempts,
            )
        return cls(**data)


class Ledger:
    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        store: JsonStore | None = None,
        admit: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.clock = clock
        self.store = store
        # Called before a new message is recorded; raises to refuse it (registrations.py).
        self.admit = admit
        self.lock = threading.Lock()
        self.faults: dict[str, Any] = {}
        self.messages: dict[str, Message] = {}
        if store is not None:
            for data in store.load():
                message = Message.from_dict(data)
                self.messages[message.message_id] = message

    def accept(self, kind: str, body: dict[str, Any]) -> tuple[Message, bool]:
        """Record a message (or one more delivery of it); returns (message, new)."""
        message_id = body["message_id"]
        with self.lock:
            known = self.messages.get(message_id)
            if known is not None:
                known.deliveries += 1
                self._save()
                return known, False
            if self.admit is not None:
                self.admit(kind, body)
            now = self.clock()
            message = Message(
                message_id=message_id,
                ledger_ref=new_ledger_ref(now),
                kind=kind,
                body=body,
                received_at=beijing_iso(now),
                confirmation=Confirmation(new_receipt_no(now)) if kind == PAYMENT else None,
            )
            self.messages[message_id] = message
            self._save()
            return message, True

    def payment_by_ref(self, ledger_ref: Any) -> Message | None:
        with self.lock:
            return next(
                (
                    m
                    for m in self.messages.values()
                    if m.kind == PAYMENT and m.ledger_ref == ledger_ref
                ),
                None,
            )

    def find_ledger_ref(self, message_id: str) -> str | None:
        with self.lock:
            message = self.messages.get(message_id)
            return message.ledger_ref if message else None

    def confirmation_body(self, message_id: str) -> dict[str, str] | None:
        """The treasury-entry confirmation of a payment; entered_at is fixed the first time."""
        with self.lock:
            message = self.messages.get(message_id)
            if message is None or message.confirmation is None:
                return None
            confirmation = message.confirmation
            if confirmation.entered_at is None:
                confirmation.entered_at = beijing_iso(self.clock())
                self._save()
            return {
                "ledger_ref": message.ledger_ref,
                "message_id": message.message_id,
                "tax_receipt_no": confirmation.tax_receipt_no,
                "entered_at": confirmation.entered_at,
            }

    def record_attempt(self, message_id: str, status: int | None, error: str | None) -> None:
        with self.lock:
            message = self.messages.get(message_id)
            if message is None or message.confirmation is None:
                return  # forgotten by a reset while the attempt was under way
            message.confirmation.attempts.append(Attempt(beijing_iso(self.clock()), status, error))
            self._save()

    # faults

    def fault(self, name: str) -> Any:
        with self.lock:
            return self.faults.get(name)

    def set_faults(self, switches: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            for name, value in switches.items():
                if name in BOOL_FAULTS:
                    self.faults[name] = bool(value)
                elif name == "slow":
                    self.faults[name] = float(value or 0)
                else:
                    self.faults[name] = int(value or 0)
            return dict(self.faults)

    def take_failure(self) -> bool:
        """True when `fail_next` still counts down (and counts this call)."""
        with self.lock:
            left = self.faults.get("fail_next") or 0
            if left <= 0:
                return False
            self.faults["fail_next"] = left - 1
            return True

    # whole ledger

    def views(self) -> list[dict[str, Any]]:
        with self.lock:
            return [m.view() for m in self.messages.values()]

    def view(self, message_id: str) -> dict[str, Any] | None:
        with self.lock:
            message = self.messages.get(message_id)
            return message.view() if message else None

    def reset(self) -> None:
        with self.lock:
            self.messages.clear()
            self.faults.clear()
            self._save()

    def _save(self) -> None:
        if self.store is not None:
            self.store.save([asdict(m) for m in self.messages.values()])

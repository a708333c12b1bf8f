"""The tax ledger port: what delivery needs from the bureau's ledger, in our words.

The adapter is the signed HTTP client (backend/ledger/client.py); tests and `make run` use it
against the fake bureau, a real HTTP server.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

MessageKind = Literal["payment", "reversal"]

# The bureau's code for a payment whose collection serial it was never pushed.
UNKNOWN_COLLECTION_NO = "unknown_collection_no"


class LedgerError(Exception):
    """The bureau did not accept a message (or a batch); `http_status` when it answered at all,
    `code` when its answer named one."""

    def __init__(
        self, message: str, http_status: int | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.code = code


@dataclass(frozen=True)
class PushAnswer:
    """The bureau's answer about one registration of a batch: accepted under `ledger_ref`, or
    refused with a code and a reason."""

    message_id: str
    ledger_ref: str | None = None
    code: str | None = None
    reason: str | None = None

    @property
    def accepted(self) -> bool:
        return self.ledger_ref is not None


class TaxLedger(Protocol):
    def send(self, kind: MessageKind, body: dict[str, Any]) -> tuple[str, int]:
        """Deliver one message; (the bureau's ledger_ref, the HTTP status). LedgerError when
        not accepted. Sending a message_id again is the same message to the bureau."""
        ...

    def push(
        self, batch_id: str, registrations: Sequence[dict[str, Any]]
    ) -> tuple[dict[str, PushAnswer], int]:
        """Push a batch of registrations in one call; (the answer per message_id, the HTTP
        status). LedgerError when the batch as a whole was not taken (the bureau kept none of
        it). A message_id pushed again is the same registration message to the bureau."""
        ...

"""The tax ledger port: what delivery needs from the bureau's ledger, in our words.

The adapter is the signed HTTP client (backend/ledger/client.py); tests and `make run` use it
against the fake bureau, a real HTTP server.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

MessageKind = Literal["payment", "reversal"]


class LedgerError(Exception):
    """The bureau did not accept a message; `http_status` when it answered at all."""

    def __init__(self, message: str, http_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status


class TaxLedger(Protocol):
    def send(self, kind: MessageKind, body: dict[str, Any]) -> tuple[str, int]:
        """Deliver one message; (the bureau's ledger_ref, the HTTP status). LedgerError when
        not accepted. Sending a message_id again is the same message to the bureau."""
        ...

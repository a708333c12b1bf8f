"""HTTP client of the bureau's ledger API: one signed POST per message."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import requests

from backend.ledger.signing import sign


@dataclass
class LedgerError(Exception):
    message: str
    http_status: int | None = None

    def __str__(self) -> str:
        return self.message


PATHS = {"payment": "/payments", "reversal": "/reversals"}


class TaxLedgerClient:
    def __init__(self, base_url: str, secret: str, timeout: float = 10.0) -> None:
        self._base = base_url.rstrip("/")
        self._secret = secret
        self._timeout = timeout
        self._http = requests.Session()

    def send(self, kind: str, body: dict[str, Any]) -> tuple[str, int]:
        """Return (ledger_ref, HTTP status); raise LedgerError when not accepted."""
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Timestamp": timestamp,
            "X-Signature": sign(self._secret, timestamp, raw),
        }
        try:
            answer = self._http.post(
                self._base + PATHS[kind], data=raw, headers=headers, timeout=self._timeout
            )
        except requests.RequestException as exc:
            raise LedgerError(f"bureau unreachable: {exc.__class__.__name__}") from exc
        if answer.status_code != 200:
            raise LedgerError(
                f"bureau answered {answer.status_code}: {answer.text[:120]}", answer.status_code
            )
        try:
            return str(answer.json()["ledger_ref"]), answer.status_code
        except (ValueError, KeyError, TypeError) as exc:
            raise LedgerError("bureau answer has no ledger_ref", answer.status_code) from exc

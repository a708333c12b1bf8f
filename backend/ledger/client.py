"""The tax ledger adapter: the bureau's ledger API over HTTP, one signed POST per message."""

from __future__ import annotations

import json
from typing import Any

import requests

from backend.infra.clock import Clock
from backend.ledger.port import LedgerError, MessageKind
from backend.ledger.signing import sign

PATHS = {"payment": "/payments", "reversal": "/reversals"}


class TaxLedgerClient:
    def __init__(self, base_url: str, secret: str, clock: Clock, timeout: float = 10.0) -> None:
        self._base = base_url.rstrip("/")
        self._secret = secret
        self._clock = clock
        self._timeout = timeout
        self._http = requests.Session()
        # The environment's proxy settings, read once rather than on every message.
        self._http.trust_env = False
        self._http.proxies = requests.utils.get_environ_proxies(self._base)

    def send(self, kind: MessageKind, body: dict[str, Any]) -> tuple[str, int]:
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = str(int(self._clock.now().timestamp()))
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

"""The tax ledger adapter: the bureau's ledger API over HTTP, one signed POST per message (a
payment, a reversal) or per batch of registrations."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import requests

from backend.infra.clock import Clock
from backend.ledger.port import LedgerError, MessageKind, PushAnswer
from backend.ledger.signing import signed_headers

PATHS = {"payment": "/payments", "reversal": "/reversals"}
PUSH_PATH = "/registrations"


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
        answer = self._post(PATHS[kind], body)
        try:
            return str(answer.json()["ledger_ref"]), answer.status_code
        except (ValueError, KeyError, TypeError) as exc:
            raise LedgerError("bureau answer has no ledger_ref", answer.status_code) from exc

    def push(
        self, batch_id: str, registrations: Sequence[dict[str, Any]]
    ) -> tuple[dict[str, PushAnswer], int]:
        answer = self._post(PUSH_PATH, {"batch_id": batch_id, "registrations": list(registrations)})
        try:
            results = answer.json()["results"]
            answers = {}
            for result in results:
                message_id = str(result["message_id"])
                if result["status"] == "accepted":
                    answers[message_id] = PushAnswer(
                        message_id, ledger_ref=str(result["ledger_ref"])
                    )
                else:
                    answers[message_id] = PushAnswer(
                        message_id, code=result.get("code"), reason=result.get("reason")
                    )
        except (ValueError, KeyError, TypeError) as exc:
            raise LedgerError("bureau answer has no results per registration", 200) from exc
        return answers, answer.status_code

    def _post(self, path: str, body: dict[str, Any]) -> requests.Response:
        """The signed POST (design.md section 8); LedgerError unless the bureau answers 200."""
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        url = self._base + path
        headers = signed_headers(self._secret, "POST", url, raw, now=self._clock.now().timestamp())
        try:
            answer = self._http.post(url, data=raw, headers=headers, timeout=self._timeout)
        except requests.RequestException as exc:
            raise LedgerError(f"bureau unreachable: {exc.__class__.__name__}") from exc
        if answer.status_code != 200:
            raise LedgerError(
                f"bureau answered {answer.status_code}: {answer.text[:120]}",
                answer.status_code,
                _code(answer),
            )
        return answer


def _code(answer: requests.Response) -> str | None:
    """The error code a refusal names (`code`, or the older `error`), if it is JSON."""
    try:
        body = answer.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    code = body.get("code") or body.get("error")
    return code if isinstance(code, str) else None

"""The port the outbox sends through: one subscription message to one user, in our terms."""

from __future__ import annotations

from typing import Any, Protocol

REFUSED_BY_USER = 43101  # no allowance left at WeChat, or the user unsubscribed


class SendError(Exception):
    """WeChat did not take the message. `refused`: the user will not receive it (43101), so
    asking again is pointless; otherwise it may go through later (-1, a network failure, an
    HTTP error, a token that would not refresh) and is retried on the schedule."""

    def __init__(self, message: str, *, errcode: int | None = None, refused: bool = False):
        super().__init__(message)
        self.errcode = errcode
        self.refused = refused


class Messenger(Protocol):
    def send(
        self, openid: str, template_id: str, data: dict[str, Any], page: str | None
    ) -> None: ...

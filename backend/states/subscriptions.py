"""The WeChat subscription message (订阅消息) state machine, pure.

pending ──send (WeChat took it)──▶ sent
pending ──refuse (43101: the user has no allowance left, or unsubscribed)──▶ refused
pending ──bury (every retry failed)──▶ dead

A refused message is final: asking again would only be refused again, and a second allowance the
user grants later belongs to a later event, never to this one.
"""

from __future__ import annotations

from enum import StrEnum

from backend.states.machine import Machine, move


class WeChatMessageStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    REFUSED = "refused"
    DEAD = "dead"


WECHAT_MESSAGE = Machine(
    "wechat message",
    WeChatMessageStatus,
    [
        move("send", WeChatMessageStatus.PENDING, WeChatMessageStatus.SENT),
        move("refuse", WeChatMessageStatus.PENDING, WeChatMessageStatus.REFUSED),
        move("bury", WeChatMessageStatus.PENDING, WeChatMessageStatus.DEAD),
    ],
)

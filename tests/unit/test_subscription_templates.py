"""Subscription messages: what each says (masked names, yuan, WeChat's field limits) and the
message machine."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from backend.states.machine import IllegalMove
from backend.states.subscriptions import WECHAT_MESSAGE, WeChatMessageStatus
from backend.subscriptions import templates


def values(data):
    return {key: field["value"] for key, field in data.items()}


def test_a_household_receipt_names_the_first_person_masked_and_counts_the_rest():
    data = values(
        templates.tax_receipt(
            names=["欧阳娜娜", "张三"],
            paid_fen=50000,
            receipt_no="332019112000000001",
            entered_at=datetime(2019, 11, 20, 1, 5, tzinfo=UTC),
            schemes=[("medical", 2020), ("medical", 2020)],
        )
    )
    assert data == {
        "thing1": "欧*** 等2人",
        "amount2": "500.00元",
        "character_string3": "332019112000000001",
        "date4": "2019-11-20 09:05",  # Beijing time
        "thing5": "2020年度医疗保险等2项已入库",
    }


def test_every_field_keeps_within_wechats_limits():
    data = templates.refund(
        name="张三",
        amount_fen=1,
        refund_no="SI2019112009000012345678901R12345",  # 34 characters
        refunded_at=datetime(2019, 11, 20, tzinfo=UTC),
        scheme="pension",
        year=2019,
    )
    assert len(data["character_string3"]["value"]) == 32
    assert data["amount2"]["value"] == "0.01元"
    assert templates.clip("thing1", "一" * 25) == "一" * 19 + "…"
    for key, field in data.items():
        assert len(field["value"]) <= templates.LIMITS[templates.field_type(key)]


def test_a_reminder_counts_the_unpaid_and_the_days_left():
    data = values(
        templates.deadline(
            names=["李四", "王五"], deadline=date(2019, 11, 30), unpaid=3, days_left=0
        )
    )
    assert data == {
        "thing1": "李* 等2人",
        "date2": "2019-11-30",
        "thing3": "尚有3项参保未缴费",
        "thing4": "今天截止，请尽快缴费",
    }


def test_a_message_leaves_pending_once_and_a_refusal_is_final():
    assert WECHAT_MESSAGE.after(WeChatMessageStatus.PENDING, "send") is WeChatMessageStatus.SENT
    assert (
        WECHAT_MESSAGE.after(WeChatMessageStatus.PENDING, "refuse") is WeChatMessageStatus.REFUSED
    )
    for done in (WeChatMessageStatus.SENT, WeChatMessageStatus.REFUSED, WeChatMessageStatus.DEAD):
        for event in ("send", "refuse", "bury"):
            with pytest.raises(IllegalMove):
                WECHAT_MESSAGE.after(done, event)

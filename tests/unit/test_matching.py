"""Matching a bill against our records: every fen WeChat took is matched or explained."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from backend.recon.matching import OurPayment, match

DAY = date(2019, 11, 5)


@dataclass(frozen=True)
class Row:
    out_trade_no: str
    transaction_id: str
    settlement_fen: int
    refund_fen: int = 0
    is_refund: bool = False


# One order's story: WeChat took the money or not; our side heard of it or not (a lost
# notification); it was a duplicate of another order's payment; part of it was refunded.
stories = st.lists(
    st.fixed_dictionaries(
        {
            "fen": st.integers(min_value=1, max_value=500_000),
            "paid_at_wechat": st.booleans(),
            "notified": st.booleans(),
            "duplicate": st.booleans(),
            "refund": st.integers(min_value=0, max_value=100),
        }
    ),
    max_size=30,
)


def build(history):
    bill, ours = [], {}
    for n, story in enumerate(history):
        number, txn = f"SI{n:06d}", f"42{n:026d}"
        if not story["paid_at_wechat"]:
            ours[number] = OurPayment(number, None, None, "closed")
            continue
        bill.append(Row(number, txn, story["fen"]))
        # Only a payment we know of can be refunded (refunds go through our staff).
        refund = story["fen"] * story["refund"] // 100 if story["notified"] else 0
        if refund:
            bill.append(Row(number, txn, 0, refund, True))
        if not story["notified"]:
            ours[number] = OurPayment(number, None, None, "created")
        else:
            status = "refund_due" if story["duplicate"] else "paid"
            ours[number] = OurPayment(number, txn, story["fen"], status, refund, DAY)
    return bill, ours


@given(stories)
def test_every_fen_wechat_took_is_matched_or_explained(history):
    bill, ours = build(history)
    outcome = match(bill, ours, day=DAY, today=DAY)
    taken = sum(r.settlement_fen for r in bill if not r.is_refund)
    credited = sum(
        p.paid_fen for p in ours.values() if p.status == "paid" and p.paid_fen is not None
    )
    explained = sum(
        d.bill_fen or 0
        for d in outcome.discrepancies
        if d.kind in ("missing_in_ours", "duplicate_payment", "amount_mismatch")
    )
    assert taken == credited + explained
    assert outcome.matched == sum(1 for p in ours.values() if p.status == "paid")
    assert not outcome.of("status_mismatch")  # our refunds agree with the bill's


@given(stories)
def test_each_order_is_reported_at_most_once(history):
    bill, ours = build(history)
    outcome = match(bill, ours, day=DAY, today=DAY)
    numbers = [d.order_no for d in outcome.discrepancies]
    assert len(numbers) == len(set(numbers))


def test_a_lost_notification_shows_as_missing_in_ours():
    outcome = match(
        [Row("SI1", "T1", 25000)],
        {"SI1": OurPayment("SI1", None, None, "created")},
        day=DAY,
        today=DAY,
    )
    (found,) = outcome.discrepancies
    assert (found.kind, found.bill_fen) == ("missing_in_ours", 25000)


def test_a_payment_missing_from_the_bill_is_held_two_days_then_flagged():
    ours = {"SI1": OurPayment("SI1", "T1", 25000, "paid", paid_on=DAY)}
    assert match([], ours, day=DAY, today=date(2019, 11, 7)).discrepancies[0].held
    late = match([], ours, day=DAY, today=date(2019, 11, 8)).discrepancies[0]
    assert (late.kind, late.held) == ("missing_in_bill", False)


def test_amounts_that_differ_and_refunds_on_one_side_are_flagged():
    ours = {
        "SI1": OurPayment("SI1", "T1", 25000, "paid"),
        "SI2": OurPayment("SI2", "T2", 20000, "paid"),
    }
    bill = [Row("SI1", "T1", 24000), Row("SI2", "T2", 20000), Row("SI2", "T2", 0, 20000, True)]
    outcome = match(bill, ours, day=DAY, today=DAY)
    assert [(d.kind, d.order_no) for d in outcome.discrepancies] == [
        ("amount_mismatch", "SI1"),
        ("status_mismatch", "SI2"),
    ]

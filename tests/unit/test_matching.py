"""Matching a bill against our records: every fen WeChat took is matched or explained."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from backend.recon.matching import OurPayment, OurRefund, match

DAY = date(2019, 11, 5)


@dataclass(frozen=True)
class Row:
    out_trade_no: str
    transaction_id: str
    settlement_fen: int
    refund_fen: int = 0
    out_refund_no: str | None = None

    @property
    def is_refund(self) -> bool:
        return self.out_refund_no is not None


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
    bill, ours, refunds = [], {}, {}
    for n, story in enumerate(history):
        number, txn = f"SI{n:06d}", f"42{n:026d}"
        if not story["paid_at_wechat"]:
            ours[number] = OurPayment(number, None, None, "closed")
            continue
        bill.append(Row(number, txn, story["fen"]))
        # Only a payment we know of can be refunded (refunds go through our staff).
        refund = story["fen"] * story["refund"] // 100 if story["notified"] else 0
        if refund:
            bill.append(Row(number, txn, 0, refund, f"{number}R1"))
            refunds[f"{number}R1"] = OurRefund(f"{number}R1", number, refund)
        if not story["notified"]:
            ours[number] = OurPayment(number, None, None, "created")
        else:
            status = "refund_due" if story["duplicate"] else "paid"
            ours[number] = OurPayment(number, txn, story["fen"], status, DAY)
    return bill, ours, refunds


@given(stories)
def test_every_fen_wechat_took_is_matched_or_explained(history):
    bill, ours, refunds = build(history)
    outcome = match(bill, ours, day=DAY, today=DAY, refunds=refunds)
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
    assert outcome.matched == sum(1 for p in ours.values() if p.status == "paid") + len(refunds)
    assert not outcome.of("status_mismatch")  # our refunds agree with the bill's


@given(stories)
def test_each_order_is_reported_at_most_once(history):
    bill, ours, refunds = build(history)
    outcome = match(bill, ours, day=DAY, today=DAY, refunds=refunds)
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
    bill = [
        Row("SI1", "T1", 24000),
        Row("SI2", "T2", 20000),
        Row("SI2", "T2", 0, 20000, "SI2R1"),  # WeChat gave it back; we never asked
    ]
    ours_refunds = {"SI3R1": OurRefund("SI3R1", "SI3", 500)}  # we think so; WeChat does not
    outcome = match(bill, ours, day=DAY, today=DAY, refunds=ours_refunds)
    assert [(d.kind, d.order_no, d.refund_no) for d in outcome.discrepancies] == [
        ("amount_mismatch", "SI1", ""),
        ("status_mismatch", "SI2", "SI2R1"),
        ("status_mismatch", "SI3", "SI3R1"),
    ]


def test_a_refund_of_an_earlier_days_payment_matches_by_refund_number():
    bill = [Row("SI9", "T9", 0, 3000, "SI9R1")]  # paid days ago, refunded today
    outcome = match(
        bill, {}, day=DAY, today=DAY, refunds={"SI9R1": OurRefund("SI9R1", "SI9", 3000)}
    )
    assert (outcome.matched, outcome.discrepancies) == (1, [])

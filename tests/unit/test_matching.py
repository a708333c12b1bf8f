"""Matching a bill against our records: every fen WeChat took is matched or explained."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from backend.recon.matching import (
    PAYMENT_SCHEMA,
    Discrepancy,
    OurPayment,
    OurPayments,
    OurRefund,
    Outcome,
    match,
)

DAY = date(2019, 11, 5)


@dataclass(frozen=True)
class Row:
    order_no: str
    transaction_id: str
    paid_fen: int
    refund_fen: int = 0
    refund_no: str | None = None

    @property
    def is_refund(self) -> bool:
        return self.refund_no is not None


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
    taken = sum(r.paid_fen for r in bill if not r.is_refund)
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


# The rules of matching, one bill row at a time, as plain Python: what the table join must give,
# discrepancy for discrepancy and in the same order.
def one_at_a_time(bill, ours, *, day, today, refunds):
    outcome = Outcome()
    waiting, refunds_waiting = dict(ours), dict(refunds)
    for row in bill:
        if row.is_refund:
            refund = refunds_waiting.pop(row.refund_no or "", None)
            if refund is None or refund.amount_fen != row.refund_fen:
                outcome.discrepancies.append(
                    Discrepancy(
                        "status_mismatch",
                        row.order_no,
                        row.transaction_id,
                        refund.amount_fen if refund else None,
                        row.refund_fen,
                        refund_no=row.refund_no or "",
                    )
                )
            else:
                outcome.matched += 1
            continue
        payment = waiting.pop(row.order_no, None)
        if payment is None or payment.paid_fen is None:
            kind, ours_fen = "missing_in_ours", None
        elif payment.status == "refund_due":
            kind, ours_fen = "duplicate_payment", payment.paid_fen
        elif payment.transaction_id not in (None, row.transaction_id):
            kind, ours_fen = "status_mismatch", payment.paid_fen
        elif payment.paid_fen != row.paid_fen:
            kind, ours_fen = "amount_mismatch", payment.paid_fen
        else:
            outcome.matched += 1
            continue
        outcome.discrepancies.append(
            Discrepancy(kind, row.order_no, row.transaction_id, ours_fen, row.paid_fen)
        )
    for refund in refunds_waiting.values():
        payment = ours.get(refund.order_no)
        outcome.discrepancies.append(
            Discrepancy(
                "status_mismatch",
                refund.order_no,
                payment.transaction_id if payment else None,
                refund.amount_fen,
                None,
                refund_no=refund.refund_no,
            )
        )
    for payment in waiting.values():
        if payment.paid_fen is not None and payment.status in ("paid", "refunded"):
            held = (today - day).days <= 2
            outcome.discrepancies.append(
                Discrepancy(
                    "missing_in_bill",
                    payment.order_no,
                    payment.transaction_id,
                    payment.paid_fen,
                    None,
                    held=held,
                )
            )
    return outcome


# Few numbers, so that rows repeat a number, refunds name orders we have or not, and so on.
numbers = st.sampled_from(["SI1", "SI2", "SI3", "SI4", "SI5"])
refund_numbers = st.one_of(st.none(), st.sampled_from(["R1", "R2", "R3"]))
fen = st.sampled_from([0, 1, 2500, 25000])


@dataclass(frozen=True)
class Line:
    """A bill row that may be a refund without a refund number (as a BillRow can be)."""

    order_no: str
    transaction_id: str
    paid_fen: int
    refund_fen: int
    refund_no: str | None
    is_refund: bool


bill_rows = st.lists(
    st.builds(
        Line, numbers, st.sampled_from(["T1", "T2", ""]), fen, fen, refund_numbers, st.booleans()
    ),
    max_size=12,
)
our_side = st.dictionaries(
    numbers,
    st.builds(
        OurPayment,
        numbers,
        st.one_of(st.none(), st.sampled_from(["T1", "T2"])),
        st.one_of(st.none(), fen),
        st.sampled_from(["created", "paid", "closed", "refund_due", "refunded"]),
        st.just(DAY),
    ),
    max_size=5,
)
our_refunds = st.dictionaries(
    st.sampled_from(["R1", "R2", "R3", ""]),
    st.builds(OurRefund, st.sampled_from(["R1", "R2", "R3"]), numbers, fen),
    max_size=4,
)


@given(bill_rows, our_side, our_refunds, st.integers(min_value=0, max_value=4))
def test_the_join_gives_what_the_rules_give_row_by_row(bill, ours, refunds, days_late):
    today = DAY + timedelta(days=days_late)
    expected = one_at_a_time(bill, ours, day=DAY, today=today, refunds=refunds)
    assert match(bill, ours, day=DAY, today=today, refunds=refunds) == expected
    # The same as tables: the bill as a DataFrame, ours as OurPayments (what ours.py gives).
    table = pl.DataFrame(
        [(r.order_no, r.transaction_id, r.paid_fen, r.refund_fen, r.refund_no) for r in bill],
        schema=["order_no", "transaction_id", "paid_fen", "refund_fen", "refund_no"],
        orient="row",
    ).with_columns(is_refund=pl.Series([r.is_refund for r in bill], dtype=pl.Boolean))
    as_tables = match(table, as_table(ours), day=DAY, today=today, refunds=refunds)
    if all(key == payment.order_no for key, payment in ours.items()):  # a table has one name
        assert as_tables == expected


def as_table(ours):
    return OurPayments(
        pl.DataFrame(
            [tuple(getattr(p, f) for f in PAYMENT_SCHEMA) for p in ours.values()],
            schema=PAYMENT_SCHEMA,
            orient="row",
        )
    )


def test_our_payments_as_a_table_read_as_a_mapping():
    ours = {
        "SI1": OurPayment("SI1", "T1", 25000, "paid", DAY),
        "SI2": OurPayment("SI2", None, 100, "refund_due", DAY),
    }
    table = as_table(ours)
    assert dict(table) == ours
    assert (len(table), list(table), "SI3" in table, table.get("SI3")) == (
        2,
        ["SI1", "SI2"],
        False,
        None,
    )


def test_our_order_paid_under_another_wechat_transaction_is_flagged():
    ours = {"SI1": OurPayment("SI1", "T1", 25000, "paid")}
    outcome = match([Row("SI1", "T9", 25000)], ours, day=DAY, today=DAY)
    [found] = outcome.discrepancies
    assert (found.kind, found.transaction_id, outcome.matched) == ("status_mismatch", "T9", 0)

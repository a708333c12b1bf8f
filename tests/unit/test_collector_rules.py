"""The collector channel's pure rules: the batch machine, the list's 本次收缴 cell, the bureau's
answer to a declaration, the 单据号."""

from __future__ import annotations

from datetime import datetime

import pytest

from backend.collectors.closing import declaration_no
from backend.collectors.declaring import Verdict, read_answer
from backend.collectors.upload import BadMark, read_mark
from backend.states.collectors import COLLECTOR_BATCH, CollectorBatchStatus
from backend.states.machine import IllegalMove
from backend.values.beijing import BEIJING

S = CollectorBatchStatus
SENT = {
    "declaration_no": "D41072120191120000001",
    "registrations": [{"collection_no": "T1"}, {"collection_no": "T2"}],
}


def test_a_batch_goes_open_closed_declared_entered_booked_and_is_cancelled_only_before_declaring():
    status = S.OPEN
    for event, expected in [
        ("close", S.CLOSED),
        ("declare", S.DECLARED),
        ("enter", S.ENTERED),
        ("book", S.BOOKED),
    ]:
        status = COLLECTOR_BATCH.after(status, event)
        assert status is expected
    assert COLLECTOR_BATCH.after(S.OPEN, "cancel") is S.CANCELLED
    assert COLLECTOR_BATCH.after(S.CLOSED, "cancel") is S.CANCELLED
    assert COLLECTOR_BATCH.after(S.CLOSED, "refuse") is S.REFUSED
    for status, event in [
        (S.DECLARED, "cancel"),  # the bureau has it: it will enter what it accepted
        (S.OPEN, "declare"),  # no 单据号 yet
        (S.CLOSED, "enter"),  # nothing accepted yet
        (S.DECLARED, "book"),  # nothing entered yet
        (S.CANCELLED, "close"),
    ]:
        with pytest.raises(IllegalMove):
            COLLECTOR_BATCH.after(status, event)


@pytest.mark.parametrize(
    ("cell", "read"),
    [
        (None, (False, None)),
        ("  ", (False, None)),
        ("是", (True, None)),
        ("√", (True, None)),
        ("Yes", (True, None)),
        (300, (True, 300)),
        (300.0, (True, 300)),
        (" 500 ", (True, 500)),
    ],
)
def test_the_collected_cell_says_yes_or_a_grade(cell, read):
    assert read_mark(cell) == read


@pytest.mark.parametrize("cell", ["也许", "300元", 300.5, True, "-1"])
def test_anything_else_in_the_collected_cell_is_refused(cell):
    with pytest.raises(BadMark):
        read_mark(cell)


def test_the_bureaus_answer_must_give_one_verdict_per_registration_declared():
    answer = {
        "declaration_no": SENT["declaration_no"],
        "declaration_ref": "L1",
        "results": [
            {
                "collection_no": "T2",
                "outcome": "refused",
                "reason": "amount_wrong",
                "message": "金额不符",
            },
            {"collection_no": "T1", "outcome": "accepted"},
        ],
    }
    assert read_answer(answer, SENT) == (
        "L1",
        [Verdict("T2", False, "amount_wrong", "金额不符"), Verdict("T1", True)],
    )
    for broken in (
        {**answer, "declaration_no": "D0"},
        {**answer, "results": answer["results"][:1]},  # one left unanswered
        {**answer, "results": [*answer["results"], {"collection_no": "T1", "outcome": "accepted"}]},
        {
            **answer,
            "results": [
                {"collection_no": "T1", "outcome": "accepted"},
                {"collection_no": "T2", "outcome": "refused"},
            ],
        },
        {**answer, "results": [{"collection_no": "T1", "outcome": "maybe"}, answer["results"][0]]},
    ):
        with pytest.raises(ValueError):
            read_answer(broken, SENT)


def test_the_declaration_number_names_county_day_and_batch():
    made = datetime(2019, 11, 20, 23, 30, tzinfo=BEIJING)
    assert declaration_no("410721000000", made, 12) == "D41072120191120000012"

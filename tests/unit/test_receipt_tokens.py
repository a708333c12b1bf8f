"""The receipt token: what is signed comes back exactly, and any change to a token is refused."""

from __future__ import annotations

import base64
from datetime import date, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from backend.receipts import keys, tokens
from backend.receipts.facts import (
    PARTLY_REFUNDED,
    REFUNDED,
    UNKNOWN,
    VALID,
    ReceiptFacts,
    standing,
)
from backend.receipts.tokens import BadToken, Receipt
from backend.receipts.wording import headline, lines
from backend.values.beijing import BEIJING

KEY = Ed25519PrivateKey.generate()
KID = keys.key_id(KEY.public_key())


def ours(kid: int):
    return KEY.public_key() if kid == KID else None


receipts = st.builds(
    Receipt,
    item_id=st.integers(0, 2**32 - 1),
    amount_fen=st.integers(0, 2**32 - 1),
    paid_on=st.dates(date(2000, 1, 1), date(2179, 1, 1)),
)


@given(receipts)
def test_what_is_signed_is_what_a_token_states(receipt):
    token = tokens.sign(receipt, KEY, KID)
    assert len(token) == tokens.TOKEN_LENGTH
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert tokens.verify(token, ours) == receipt


@given(receipts, st.data())
def test_any_changed_bit_of_a_token_is_refused(receipt, data):
    raw = bytearray(base64.urlsafe_b64decode(tokens.sign(receipt, KEY, KID) + "="))
    at = data.draw(st.integers(0, len(raw) - 1))
    raw[at] ^= 1 << data.draw(st.integers(0, 7))
    tampered = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(BadToken):
        tokens.verify(tampered, ours)


@given(receipts, st.data())
def test_any_changed_character_is_refused_even_one_that_only_touches_spare_bits(receipt, data):
    token = tokens.sign(receipt, KEY, KID)
    at = data.draw(st.integers(0, len(token) - 1))
    other = data.draw(st.sampled_from("AQgw-_9zB").filter(lambda c: c != token[at]))
    with pytest.raises(BadToken):
        tokens.verify(token[:at] + other + token[at + 1 :], ours)


@given(receipts, st.data())
def test_a_cut_or_lengthened_token_is_refused(receipt, data):
    token = tokens.sign(receipt, KEY, KID)
    cut = data.draw(st.integers(0, len(token) - 1))
    for changed in (token[:cut], token + token[: cut + 1], token[cut + 1 :]):
        with pytest.raises(BadToken):
            tokens.verify(changed, ours)


@given(st.text(max_size=200))
def test_garbage_is_refused_never_crashes(garbage):
    with pytest.raises(BadToken):
        tokens.verify(garbage, ours)


def test_another_keys_signature_is_refused_even_under_our_key_id():
    receipt = Receipt(7, 30000, date(2019, 11, 20))
    forged = tokens.sign(receipt, Ed25519PrivateKey.generate(), KID)
    with pytest.raises(BadToken):
        tokens.verify(forged, ours)


def test_a_retired_key_still_verifies_its_receipts_after_a_new_key_signs(tmp_path):
    old, new = tmp_path / "old.pem", tmp_path / "new.pem"
    old_key = Ed25519PrivateKey.generate()
    old.write_bytes(keys.private_pem(old_key))
    new_key = Ed25519PrivateKey.generate()
    while keys.key_id(new_key.public_key()) == keys.key_id(old_key.public_key()):
        new_key = Ed25519PrivateKey.generate()
    new.write_bytes(keys.private_pem(new_key))
    receipt = Receipt(1, 25000, date(2019, 9, 2))
    before = keys.keyring(str(old), None, fake=False)
    issued = tokens.sign(receipt, before.signing, before.signing_id)

    after = keys.keyring(str(new), str(old), fake=False)
    assert tokens.verify(issued, after.public_key) == receipt
    with pytest.raises(BadToken):
        tokens.verify(issued, keys.keyring(str(new), None, fake=False).public_key)


def test_two_keys_with_one_key_id_are_refused(tmp_path):
    first = Ed25519PrivateKey.generate()
    twin = Ed25519PrivateKey.generate()
    while keys.key_id(twin.public_key()) != keys.key_id(first.public_key()):
        twin = Ed25519PrivateKey.generate()
    (tmp_path / "a.pem").write_bytes(keys.private_pem(first))
    (tmp_path / "b.pem").write_text(keys.public_pem(twin.public_key()))
    with pytest.raises(keys.KeyProblem, match="key id"):
        keys.keyring(str(tmp_path / "a.pem"), str(tmp_path / "b.pem"), fake=False)


def facts(amount_fen=30000, refunded_fen=0, reversed_=False, grade=300, gov=0) -> ReceiptFacts:
    return ReceiptFacts(
        item_id=9,
        order_no="SI2019112009000001",
        name_masked="张**",
        id_number_masked="410721********0010",
        scheme="pension",
        period_year=2019,
        grade_yuan=grade,
        amount_fen=amount_fen,
        gov_paid_fen=gov,
        channel="wechat_qr",
        paid_at=datetime(2019, 11, 20, 23, 30, tzinfo=BEIJING),
        tax_receipt_no=None,
        entered_at=None,
        refunded_fen=refunded_fen,
        refunded_at=None,
        reversed=reversed_,
    )


def test_the_paid_day_a_token_states_is_the_beijing_day():
    assert facts().receipt == Receipt(9, 30000, date(2019, 11, 20))


def test_a_payment_stands_until_all_of_it_is_refunded():
    stated = facts().receipt
    assert standing(facts(), stated) == VALID
    assert standing(facts(refunded_fen=10000), stated) == PARTLY_REFUNDED
    assert standing(facts(refunded_fen=30000), stated) == REFUNDED
    assert standing(None, stated) == UNKNOWN
    # Well signed but naming another amount than we hold: not vouched for.
    assert standing(facts(), Receipt(9, 3000000, date(2019, 11, 20))) == UNKNOWN


def test_the_words_say_refunded_and_reversed_plainly():
    assert headline(VALID, facts()).word == "有效"
    assert (
        "仍有效的缴费金额为 200.00 元" in headline(PARTLY_REFUNDED, facts(refunded_fen=10000)).text
    )
    assert headline(REFUNDED, facts(refunded_fen=30000)).word == "已退款"
    assert (
        headline(REFUNDED, facts(refunded_fen=30000, reversed_=True)).word == "已退款，税务已冲正"
    )


def test_the_lines_show_the_government_share_and_leave_out_a_grade_medical_lacks():
    shown = dict(lines(facts(grade=None, gov=10000)))
    assert "缴费档次" not in shown
    assert shown["政府代缴（资助）"] == "100.00 元"
    assert shown["缴费渠道"] == "微信扫码"
    assert shown["电子税票号码"] == "待税务入库确认后显示"

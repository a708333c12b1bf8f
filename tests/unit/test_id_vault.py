"""ID numbers at rest: the keyed hash, sealing and opening, and key rotation."""

import base64

import pytest

from backend.infra.id_vault import BadKey, IdVault

NUMBER = "41072119800101001X"
NEW = "k2:" + base64.b64encode(b"n" * 32).decode()
OLD = "k1:" + base64.b64encode(b"o" * 32).decode()


def test_a_sealed_number_opens_and_shows_nothing_of_the_number():
    vault = IdVault("hash-key", OLD)
    sealed = vault.seal(NUMBER)
    assert vault.open(sealed) == NUMBER
    assert sealed.startswith("k1:") and NUMBER not in sealed and "19800101" not in sealed
    assert vault.seal(NUMBER) != sealed  # a fresh nonce each time


def test_the_hash_is_keyed_and_stable():
    one, other = IdVault("hash-key", OLD), IdVault("another-key", OLD)
    assert one.hash_id(NUMBER) == one.hash_id(NUMBER)
    assert len(one.hash_id(NUMBER)) == 64
    assert one.hash_id(NUMBER) != other.hash_id(NUMBER)
    assert one.hash_id(NUMBER) != one.hash_id(NUMBER[:-1] + "9")


def test_after_rotation_old_rows_open_and_new_ones_use_the_first_key():
    before = IdVault("hash-key", OLD)
    old_sealed = before.seal(NUMBER)
    after = IdVault("hash-key", f"{NEW},{OLD}")
    assert after.open(old_sealed) == NUMBER
    assert not after.is_current(old_sealed)
    assert after.seal(NUMBER).startswith("k2:") and after.is_current(after.seal(NUMBER))
    with pytest.raises(ValueError, match="unknown key id 'k2'"):
        before.open(after.seal(NUMBER))  # the old key alone cannot read the new rows


def test_tampered_or_mislabelled_text_does_not_open():
    vault = IdVault("hash-key", f"{NEW},{OLD}")
    sealed = vault.seal(NUMBER)
    with pytest.raises(ValueError, match="does not open"):
        vault.open("k1:" + sealed[3:])  # the key id is authenticated too
    raw = bytearray(base64.b64decode(sealed[3:]))
    raw[-1] ^= 1
    with pytest.raises(ValueError, match="does not open"):
        vault.open("k2:" + base64.b64encode(bytes(raw)).decode())


def test_bodies_kept_for_sending_hold_the_number_sealed():
    vault = IdVault("hash-key", OLD)
    body = {"message_id": "m1", "id_number": NUMBER, "rows": [{"id_number": NUMBER, "n": 1}]}
    kept = vault.seal_ids(body)
    assert NUMBER not in repr(kept) and list(kept) == ["message_id", "id_sealed", "rows"]
    assert vault.open_ids(kept) == body


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("", "names no key"),
        ("k1", "kid:base64key"),
        ("k1:not base64!", "not base64"),
        ("k1:" + base64.b64encode(b"short").decode(), "5 bytes"),
        (f"{OLD},{OLD}", "appears twice"),
    ],
)
def test_unusable_key_settings_are_refused_with_a_reason(setting, message):
    with pytest.raises(BadKey, match=message):
        IdVault("hash-key", setting)

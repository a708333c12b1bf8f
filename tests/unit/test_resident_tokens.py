from datetime import UTC, datetime, timedelta

import pytest

from backend.auth import resident_tokens

ISSUED = datetime(2019, 11, 20, 1, 0, tzinfo=UTC)


def test_a_token_carries_the_openid_it_was_issued_for():
    token = resident_tokens.issue("secret", "o-user-1", now=ISSUED)
    assert resident_tokens.verify("secret", token, max_age=60, now=ISSUED) == "o-user-1"


def test_a_token_signed_with_another_key_is_refused():
    token = resident_tokens.issue("other-secret", "o-user-1", now=ISSUED)
    with pytest.raises(resident_tokens.InvalidToken, match="无效"):
        resident_tokens.verify("secret", token, max_age=60, now=ISSUED)


def test_a_token_expires_when_the_clock_passes_its_age():
    token = resident_tokens.issue("secret", "o-user-1", now=ISSUED)
    still = ISSUED + timedelta(seconds=7200)
    assert resident_tokens.verify("secret", token, max_age=7200, now=still) == "o-user-1"
    with pytest.raises(resident_tokens.InvalidToken, match="过期"):
        resident_tokens.verify("secret", token, max_age=7200, now=still + timedelta(seconds=1))


def test_a_tampered_token_is_refused():
    token = resident_tokens.issue("secret", "o-user-1", now=ISSUED)
    with pytest.raises(resident_tokens.InvalidToken):
        resident_tokens.verify("secret", token[:-2] + "xx", max_age=60, now=ISSUED)

import time

import pytest

from backend.auth import resident_tokens


def test_a_token_carries_the_openid_it_was_issued_for():
    token = resident_tokens.issue("secret", "o-user-1")
    assert resident_tokens.verify("secret", token, max_age=60) == "o-user-1"


def test_a_token_signed_with_another_key_is_refused():
    token = resident_tokens.issue("other-secret", "o-user-1")
    with pytest.raises(resident_tokens.InvalidToken, match="无效"):
        resident_tokens.verify("secret", token, max_age=60)


def test_an_expired_token_asks_the_resident_to_sign_in_again():
    token = resident_tokens.issue("secret", "o-user-1")
    time.sleep(1.1)
    with pytest.raises(resident_tokens.InvalidToken, match="过期"):
        resident_tokens.verify("secret", token, max_age=0)


def test_a_tampered_token_is_refused():
    token = resident_tokens.issue("secret", "o-user-1")
    with pytest.raises(resident_tokens.InvalidToken):
        resident_tokens.verify("secret", token[:-2] + "xx", max_age=60)

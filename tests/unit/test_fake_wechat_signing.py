"""The fake WeChat Pay's signatures and XML envelope, checked against the published test vector
and against wechatpy's own implementation (a second, independent one)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wechatpy.pay.utils import calculate_signature, calculate_signature_hmac

from backend.payments.wechat.wire import signature
from fakes.wechat import signing, xmlwire

VECTOR = {
    "appid": "wxd930ea5d5a258f4f",
    "mch_id": "10000100",
    "device_info": "1000",
    "body": "test",
    "nonce_str": "ibuaiVcKdpRxkhJA",
}
VECTOR_KEY = "192006250b4c09247ec02edce69f6a2d"


def test_md5_signature_matches_the_published_vector():
    assert signing.sign(VECTOR, VECTOR_KEY) == "9A0A8659F005D6984697E2CA0A9CF3B7"


def test_hmac_sha256_signature_matches_the_published_vector():
    assert signing.sign(VECTOR, VECTOR_KEY, "HMAC-SHA256") == (
        "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
    )


def test_empty_values_and_the_sign_itself_are_not_signed():
    padded = {**VECTOR, "attach": "", "sign": "ANYTHING"}
    assert signing.sign(padded, VECTOR_KEY) == "9A0A8659F005D6984697E2CA0A9CF3B7"


def test_verify_uses_the_algorithm_the_request_names():
    md5 = {**VECTOR, "sign": calculate_signature(VECTOR, VECTOR_KEY)}
    hmac_params = {**VECTOR, "sign_type": "HMAC-SHA256"}
    hmac_params["sign"] = calculate_signature_hmac(hmac_params, VECTOR_KEY)
    assert signing.verify(md5, VECTOR_KEY)
    assert signing.verify(hmac_params, VECTOR_KEY)
    # An HMAC sign presented as MD5 (sign_type left out) does not verify.
    assert not signing.verify({**VECTOR, "sign": hmac_params["sign"]}, VECTOR_KEY)


@pytest.mark.parametrize(
    "change",
    [{"body": "test2"}, {"sign": "9A0A8659F005D6984697E2CA0A9CF3B8"}, {"sign": ""}, {"x": "1"}],
)
def test_any_change_breaks_the_signature(change):
    params = {**VECTOR, "sign": "9A0A8659F005D6984697E2CA0A9CF3B7"}
    assert signing.verify(params, VECTOR_KEY)
    assert not signing.verify({**params, **change}, VECTOR_KEY)


def test_the_wrong_key_does_not_verify():
    params = {**VECTOR, "sign": "9A0A8659F005D6984697E2CA0A9CF3B7"}
    assert not signing.verify(params, "0" * 32)


def test_pay_sign_covers_the_five_request_payment_fields():
    params = {
        "appId": "wxd930ea5d5a258f4f",
        "timeStamp": "1700000000",
        "nonceStr": "abc",
        "package": "prepay_id=wx1",
        "signType": "MD5",
    }
    expected = calculate_signature(params, VECTOR_KEY)
    assert signing.pay_sign({**params, "paySign": "ignored", "extra": "x"}, VECTOR_KEY) == expected


def test_xml_keeps_cdata_text_digits_and_an_embedded_cdata_end():
    params = {"body": "城乡居民医保 <a&b>", "total_fee": "30000", "odd": "x]]>y", "empty": ""}
    text = xmlwire.render({**params, "sign": "S"})
    assert "<total_fee>30000</total_fee>" in text
    assert text.endswith("<sign><![CDATA[S]]></sign></xml>")
    assert "<empty>" not in text
    assert xmlwire.parse(text.encode()) == {
        "body": "城乡居民医保 <a&b>",
        "total_fee": "30000",
        "odd": "x]]>y",
        "sign": "S",
    }


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        b"<root><a>1</a></root>",
        b"<xml><a>1</xml>",
        b'<!DOCTYPE xml [<!ENTITY e "x">]><xml><a>&e;</a></xml>',
    ],
)
def test_anything_but_an_xml_envelope_is_refused(body):
    with pytest.raises(xmlwire.BadXml):
        xmlwire.parse(body)


FIELDS = st.dictionaries(
    st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12),
    st.one_of(st.text(max_size=20), st.integers(0, 10**9), st.none()),
    max_size=12,
)


@given(FIELDS, st.text("0123456789abcdef", min_size=32, max_size=32))
def test_the_backends_signature_is_wechatpys(data, key):
    """The wire signs on its own (faster); it must sign exactly as wechatpy does."""
    assert signature(data, key) == calculate_signature(data, key)

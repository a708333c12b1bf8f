"""The bodies WeChat Pay POSTs to a merchant: payment results (signed) and refund results
(encrypted `req_info`, unsigned)."""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from fakes.wechat import beijing, signing, xmlwire
from fakes.wechat.trades import Refund, Trade

RECEIVED_INTO = "支付用户的零钱"  # where a refund of a balance payment lands (refund_recv_accout)


def nonce() -> str:
    return secrets.token_hex(16)


def payment(trade: Trade, key: str) -> bytes:
    """The §1.10 notification, signed with the order's algorithm and the realm's key.

    An HMAC-SHA256 order gets an HMAC-signed notification without a `sign_type` field, as WeChat
    sends it; a verifier that assumes MD5 (wechatpy's parse_payment_result) rejects it.
    """
    assert trade.paid_at is not None
    fields = {
        "return_code": "SUCCESS",
        "return_msg": "OK",
        "appid": trade.appid,
        "mch_id": trade.mch_id,
        "device_info": trade.device_info,
        "nonce_str": nonce(),
        "result_code": "SUCCESS",
        "openid": trade.openid,
        "is_subscribe": trade.is_subscribe,
        "trade_type": trade.trade_type,
        "bank_type": trade.bank_type,
        "total_fee": trade.total_fee,
        "fee_type": "CNY",
        "cash_fee": trade.total_fee,
        "transaction_id": trade.transaction_id,
        "out_trade_no": trade.out_trade_no,
        "attach": trade.attach,
        "time_end": beijing.compact(trade.paid_at),
    }
    fields["sign"] = signing.sign(fields, key, trade.sign_type)
    return xmlwire.render(fields).encode()


def encrypt_req_info(plain: str, key: str) -> str:
    """base64(AES-256-ECB(key = lowercase hex MD5 of the API key, PKCS#7(plain)))."""
    aes_key = hashlib.md5(key.encode()).hexdigest().encode()
    padder = padding.PKCS7(128).padder()
    data = padder.update(plain.encode()) + padder.finalize()
    # ECB is WeChat's scheme, not a choice of ours.
    encryptor = Cipher(algorithms.AES(aes_key), modes.ECB()).encryptor()
    return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode()


def refund(trade: Trade, refund: Refund, key: str) -> bytes:
    """The §1.11 refund-result notification: outer envelope plus encrypted `<root>` details."""
    assert refund.succeeded_at is not None
    details = {
        "transaction_id": trade.transaction_id,
        "out_trade_no": trade.out_trade_no,
        "refund_id": refund.refund_id,
        "out_refund_no": refund.out_refund_no,
        "total_fee": trade.total_fee,
        "settlement_total_fee": trade.total_fee,
        "refund_fee": refund.refund_fee,
        "settlement_refund_fee": refund.refund_fee,
        "refund_status": refund.status,
        "success_time": beijing.dashed(refund.succeeded_at),
        "refund_recv_accout": RECEIVED_INTO,
        "refund_account": refund.refund_account,
        "refund_request_source": "API",
    }
    envelope = {
        "return_code": "SUCCESS",
        "appid": trade.appid,
        "mch_id": trade.mch_id,
        "nonce_str": nonce(),
        "req_info": encrypt_req_info(xmlwire.render(details, root="root"), key),
    }
    return xmlwire.render(envelope).encode()

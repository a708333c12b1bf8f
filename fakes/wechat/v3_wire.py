"""WeChat Pay API v3 on the wire: request authentication, signed replies, encrypted callbacks.

Requests carry `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",
timestamp="…",serial_no="…"`, the signature being SHA256withRSA by the merchant's API key over
`METHOD\\nPATH?QUERY\\ntimestamp\\nnonce\\nbody\\n`. Replies and callbacks carry Wechatpay-Timestamp,
-Nonce, -Signature (the platform's SHA256withRSA over `timestamp\\nnonce\\nbody\\n`), -Serial (the
platform public key id) and -Signature-Type. Callback resources are AES-256-GCM under the APIv3
key, the 16-byte tag appended to the ciphertext before base64.
"""

from __future__ import annotations

import base64
import re
import secrets
import string

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SCHEME = "WECHATPAY2-SHA256-RSA2048"
TIMESTAMP_SKEW_S = 300  # WeChat refuses a request signed more than five minutes off its clock
_PARAM = re.compile(r'(\w+)="([^"]*)"')
_ALPHANUMERIC = string.ascii_letters + string.digits


class SignError(Exception):
    """The request is not authenticated: 401 SIGN_ERROR with this message."""


def load_private(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def load_public(pem: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def rsa_sign(key: rsa.RSAPrivateKey, message: str) -> str:
    signature = key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def rsa_verify(key: rsa.RSAPublicKey, message: str, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, message.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def nonce(length: int = 32) -> str:
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def parse_authorization(header: str) -> dict[str, str]:
    scheme, _, rest = header.strip().partition(" ")
    if scheme != SCHEME:
        raise SignError(f"Authorization 认证类型应为 {SCHEME}")
    params = dict(_PARAM.findall(rest))
    missing = [
        n
        for n in ("mchid", "nonce_str", "signature", "timestamp", "serial_no")
        if not params.get(n)
    ]
    if missing:
        raise SignError("Authorization 缺少 " + ",".join(missing))
    return params


def authenticate(
    *,
    authorization: str,
    method: str,
    targets: list[str],
    body: str,
    mchid: str,
    serial_no: str,
    public_key: rsa.RSAPublicKey,
    now: float,
) -> None:
    """Check a request's Authorization; `targets` are the PATH?QUERY spellings the client may have
    signed (as received, and percent-decoded). Raises SignError."""
    auth = parse_authorization(authorization)
    if auth["mchid"] != mchid:
        raise SignError("Authorization 中的 mchid 与商户号不符")
    if auth["serial_no"].upper() != serial_no.upper():
        raise SignError("商户证书序列号有误")
    if not auth["timestamp"].isdigit() or abs(int(auth["timestamp"]) - now) > TIMESTAMP_SKEW_S:
        raise SignError("请求的时间戳与当前时间相差过大")
    for target in targets:
        message = f"{method}\n{target}\n{auth['timestamp']}\n{auth['nonce_str']}\n{body}\n"
        if rsa_verify(public_key, message, auth["signature"]):
            return
    raise SignError("签名错误，请检查签名")


def signed_headers(key: rsa.RSAPrivateKey, key_id: str, body: str, now: float) -> dict[str, str]:
    """The headers that authenticate a reply or callback body (also an empty one)."""
    timestamp, once = str(int(now)), nonce()
    return {
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": once,
        "Wechatpay-Signature": rsa_sign(key, f"{timestamp}\n{once}\n{body}\n"),
        "Wechatpay-Serial": key_id,
        "Wechatpay-Signature-Type": SCHEME,
    }


def encrypt_resource(apiv3_key: str, plain: str, associated_data: str) -> dict[str, str]:
    """AEAD_AES_256_GCM of a callback's resource: a 12-character nonce, tag appended."""
    once = nonce(12)
    sealed = AESGCM(apiv3_key.encode()).encrypt(
        once.encode(), plain.encode(), associated_data.encode()
    )
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(sealed).decode(),
        "nonce": once,
        "associated_data": associated_data,
    }


def pay_sign_message(app_id: str, time_stamp: str, nonce_str: str, package: str) -> str:
    """What the merchant signs for wx.requestPayment with signType RSA."""
    return f"{app_id}\n{time_stamp}\n{nonce_str}\n{package}\n"

"""The receipt token: a short signed statement "this installation took this payment".

    payload = version (1 byte, 1) | key id (1 byte) | kind (1 byte, 1 = order item)
              | item id (4 bytes, unsigned big-endian) | amount in fen (4 bytes, unsigned)
              | paid on (2 bytes: days since 2000-01-01, the Beijing date)
    token   = base64url(payload (13 bytes) | Ed25519 signature of the payload (64 bytes)),
              without padding: 103 characters

Short on purpose: the URL `{PUBLIC_BASE_URL}/r/<token>` is the receipt's QR code, which must stay
easy to scan from a phone screen and a printed page. The key id names the key that signed (see
keys.py), so an old receipt still verifies after the signing key is replaced. The kind leaves
room for payments that are not order items (a government or collector entry) without a new
version. Pure: no Flask, no database.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

VERSION = 1
ORDER_ITEM = 1
KINDS = (ORDER_ITEM,)
EPOCH = date(2000, 1, 1)
_LAYOUT = struct.Struct(">BBBIIH")
PAYLOAD_LENGTH = _LAYOUT.size  # 13
SIGNATURE_LENGTH = 64
TOKEN_LENGTH = 103  # base64url characters of 77 bytes, unpadded
_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class BadToken(ValueError):
    """Not a token this installation signed: malformed, unknown key, or a signature that fails."""


@dataclass(frozen=True)
class Receipt:
    """What a token states: the paid item, its amount and the day it was paid."""

    item_id: int
    amount_fen: int
    paid_on: date
    kind: int = ORDER_ITEM


def payload(receipt: Receipt, key_id: int) -> bytes:
    days = (receipt.paid_on - EPOCH).days
    return _LAYOUT.pack(VERSION, key_id, receipt.kind, receipt.item_id, receipt.amount_fen, days)


def sign(receipt: Receipt, key: Ed25519PrivateKey, key_id: int) -> str:
    body = payload(receipt, key_id)
    raw = body + key.sign(body)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def verify(token: str, public_key: Callable[[int], Ed25519PublicKey | None]) -> Receipt:
    """The receipt a token states, once its signature checks under the key its key id names
    (`public_key(key_id)`, None for a key this installation never had). BadToken otherwise."""
    if len(token) != TOKEN_LENGTH or not _ALPHABET.issuperset(token):
        raise BadToken("not a receipt token")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:
        raise BadToken("not base64url") from exc
    # 103 characters carry 77 bytes and 2 spare bits: a canonical token has them zero, so one
    # receipt has exactly one token (nobody can make look-alikes by flipping the spare bits).
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != token:
        raise BadToken("not canonical base64url")
    body, signature = raw[:PAYLOAD_LENGTH], raw[PAYLOAD_LENGTH:]
    version, key_id, kind, item_id, amount_fen, days = _LAYOUT.unpack(body)
    if version != VERSION or kind not in KINDS:
        raise BadToken("unknown version or kind")
    key = public_key(key_id)
    if key is None:
        raise BadToken("unknown key id")
    try:
        key.verify(signature, body)
    except InvalidSignature as exc:
        raise BadToken("bad signature") from exc
    return Receipt(item_id, amount_fen, EPOCH + timedelta(days=days), kind)

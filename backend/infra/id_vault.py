"""ID numbers at rest: a keyed hash to find a person by, a sealed copy to read the number back.

The database never holds an ID number in clear. `hash_id` (HMAC-SHA256 under ID_HASH_KEY) is what
lookups, imports and uniqueness compare; `seal` (AES-GCM under the first key of
ID_ENCRYPTION_KEYS) is kept for the few places that must send or show the number (messages to the
tax bureau, masked answers). A sealed value names its key ("kid:base64(nonce + ciphertext)"), so
older keys keep opening their rows while `flask ids reencrypt` moves them to the current one.
Without the keys, a dump or a backup shows hashes and ciphertexts only.

The domain works with plain ID strings in memory; only the storage edges call this module.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HASH_LENGTH = 64  # hex digits of an HMAC-SHA256
SEALED_LENGTH = 128  # room for a 16-character kid and an 18-character number, base64
_KID = re.compile(r"[A-Za-z0-9_-]{1,16}")
_NONCE = 12

# Development defaults: usable in fake mode and tests only; production must set its own keys
# (before running the migration that seals the existing rows).
DEV_ID_HASH_KEY = "dev-only-id-hash-key-change-me"
DEV_ID_ENCRYPTION_KEYS = "dev0:" + base64.b64encode(b"dev-only-id-key-0-change-me-0000").decode()

# The key a JSON body stored for sending later carries in place of "id_number" (see seal_ids).
SEALED_KEY = "id_sealed"


class BadKey(ValueError):
    """A key setting that cannot be used; the message says which and why."""


class IdVault:
    def __init__(self, hash_key: str, encryption_keys: str) -> None:
        if not hash_key:
            raise BadKey("ID_HASH_KEY is empty")
        self._hmac = hmac.new(hash_key.encode(), digestmod=hashlib.sha256)
        self.keys = parse_keys(encryption_keys)
        self.current_kid = next(iter(self.keys))
        self._current = self.keys[self.current_kid]

    def hash_id(self, id_number: str) -> str:
        """The lookup key of an ID number (hex); equal numbers give equal hashes."""
        digest = self._hmac.copy()
        digest.update(id_number.encode())
        return digest.hexdigest()

    def seal(self, id_number: str) -> str:
        """The number encrypted under the current key, as text naming that key."""
        nonce = os.urandom(_NONCE)
        sealed = self._current.encrypt(nonce, id_number.encode(), self.current_kid.encode())
        return f"{self.current_kid}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, sealed: str) -> str:
        """The number back; ValueError when the key is unknown or the text was tampered with."""
        kid, _, body = sealed.partition(":")
        aead = self.keys.get(kid)
        if aead is None:
            raise ValueError(f"sealed ID number under unknown key id {kid!r}")
        try:
            raw = base64.b64decode(body, validate=True)
            return aead.decrypt(raw[:_NONCE], raw[_NONCE:], kid.encode()).decode()
        except (InvalidTag, binascii.Error) as exc:
            raise ValueError(f"sealed ID number under key {kid!r} does not open") from exc

    def is_current(self, sealed: str) -> bool:
        return sealed.partition(":")[0] == self.current_kid

    def seal_ids(self, body: Any) -> Any:
        """A copy of a JSON body with every "id_number" sealed (as "id_sealed", same place)."""
        return _swap(body, "id_number", SEALED_KEY, self.seal)

    def open_ids(self, body: Any) -> Any:
        """The inverse of seal_ids: the body as it is sent."""
        return _swap(body, SEALED_KEY, "id_number", self.open)


def _swap(body: Any, old: str, new: str, change) -> Any:
    if isinstance(body, Mapping):
        return {
            (new if k == old else k): (
                change(v) if k == old and isinstance(v, str) else _swap(v, old, new, change)
            )
            for k, v in body.items()
        }
    if isinstance(body, list):
        return [_swap(v, old, new, change) for v in body]
    return body


def parse_keys(setting: str) -> dict[str, AESGCM]:
    """ "kid1:base64key,kid0:oldkey" -> {kid: cipher}, the first one current."""
    keys: dict[str, AESGCM] = {}
    for part in (p.strip() for p in setting.split(",")):
        if not part:
            continue
        kid, sep, encoded = part.partition(":")
        if not sep or not _KID.fullmatch(kid):
            raise BadKey(
                "ID_ENCRYPTION_KEYS: each key is kid:base64key, the kid 1-16 letters, digits,"
                f" '-' or '_' (got {kid[:16]!r})"
            )
        if kid in keys:
            raise BadKey(f"ID_ENCRYPTION_KEYS: key id {kid!r} appears twice")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise BadKey(f"ID_ENCRYPTION_KEYS: key {kid!r} is not base64") from None
        if len(raw) not in (16, 24, 32):
            raise BadKey(
                f"ID_ENCRYPTION_KEYS: key {kid!r} is {len(raw)} bytes; AES needs 16, 24 or 32"
            )
        keys[kid] = AESGCM(raw)
    if not keys:
        raise BadKey("ID_ENCRYPTION_KEYS names no key")
    return keys


@lru_cache(maxsize=4)
def _vault(hash_key: str, encryption_keys: str) -> IdVault:
    return IdVault(hash_key, encryption_keys)


def vault_for(hash_key: str, encryption_keys: str) -> IdVault:
    """One vault per pair of settings (the keys are parsed once)."""
    return _vault(hash_key, encryption_keys)


def current() -> IdVault:
    """The application's vault (its configuration), or, outside an application (a migration, a
    script), the one the environment's settings describe."""
    from flask import current_app, has_app_context

    if has_app_context():
        found = current_app.extensions.get("id_vault")
        if found is not None:
            return found
    from backend.config import Config

    cfg = Config()
    return vault_for(cfg.ID_HASH_KEY, cfg.ID_ENCRYPTION_KEYS)


def hash_id(id_number: str) -> str:
    return current().hash_id(id_number)


def seal(id_number: str) -> str:
    return current().seal(id_number)


def open_sealed(sealed: str) -> str:
    return current().open(sealed)

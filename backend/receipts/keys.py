"""The installation's receipt keys: the Ed25519 key that signs, and retired ones that still verify.

RECEIPT_SIGNING_KEY names a PEM file holding the Ed25519 private key (PKCS#8, as
`openssl genpkey -algorithm ed25519` writes it). RECEIPT_RETIRED_KEYS names older keys (PEM,
public or private) whose receipts must keep verifying after a rotation. A key's id, carried in
every token, is the first byte of the SHA-256 of its raw 32-byte public key: nothing to
configure, and the public key endpoint shows it.

In fake mode without a key file (`make run` writes var/receipt-signing-key.pem once) a throwaway
key is made in memory, so a laptop works; its receipts stop verifying when the process ends.
Sandbox and live refuse to start without a readable key (backend.config_checks).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

log = logging.getLogger(__name__)


class KeyProblem(ValueError):
    """A receipt key file that cannot be used; the message says which and why."""


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> int:
    return hashlib.sha256(raw_public(key)).digest()[0]


def read_private(path: str | Path) -> Ed25519PrivateKey:
    key = _read(path, private=True)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def read_public(path: str | Path) -> Ed25519PublicKey:
    """The public key of a PEM file holding an Ed25519 public or private key."""
    key = _read(path, private=False)
    return key.public_key() if isinstance(key, Ed25519PrivateKey) else key


def _read(path: str | Path, *, private: bool) -> Ed25519PrivateKey | Ed25519PublicKey:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeyProblem(f"{path} cannot be read ({exc.strerror or exc})") from exc
    key: object
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        if private:
            raise KeyProblem(f"{path} holds no unencrypted PEM private key") from None
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, TypeError):
            raise KeyProblem(f"{path} holds no PEM key") from None
    if not isinstance(key, Ed25519PrivateKey | Ed25519PublicKey):
        raise KeyProblem(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


@dataclass(frozen=True)
class Keyring:
    signing: Ed25519PrivateKey
    signing_id: int
    verifying: dict[int, Ed25519PublicKey]  # by key id: the signing key's and retired ones

    def public_key(self, kid: int) -> Ed25519PublicKey | None:
        return self.verifying.get(kid)

    @property
    def public(self) -> Ed25519PublicKey:
        return self.signing.public_key()


def keyring(signing_path: str | None, retired_paths: str | None, *, fake: bool) -> Keyring:
    """The keys the settings name; a throwaway signing key in fake mode when none is named."""
    if signing_path:
        signing = read_private(signing_path)
    elif fake:
        log.warning(
            "RECEIPT_SIGNING_KEY is not set: receipts are signed with a throwaway key "
            "(make run writes var/receipt-signing-key.pem once)"
        )
        signing = Ed25519PrivateKey.generate()
    else:
        raise KeyProblem("RECEIPT_SIGNING_KEY is not set")
    signing_id = key_id(signing.public_key())
    verifying = {signing_id: signing.public_key()}
    for path in (p.strip() for p in (retired_paths or "").split(",")):
        if not path:
            continue
        public = read_public(path)
        kid = key_id(public)
        if kid in verifying and raw_public(verifying[kid]) != raw_public(public):
            raise KeyProblem(f"{path} has key id {kid}, as another receipt key: make a new key")
        verifying[kid] = public
    return Keyring(signing, signing_id, verifying)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

"""The key material of WeChat Pay API v3, one directory shared by the merchant and the fake.

A real merchant holds its API certificate's private key (`merchant_key.pem`) and serial
(`merchant_serial`), the APIv3 key that encrypts callbacks (`apiv3_key`), and the "WeChat Pay
public key" it downloaded with its id (`platform_public.pem`, `platform_key_id`). The fake
platform also needs the other half of each pair: the merchant's public key, to check request
signatures, and the platform's private key, to sign replies and callbacks. `ensure_keys` makes
whatever is missing so a fresh checkout, a test run and `make run` all agree on one set.
"""

from __future__ import annotations

import os
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

MERCHANT_KEY = "merchant_key.pem"
MERCHANT_PUBLIC = "merchant_public.pem"
MERCHANT_SERIAL = "merchant_serial"
PLATFORM_KEY = "platform_key.pem"
PLATFORM_PUBLIC = "platform_public.pem"
PLATFORM_KEY_ID = "platform_key_id"
APIV3_KEY = "apiv3_key"

_PRIVATE_MODE = 0o600


@dataclass(frozen=True)
class V3Keys:
    directory: Path
    merchant_key_path: Path
    merchant_public_path: Path
    merchant_serial: str  # 40 upper-case hex digits, as on the merchant's API certificate
    platform_key_path: Path
    platform_public_path: Path
    platform_key_id: str  # PUB_KEY_ID_ + digits, sent as Wechatpay-Serial
    apiv3_key: str  # 32 ASCII characters

    @property
    def merchant_key_pem(self) -> str:
        return self.merchant_key_path.read_text()

    @property
    def merchant_public_pem(self) -> str:
        return self.merchant_public_path.read_text()

    @property
    def platform_key_pem(self) -> str:
        return self.platform_key_path.read_text()

    @property
    def platform_public_pem(self) -> str:
        return self.platform_public_path.read_text()


def _write(path: Path, data: str, private: bool = False) -> None:
    # Created with its final mode so a private key is never readable by others, even briefly.
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(path, flags, _PRIVATE_MODE if private else 0o644)
    with os.fdopen(fd, "w") as out:
        out.write(data)
    if private:
        os.chmod(path, _PRIVATE_MODE)


def _pair(directory: Path, key_name: str, public_name: str) -> None:
    """Make the RSA-2048 pair if the private key is missing; derive a missing public key."""
    key_path, public_path = directory / key_name, directory / public_name
    if not key_path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write(key_path, pem.decode(), private=True)
        public_path.unlink(missing_ok=True)  # a new private key makes the old public key wrong
    if not public_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        _write(public_path, public.decode())


def _value(directory: Path, name: str, make, private: bool = False) -> str:
    path = directory / name
    if not path.exists():
        _write(path, make() + "\n", private=private)
    return path.read_text().strip()


def ensure_keys(directory: str | os.PathLike[str]) -> V3Keys:
    """The v3 key set in `directory`, generating (and keeping) any file that is missing."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    _pair(root, MERCHANT_KEY, MERCHANT_PUBLIC)
    _pair(root, PLATFORM_KEY, PLATFORM_PUBLIC)
    alphabet = string.ascii_letters + string.digits
    return V3Keys(
        directory=root,
        merchant_key_path=root / MERCHANT_KEY,
        merchant_public_path=root / MERCHANT_PUBLIC,
        merchant_serial=_value(root, MERCHANT_SERIAL, lambda: secrets.token_hex(20).upper()),
        platform_key_path=root / PLATFORM_KEY,
        platform_public_path=root / PLATFORM_PUBLIC,
        platform_key_id=_value(
            root,
            PLATFORM_KEY_ID,
            lambda: "PUB_KEY_ID_" + "".join(secrets.choice(string.digits) for _ in range(32)),
        ),
        apiv3_key=_value(
            root,
            APIV3_KEY,
            lambda: "".join(secrets.choice(alphabet) for _ in range(32)),
            private=True,
        ),
    )

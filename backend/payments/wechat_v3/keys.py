"""The merchant's API v3 key set, read from one directory (WECHAT_V3_KEY_DIR).

A merchant downloads these from the WeChat Pay merchant platform (API security): the API
certificate's private key and serial, the APIv3 key it chose, and the "WeChat Pay public key"
with its id. The public key replaces the platform certificates of older merchants, so the
adapter never calls /v3/certificates. File names match the fake platform's (fakes/wechat/v3keys.py),
so `make run` gives both halves one directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

FILES = {
    "merchant_key": "merchant_key.pem",
    "merchant_serial": "merchant_serial",
    "apiv3_key": "apiv3_key",
    "public_key": "platform_public.pem",
    "public_key_id": "platform_key_id",
}


class KeyProblem(ValueError):
    """The key set is incomplete or unreadable; the message names the file and what is wrong."""


@dataclass(frozen=True)
class MerchantKeys:
    merchant_key: str  # PEM
    merchant_serial: str
    apiv3_key: str
    public_key: str  # PEM of the WeChat Pay public key
    public_key_id: str


def load(directory: str | None) -> MerchantKeys:
    if not directory:
        raise KeyProblem("WECHAT_V3_KEY_DIR is not set; give the directory of the API v3 keys")
    base = Path(directory)
    values: dict[str, str] = {}
    for name, file_name in FILES.items():
        path = base / file_name
        try:
            values[name] = path.read_text(encoding="utf-8").strip()
        except OSError:
            raise KeyProblem(f"{path} is missing or unreadable") from None
        if not values[name]:
            raise KeyProblem(f"{path} is empty")
    keys = MerchantKeys(**values)
    _check(base, keys)
    return keys


def _check(base: Path, keys: MerchantKeys) -> None:
    try:
        private = load_pem_private_key(keys.merchant_key.encode(), password=None)
    except (ValueError, TypeError):
        raise KeyProblem(f"{base / FILES['merchant_key']} is not an unencrypted PEM key") from None
    if not isinstance(private, rsa.RSAPrivateKey):
        raise KeyProblem(f"{base / FILES['merchant_key']} is not an RSA key")
    try:
        public = load_pem_public_key(keys.public_key.encode())
    except ValueError:
        raise KeyProblem(f"{base / FILES['public_key']} is not a PEM public key") from None
    if not isinstance(public, rsa.RSAPublicKey):
        raise KeyProblem(f"{base / FILES['public_key']} is not an RSA public key")
    if len(keys.apiv3_key.encode()) != 32:
        raise KeyProblem(f"{base / FILES['apiv3_key']} must hold exactly 32 ASCII characters")
    if not keys.public_key_id.startswith("PUB_KEY_ID_"):
        raise KeyProblem(f"{base / FILES['public_key_id']} must hold the PUB_KEY_ID_… of the key")

"""Receipts in tests: the test apps' signing key, and reading a receipt's QR token."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.receipts.keys import private_pem


@functools.cache
def signing_key_file() -> str:
    """A PEM Ed25519 key made for this test run (tests/conftest.py gives it to every test app)."""
    folder = Path(tempfile.mkdtemp(prefix="receipt-key-"))
    path = folder / "receipt-signing-key.pem"
    path.write_bytes(private_pem(Ed25519PrivateKey.generate()))
    return str(path)


def token_of(url: str) -> str:
    """The token of a receipt address `.../r/<token>`."""
    return url.rsplit("/r/", 1)[1]

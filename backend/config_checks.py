"""What a deployment talking to the real WeChat platform must have set before it starts.

create_app runs `enforce` first, so the API, the worker and every `flask ...` command refuse to
start alike. With WECHAT_MODE=fake nothing is required (a laptop, the tests). With sandbox or live
every development default is refused, since anyone can read them in backend/config.py: with the
public demo API key, say, anyone could sign a payment notification crediting an order nobody paid.
Every problem is named at once, one per line, so a person fixes them in one go.
"""

from __future__ import annotations

from pathlib import Path

import click

from backend.config import (
    DEV_EXCHANGE_SECRET,
    DEV_ID_ENCRYPTION_KEYS,
    DEV_ID_HASH_KEY,
    DEV_SECRET,
    DEV_TAX_LEDGER_SECRET,
    DEV_WECHAT_API_KEY,
    DEV_WECHAT_SECRET,
    Config,
)
from backend.payments import PAY_APIS

REAL_MODES = ("sandbox", "live")
MIN_SECRET_KEY_LENGTH = 32
MAKE_ONE = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
MAKE_AN_ID_KEY = "k1:$(openssl rand -base64 32)"
MAKE_A_RECEIPT_KEY = "openssl genpkey -algorithm ed25519 -out receipt-signing-key.pem"


class UnsafeConfiguration(RuntimeError):
    """The settings are not fit for WECHAT_MODE=sandbox or live; the message lists each problem."""


def problems(cfg: Config) -> list[str]:
    """Each setting that keeps this configuration from talking to the real WeChat platform."""
    mode = cfg.WECHAT_MODE
    found: list[str] = []
    # Wrong in any mode: a token that expires when it is issued would lock every new account out.
    if cfg.STAFF_TOKEN_DAYS < 1:
        found.append(f"STAFF_TOKEN_DAYS must be 1 or more, not {cfg.STAFF_TOKEN_DAYS}")
    if cfg.WECHAT_PAY_API not in PAY_APIS:
        found.append(f"WECHAT_PAY_API must be v2 or v3, not {cfg.WECHAT_PAY_API!r}")
    elif cfg.WECHAT_PAY_API == "v3" or (mode in REAL_MODES and cfg.WECHAT_V3_KEY_DIR):
        # v3 in any mode needs its keys; outside fake mode a key set given for a later switch
        # is checked too, so the switch is not found broken on the day it is made.
        found.extend(_v3_key_problems(cfg))
    if mode not in REAL_MODES:
        return found
    if cfg.SECRET_KEY in ("", DEV_SECRET):
        found.append(f"SECRET_KEY is not set (it is the development default); make one: {MAKE_ONE}")
    elif len(cfg.SECRET_KEY) < MIN_SECRET_KEY_LENGTH:
        found.append(
            f"SECRET_KEY is {len(cfg.SECRET_KEY)} characters; use at least "
            f"{MIN_SECRET_KEY_LENGTH} random ones: {MAKE_ONE}"
        )
    for name, default, what in (
        ("WECHAT_SECRET", DEV_WECHAT_SECRET, "the mini-program's AppSecret (WeChat MP console)"),
        ("TAX_LEDGER_SECRET", DEV_TAX_LEDGER_SECRET, "the secret agreed with the tax bureau"),
        ("EXCHANGE_SECRET", DEV_EXCHANGE_SECRET, "the secret agreed with the data exchange"),
    ):
        if getattr(cfg, name) in ("", default):
            found.append(f"{name} is not set (it is the development default); set it to {what}")
    # Anyone can read the development keys: with them a dump's ID numbers are open to all.
    if cfg.ID_HASH_KEY in ("", DEV_ID_HASH_KEY):
        found.append(
            "ID_HASH_KEY is not set (it is the development default); make one, before the first "
            f"migration, and never change it: {MAKE_ONE}"
        )
    sealing = cfg.ID_ENCRYPTION_KEYS.split(",")[0].strip().partition(":")[2]
    if sealing == DEV_ID_ENCRYPTION_KEYS.partition(":")[2]:
        found.append(
            "ID_ENCRYPTION_KEYS seals with the development key; put a key of your own first: "
            f"{MAKE_AN_ID_KEY}"
        )
    key = cfg.WECHAT_API_KEY
    if key in ("", DEV_WECHAT_API_KEY):
        found.append(
            "WECHAT_API_KEY is not set (it is the public demo key); set it to the merchant's "
            "32-character API key (WeChat Pay merchant platform, API security)"
        )
    elif len(key) != 32:
        found.append(f"WECHAT_API_KEY must be exactly 32 characters, not {len(key)}")
    for name in ("PUBLIC_BASE_URL", "TAX_LEDGER_URL", "EXCHANGE_URL"):
        url = getattr(cfg, name)
        if not url.lower().startswith("https://"):
            found.append(f"{name} must be an https:// address, not {url!r}")
    for name, what in (
        ("WECHAT_MCH_CERT", "merchant certificate (apiclient_cert.pem)"),
        ("WECHAT_MCH_KEY", "merchant certificate's key (apiclient_key.pem)"),
    ):
        path = getattr(cfg, name)
        if not path:
            found.append(f"{name} is not set; give the path of the {what}")
        elif not Path(path).is_file():
            found.append(f"{name} names {path}, which is not a readable file")
    found.extend(_receipt_key_problems(cfg))
    if mode == "live":
        for name in ("APP_CLOCK_START", "APP_CLOCK_ANCHOR"):
            if getattr(cfg, name):
                found.append(f"{name} must not be set with WECHAT_MODE=live (the real clock only)")
        if cfg.PROXY_FIX_X_FOR is None:
            found.append(
                "PROXY_FIX_X_FOR is not set; set it to the number of proxies in front that set "
                "X-Forwarded-For (0 when clients connect directly): rate limits count by it"
            )
    return found


def _receipt_key_problems(cfg: Config) -> list[str]:
    """A receipt signed by a key nobody keeps cannot be checked: the key must be there and load."""
    from backend.receipts.keys import KeyProblem, keyring

    if not cfg.RECEIPT_SIGNING_KEY:
        return [
            "RECEIPT_SIGNING_KEY is not set; give the path of the Ed25519 key that signs "
            f"receipts: {MAKE_A_RECEIPT_KEY}"
        ]
    try:
        keyring(cfg.RECEIPT_SIGNING_KEY, cfg.RECEIPT_RETIRED_KEYS, fake=False)
    except KeyProblem as exc:
        return [f"RECEIPT_SIGNING_KEY / RECEIPT_RETIRED_KEYS: {exc}"]
    return []


def _v3_key_problems(cfg: Config) -> list[str]:
    from backend.payments.wechat_v3.keys import KeyProblem, load

    try:
        load(cfg.WECHAT_V3_KEY_DIR)
    except KeyProblem as exc:
        return [f"WECHAT_V3_KEY_DIR: {exc}"]
    return []


def enforce(cfg: Config) -> None:
    """Raise UnsafeConfiguration naming every problem, or return when there is none."""
    found = problems(cfg)
    if found:
        lines = "\n".join(f"  - {problem}" for problem in found)
        raise UnsafeConfiguration(
            f"refusing to start with WECHAT_MODE={cfg.WECHAT_MODE}; fix these settings:\n{lines}"
        )


def refuse_when_live(cfg: Config, what: str) -> None:
    """Demo data (made-up people, staff accounts, payments) never goes into a live database."""
    if cfg.WECHAT_MODE == "live":
        raise click.ClickException(f"{what} loads demo data; refused with WECHAT_MODE=live")

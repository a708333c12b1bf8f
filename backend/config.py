"""Settings, read from environment variables (12-factor) with documented defaults.

Every variable the application reads is listed here, so an operator has one place to look.

| variable | default | meaning |
| --- | --- | --- |
| DATABASE_URL | sqlite file var/app.db in the project folder | SQLAlchemy URL; PostgreSQL in production |
| SECRET_KEY | var/secret-key (made by `make run`) in fake mode, else a development key | signs resident session tokens; MUST be set with WECHAT_MODE=sandbox or live |
| SESSION_TOKEN_MAX_AGE | 7200 | seconds a resident session token stays valid |
| STAFF_SESSION_MINUTES | 480 | how long a sign-in to the staff dashboard (/staff/) lasts, on the business clock |
| REDIS_URL | (unset) | shared rate-limit storage; in-process memory when unset |
| LOOKUP_LIMIT_PER_OPENID | 10 per minute | lookups one WeChat user may make |
| LOOKUP_LIMIT_PER_ADDRESS | 60 per minute | lookups signed-in residents at one client address (IPv6: its /64) may make together |
| SESSION_LIMIT_PER_ADDRESS | 30 per minute | session exchanges one client address (IPv6: its /64) may make; also the resident API requests without a valid token it may make (401s, counted apart from signed-in callers) |
| WECHAT_MODE | fake | fake, sandbox or live: which WeChat platform we talk to |
| FAKE_WECHAT_URL | http://127.0.0.1:8001/ | where the fake WeChat platform listens (mode fake) |
| WECHAT_APPID / WECHAT_SECRET | demo values | mini-program AppID and AppSecret (jscode2session) |
| WECHAT_MCH_ID / WECHAT_API_KEY | demo values | WeChat Pay merchant number and its 32-character API key (v2 signatures) |
| WECHAT_MCH_CERT / WECHAT_MCH_KEY | (unset) | merchant client certificate and key files (refunds, live mode only) |
| WECHAT_PAY_API | v2 | v2 or v3: which WeChat Pay API orders, queries, refunds and bills go through; the callbacks of both are always accepted (orders placed before a switch are still notified the old way) |
| WECHAT_V3_KEY_DIR | var/wechat-v3 (made by `make run`) in fake mode, else unset | the merchant's API v3 key set, one file each: `merchant_key.pem` (API certificate private key), `merchant_serial` (its serial number), `apiv3_key` (the 32-character APIv3 key), `platform_public.pem` and `platform_key_id` (the "WeChat Pay public key" and its PUB_KEY_ID_…); MUST be complete with WECHAT_PAY_API=v3 outside fake mode |
| PUBLIC_BASE_URL | http://127.0.0.1:8000 | where WeChat reaches us: notify_url and refund notify_url are built on it |
| ORDER_TTL_SECONDS | 1800 | how long an order waits for payment before it expires |
| ORDER_LIMIT_PER_OPENID | 20 per minute | orders one WeChat user may create |
| ORDER_CHECK_AFTER_SECONDS | 300 | an unpaid order this old is asked about at WeChat (a notification may be lost), then again at this interval |
| MINIPROGRAM_URL | http://127.0.0.1:8003/ | the mini-program's start page (the mock under `make run`); `/q/{village_code}` leads there with `?village=` |
| POSTER_FONT | /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf | TrueType font of the Chinese text on village QR posters (Debian fonts-droid-fallback) |
| POSTER_LATIN_FONT | /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf | TrueType font of the digits and Latin letters on the posters, which POSTER_FONT lacks (Debian fonts-dejavu-core) |
| PROGRESS_CACHE_SECONDS | 10 | how long a worker process keeps a progress answer before reading the rollup again (0: never keeps one) |
| PROGRESS_ROLL_SECONDS | 60 | how often the worker rolls today's progress journal into the daily figures (how stale today's progress may be) |
| REFUND_CHECK_AFTER_SECONDS | 300 | a refund WeChat accepted but has not reported finished is asked about (refundquery) after this long, then again at this interval |
| WORKER_INTERVAL_SECONDS | 30 | how often `flask worker` looks for orders to check or expire |
| SERVER_IP | 127.0.0.1 | this server's address, sent as spbill_create_ip for NATIVE (QR) orders |
| TAX_LEDGER_URL | http://127.0.0.1:8002 (the fake bureau, `FAKE_TAX_PORT`) | the tax bureau's ledger API (design.md section 8) |
| TAX_LEDGER_SECRET | a development secret | shared HMAC-SHA256 secret for messages both ways |
| LEDGER_RETRY_SCHEDULE | 15,60,300,900,3600 then 3 h × 8 | seconds to wait after each failed delivery; after the last, the message is dead (a collector batch's declaration and booking push wait the same, then keep trying at the last interval) |
| LEDGER_LEASE_SECONDS | 60 | how long a claimed message (or collector batch being declared or booked) is left to its worker before another may send it again |
| TAX_TIMESTAMP_TOLERANCE_SECONDS | 300 | how old (or early) a signed confirmation's X-Timestamp may be |
| EXCHANGE_URL | http://127.0.0.1:8004 (the fake exchange, `FAKE_EXCHANGE_PORT`) | the agencies' data exchange platform (数据交换平台), which receives collector batches' booking details (记账明细) |
| EXCHANGE_SECRET | a development secret | shared HMAC-SHA256 secret of the booking details, signed as the tax ledger's messages are |
| BILL_DIR | var/bills in the project folder | where `flask pull-bill` stores WeChat's daily bills (YYYYMMDD-ALL.txt) |
| POLICY_DIR | the packaged policies | folder of fee policy files (one per collection year and region) |
| BULLETIN_WEEKDAY | 1 (Monday) | the day of the week (ISO: 1 Monday … 7 Sunday) the worker makes the city's pension and medical bulletins as of the day before |
| CITY_CODE | 410700000000 | the city this deployment serves (its counties are the top of the region tree) |
| APP_CLOCK_START | (unset: the system clock; in fake mode var/demo-clock, written by `make run`) | an ISO instant (2019-11-20T09:00:00+08:00) the business clock reads at APP_CLOCK_ANCHOR and runs on from at real speed, so a demo or a test stands inside a collection season; the fakes take the same pair; refused with WECHAT_MODE=live |
| APP_CLOCK_ANCHOR | when the process starts | the Unix time APP_CLOCK_START stands for; give every process the same one (`make run` does) and their clocks agree |
| LOG_LEVEL | INFO | logging level |
| PROXY_FIX_X_FOR | (unset: 0) | how many proxies in front set X-Forwarded-For (client address for rate limits); MUST be set (even to 0) with WECHAT_MODE=live |
| MAX_CONTENT_LENGTH | 67108864 (64 MB) | largest request body in bytes of the file uploads (imports, collector lists); larger gets 413. Other routes take far less (backend.infra.body_limits): resident API 16 KB, callbacks 64 KB, staff JSON 1 MB |
| API_DOCS_PUBLIC | 0 | 1: serve Swagger UI (/api/docs) and the OpenAPI document (/api/openapi.json) with WECHAT_MODE=live too (404 otherwise) |
| STAFF_TOKEN_DAYS | 90 | days a staff token works after it is created or rotated (`flask staff rotate`); the expiry is fixed when the token is issued |
| LOOKUP_FAILURES_PER_ID | 5 per hour | lookups with a wrong name one ID number may have; past it, its lookups answer "not found" (the right name too) until the window ends |
| ID_HASH_KEY | a development key | HMAC-SHA256 key of the ID-number hashes the enrollee table is searched by; MUST be set in production before the first migration and never changed (the hashes would no longer match) |
| ID_ENCRYPTION_KEYS | a development key | AES-GCM keys of the sealed ID numbers, `kid:base64key` separated by commas (16, 24 or 32 bytes each), the first one seals; older ones still open their rows until `flask ids reencrypt` moves them; MUST be set in production |
| METRICS_TOKEN | (unset) | with WECHAT_MODE live or sandbox, /metrics answers only requests carrying `Authorization: Bearer <METRICS_TOKEN>` (404 otherwise, and always when unset); open with the fake platform |
| OPEN_ORDERS_PER_RESIDENT | 3 | how many unpaid, unexpired orders one WeChat user may have at once; one more gets 409 (too_many_open_orders) |
| SUBSCRIBE_TEMPLATE_TAX_RECEIPT / SUBSCRIBE_TEMPLATE_REFUND / SUBSCRIBE_TEMPLATE_DEADLINE | demo ids the fake platform knows | the mini-program's subscription message (订阅消息) template ids: the tax receipt of a payment arrived, a refund finished, a household registration's deadline nears |
| DEADLINE_REMINDER_DAYS | 3 | a subscribed payer is reminded this many days (or fewer) before the campaign deadline of an unpaid registration of their household |
| SUBSCRIBE_RETRY_SCHEDULE | 60,300,900,3600,10800 | seconds to wait after each failed send of a subscription message; after the last, it is dead (a refusal, 43101, is never retried) |
| RECEIPT_SIGNING_KEY | var/receipt-signing-key.pem (made by `make run`) in fake mode, else unset | path of the PEM Ed25519 private key that signs receipts (the QR code on each 缴费凭证, checked at /r/<token>); `openssl genpkey -algorithm ed25519 -out receipt.pem`; MUST be a readable file with WECHAT_MODE=sandbox or live; never change it without keeping the old one in RECEIPT_RETIRED_KEYS |
| RECEIPT_RETIRED_KEYS | (unset) | comma-separated paths of earlier receipt keys (PEM, public or private) whose receipts must still verify after a new RECEIPT_SIGNING_KEY |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from backend.infra.clock import Clock
from backend.infra.id_vault import DEV_ID_ENCRYPTION_KEYS, DEV_ID_HASH_KEY

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE = PROJECT_DIR / "var" / "app.db"
DEFAULT_BILL_DIR = PROJECT_DIR / "var" / "bills"
DEFAULT_POSTER_FONT = "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"
DEFAULT_POSTER_LATIN_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
DEV_SECRET = "dev-only-secret-change-me"
# The development defaults of the other secrets: fine on a laptop, refused outside WECHAT_MODE=fake
# (backend.config_checks), since anyone can read them here.
DEV_WECHAT_SECRET = "demo-app-secret-0000000000000000"
DEV_WECHAT_API_KEY = "demoapikey0000000000000000000000"
DEV_TAX_LEDGER_SECRET = "dev-only-tax-ledger-secret"
DEV_EXCHANGE_SECRET = "dev-only-exchange-secret"
# The subscription message templates of the demo mini-program (the fake platform knows them):
# tax receipt arrived, refund finished, deadline near.
DEMO_TEMPLATES = (
    "demoTaxReceiptTmpl-0000000000000000000001",
    "demoRefundDoneTmpl-0000000000000000000002",
    "demoDeadlineTmpl-000000000000000000000003",
)
# The installation's own SECRET_KEY, made once by `make run` (scripts/run.sh); read by every
# process (API, worker, a `flask ...` command run by hand) when SECRET_KEY is unset in fake mode,
# so the tokens they sign agree.
SECRET_KEY_FILE = PROJECT_DIR / "var" / "secret-key"
# "START ANCHOR" of the business clock `make run` gave its processes (absent on the real clock).
DEMO_CLOCK_FILE = PROJECT_DIR / "var" / "demo-clock"
# The installation's receipt signing key, made once by `make run` (scripts/run.sh).
RECEIPT_KEY_FILE = PROJECT_DIR / "var" / "receipt-signing-key.pem"
# The demo merchant's WeChat Pay API v3 keys, shared with the fake platform (`make run`).
V3_KEY_DIR = PROJECT_DIR / "var" / "wechat-v3"

WECHAT_BASE_URLS = {
    "live": ("https://api.mch.weixin.qq.com/", "https://api.weixin.qq.com/"),
    "sandbox": ("https://api.mch.weixin.qq.com/", "https://api.weixin.qq.com/"),
}


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _secret_key() -> str:
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    if _env("WECHAT_MODE", "fake") == "fake" and SECRET_KEY_FILE.is_file():
        made = SECRET_KEY_FILE.read_text(encoding="utf-8").strip()
        if made:
            return made
    return DEV_SECRET


def _demo_clock(name: str) -> str | None:
    """APP_CLOCK_START or APP_CLOCK_ANCHOR: from the environment (set empty: the real clock), else
    in fake mode from the file `make run` writes, so a `flask ...` command typed beside the demo
    stands on the demo's clock (its staff tokens, due messages and days agree with the API's)."""
    if name in os.environ:
        return os.environ[name] or None
    if _env("WECHAT_MODE", "fake") == "fake" and DEMO_CLOCK_FILE.is_file():
        start, anchor = ([*DEMO_CLOCK_FILE.read_text(encoding="utf-8").split(), "", ""])[:2]
        return (start if name == "APP_CLOCK_START" else anchor) or None
    return None


def _receipt_signing_key() -> str | None:
    if os.environ.get("RECEIPT_SIGNING_KEY"):
        return os.environ["RECEIPT_SIGNING_KEY"]
    if _env("WECHAT_MODE", "fake") == "fake" and RECEIPT_KEY_FILE.is_file():
        return str(RECEIPT_KEY_FILE)
    return None


def _v3_key_dir() -> str | None:
    if os.environ.get("WECHAT_V3_KEY_DIR"):
        return os.environ["WECHAT_V3_KEY_DIR"]
    if _env("WECHAT_MODE", "fake") == "fake" and V3_KEY_DIR.is_dir():
        return str(V3_KEY_DIR)
    return None


def _optional_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else None


@dataclass
class Config:
    DATABASE_URL: str = field(
        default_factory=lambda: _env("DATABASE_URL", f"sqlite:///{DEFAULT_SQLITE}")
    )
    SECRET_KEY: str = field(default_factory=_secret_key)
    SESSION_TOKEN_MAX_AGE: int = field(
        default_factory=lambda: int(_env("SESSION_TOKEN_MAX_AGE", "7200"))
    )
    STAFF_SESSION_MINUTES: int = field(
        default_factory=lambda: int(_env("STAFF_SESSION_MINUTES", "480"))
    )
    REDIS_URL: str | None = field(default_factory=lambda: os.environ.get("REDIS_URL") or None)
    LOOKUP_LIMIT_PER_OPENID: str = field(
        default_factory=lambda: _env("LOOKUP_LIMIT_PER_OPENID", "10 per minute")
    )
    LOOKUP_LIMIT_PER_ADDRESS: str = field(
        default_factory=lambda: _env("LOOKUP_LIMIT_PER_ADDRESS", "60 per minute")
    )
    SESSION_LIMIT_PER_ADDRESS: str = field(
        default_factory=lambda: _env("SESSION_LIMIT_PER_ADDRESS", "30 per minute")
    )
    WECHAT_MODE: str = field(default_factory=lambda: _env("WECHAT_MODE", "fake"))
    FAKE_WECHAT_URL: str = field(
        default_factory=lambda: _env(
            "FAKE_WECHAT_URL", f"http://127.0.0.1:{_env('FAKE_WECHAT_PORT', '8001')}/"
        )
    )
    WECHAT_APPID: str = field(default_factory=lambda: _env("WECHAT_APPID", "wxdemoappid000001"))
    WECHAT_SECRET: str = field(default_factory=lambda: _env("WECHAT_SECRET", DEV_WECHAT_SECRET))
    WECHAT_MCH_ID: str = field(default_factory=lambda: _env("WECHAT_MCH_ID", "1900000109"))
    WECHAT_API_KEY: str = field(default_factory=lambda: _env("WECHAT_API_KEY", DEV_WECHAT_API_KEY))
    WECHAT_MCH_CERT: str | None = field(
        default_factory=lambda: os.environ.get("WECHAT_MCH_CERT") or None
    )
    WECHAT_MCH_KEY: str | None = field(
        default_factory=lambda: os.environ.get("WECHAT_MCH_KEY") or None
    )
    WECHAT_PAY_API: str = field(default_factory=lambda: _env("WECHAT_PAY_API", "v2"))
    WECHAT_V3_KEY_DIR: str | None = field(default_factory=_v3_key_dir)
    PUBLIC_BASE_URL: str = field(
        default_factory=lambda: _env("PUBLIC_BASE_URL", f"http://127.0.0.1:{_env('PORT', '8000')}")
    )
    ORDER_TTL_SECONDS: int = field(default_factory=lambda: int(_env("ORDER_TTL_SECONDS", "1800")))
    ORDER_LIMIT_PER_OPENID: str = field(
        default_factory=lambda: _env("ORDER_LIMIT_PER_OPENID", "20 per minute")
    )
    ORDER_CHECK_AFTER_SECONDS: int = field(
        default_factory=lambda: int(_env("ORDER_CHECK_AFTER_SECONDS", "300"))
    )
    MINIPROGRAM_URL: str = field(
        default_factory=lambda: _env("MINIPROGRAM_URL", "http://127.0.0.1:8003/")
    )
    POSTER_FONT: str = field(default_factory=lambda: _env("POSTER_FONT", DEFAULT_POSTER_FONT))
    POSTER_LATIN_FONT: str = field(
        default_factory=lambda: _env("POSTER_LATIN_FONT", DEFAULT_POSTER_LATIN_FONT)
    )
    PROGRESS_CACHE_SECONDS: int = field(
        default_factory=lambda: int(_env("PROGRESS_CACHE_SECONDS", "10"))
    )
    PROGRESS_ROLL_SECONDS: int = field(
        default_factory=lambda: int(_env("PROGRESS_ROLL_SECONDS", "60"))
    )
    REFUND_CHECK_AFTER_SECONDS: int = field(
        default_factory=lambda: int(_env("REFUND_CHECK_AFTER_SECONDS", "300"))
    )
    WORKER_INTERVAL_SECONDS: float = field(
        default_factory=lambda: float(_env("WORKER_INTERVAL_SECONDS", "30"))
    )
    SERVER_IP: str = field(default_factory=lambda: _env("SERVER_IP", "127.0.0.1"))
    TAX_LEDGER_URL: str = field(
        default_factory=lambda: _env(
            "TAX_LEDGER_URL", f"http://127.0.0.1:{_env('FAKE_TAX_PORT', '8002')}"
        )
    )
    TAX_LEDGER_SECRET: str = field(
        default_factory=lambda: _env("TAX_LEDGER_SECRET", DEV_TAX_LEDGER_SECRET)
    )
    LEDGER_RETRY_SCHEDULE: tuple[int, ...] = field(
        default_factory=lambda: tuple(
            int(v)
            for v in _env(
                "LEDGER_RETRY_SCHEDULE", "15,60,300,900,3600," + ",".join(["10800"] * 8)
            ).split(",")
        )
    )
    LEDGER_LEASE_SECONDS: float = field(
        default_factory=lambda: float(_env("LEDGER_LEASE_SECONDS", "60"))
    )
    TAX_TIMESTAMP_TOLERANCE_SECONDS: int = field(
        default_factory=lambda: int(_env("TAX_TIMESTAMP_TOLERANCE_SECONDS", "300"))
    )
    EXCHANGE_URL: str = field(
        default_factory=lambda: _env(
            "EXCHANGE_URL", f"http://127.0.0.1:{_env('FAKE_EXCHANGE_PORT', '8004')}"
        )
    )
    EXCHANGE_SECRET: str = field(
        default_factory=lambda: _env("EXCHANGE_SECRET", DEV_EXCHANGE_SECRET)
    )
    BILL_DIR: str = field(default_factory=lambda: _env("BILL_DIR", str(DEFAULT_BILL_DIR)))
    POLICY_DIR: str | None = field(default_factory=lambda: os.environ.get("POLICY_DIR") or None)
    BULLETIN_WEEKDAY: int = field(default_factory=lambda: int(_env("BULLETIN_WEEKDAY", "1")))
    CITY_CODE: str = field(default_factory=lambda: _env("CITY_CODE", "410700000000"))
    LOG_LEVEL: str = field(default_factory=lambda: _env("LOG_LEVEL", "INFO"))
    # None when unset: live mode refuses to start until it is said explicitly (even 0).
    PROXY_FIX_X_FOR: int | None = field(default_factory=lambda: _optional_int("PROXY_FIX_X_FOR"))
    MAX_CONTENT_LENGTH: int = field(
        default_factory=lambda: int(_env("MAX_CONTENT_LENGTH", str(64 * 1024 * 1024)))
    )
    APP_CLOCK_START: str | None = field(default_factory=lambda: _demo_clock("APP_CLOCK_START"))
    APP_CLOCK_ANCHOR: str | None = field(default_factory=lambda: _demo_clock("APP_CLOCK_ANCHOR"))
    API_DOCS_PUBLIC: bool = field(default_factory=lambda: _env("API_DOCS_PUBLIC", "0") == "1")
    STAFF_TOKEN_DAYS: int = field(default_factory=lambda: int(_env("STAFF_TOKEN_DAYS", "90")))
    LOOKUP_FAILURES_PER_ID: str = field(
        default_factory=lambda: _env("LOOKUP_FAILURES_PER_ID", "5 per hour")
    )
    ID_HASH_KEY: str = field(default_factory=lambda: _env("ID_HASH_KEY", DEV_ID_HASH_KEY))
    ID_ENCRYPTION_KEYS: str = field(
        default_factory=lambda: _env("ID_ENCRYPTION_KEYS", DEV_ID_ENCRYPTION_KEYS)
    )
    METRICS_TOKEN: str | None = field(
        default_factory=lambda: os.environ.get("METRICS_TOKEN") or None
    )
    OPEN_ORDERS_PER_RESIDENT: int = field(
        default_factory=lambda: int(_env("OPEN_ORDERS_PER_RESIDENT", "3"))
    )
    SUBSCRIBE_TEMPLATE_TAX_RECEIPT: str = field(
        default_factory=lambda: _env("SUBSCRIBE_TEMPLATE_TAX_RECEIPT", DEMO_TEMPLATES[0])
    )
    SUBSCRIBE_TEMPLATE_REFUND: str = field(
        default_factory=lambda: _env("SUBSCRIBE_TEMPLATE_REFUND", DEMO_TEMPLATES[1])
    )
    SUBSCRIBE_TEMPLATE_DEADLINE: str = field(
        default_factory=lambda: _env("SUBSCRIBE_TEMPLATE_DEADLINE", DEMO_TEMPLATES[2])
    )
    DEADLINE_REMINDER_DAYS: int = field(
        default_factory=lambda: int(_env("DEADLINE_REMINDER_DAYS", "3"))
    )
    SUBSCRIBE_RETRY_SCHEDULE: tuple[int, ...] = field(
        default_factory=lambda: tuple(
            int(v) for v in _env("SUBSCRIBE_RETRY_SCHEDULE", "60,300,900,3600,10800").split(",")
        )
    )
    RECEIPT_SIGNING_KEY: str | None = field(default_factory=_receipt_signing_key)
    RECEIPT_RETIRED_KEYS: str | None = field(
        default_factory=lambda: os.environ.get("RECEIPT_RETIRED_KEYS") or None
    )
    TESTING: bool = False
    # A clock object to use instead of the one APP_CLOCK_* describe (tests move it forward).
    CLOCK: Clock | None = None

    def wechat_base_urls(self) -> tuple[str, str]:
        """(pay API base, open-platform API base) for the configured WECHAT_MODE."""
        if self.WECHAT_MODE == "fake":
            base = (
                self.FAKE_WECHAT_URL
                if self.FAKE_WECHAT_URL.endswith("/")
                else self.FAKE_WECHAT_URL + "/"
            )
            return base, base
        try:
            return WECHAT_BASE_URLS[self.WECHAT_MODE]
        except KeyError:
            raise ValueError(
                f"WECHAT_MODE must be fake, sandbox or live, not {self.WECHAT_MODE!r}"
            ) from None

    def subscribe_templates(self) -> dict[str, str]:
        """The subscription message kind each template id stands for."""
        return {
            "tax_receipt": self.SUBSCRIBE_TEMPLATE_TAX_RECEIPT,
            "refund": self.SUBSCRIBE_TEMPLATE_REFUND,
            "deadline": self.SUBSCRIBE_TEMPLATE_DEADLINE,
        }

    def as_flask(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

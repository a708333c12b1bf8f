"""A deployment talking to the real WeChat platform refuses to start on development settings,
naming every problem at once; the demo commands and the make-believe clock stay out of live."""

from __future__ import annotations

import base64
import os
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend import config as config_module
from backend import create_app
from backend.config import Config
from backend.config_checks import UnsafeConfiguration
from backend.receipts.keys import private_pem
from fakes.wechat.v3keys import ensure_keys

API_KEY = "k" * 32


@pytest.fixture
def live(tmp_path):
    """A complete live configuration: real-looking secrets, https addresses, certificate files."""
    cert, key = tmp_path / "apiclient_cert.pem", tmp_path / "apiclient_key.pem"
    cert.write_text("cert")
    key.write_text("key")
    receipt_key = tmp_path / "receipt-signing-key.pem"
    receipt_key.write_bytes(private_pem(Ed25519PrivateKey.generate()))
    return {
        "WECHAT_MODE": "live",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'live.db'}",
        "SECRET_KEY": "s" * 43,
        "WECHAT_SECRET": "a-real-app-secret",
        "WECHAT_API_KEY": API_KEY,
        "TAX_LEDGER_SECRET": "a-real-tax-secret",
        "EXCHANGE_SECRET": "a-real-exchange-secret",
        "ID_HASH_KEY": "a-real-id-hash-key",
        "ID_ENCRYPTION_KEYS": "k1:" + base64.b64encode(b"r" * 32).decode(),
        "PUBLIC_BASE_URL": "https://pay.example.cn",
        "TAX_LEDGER_URL": "https://ledger.example.cn",
        "EXCHANGE_URL": "https://exchange.example.cn",
        "WECHAT_MCH_CERT": str(cert),
        "WECHAT_MCH_KEY": str(key),
        "PROXY_FIX_X_FOR": 1,
        "APP_CLOCK_START": None,
        "APP_CLOCK_ANCHOR": None,
        "REDIS_URL": None,
        "API_DOCS_PUBLIC": False,
        "RECEIPT_SIGNING_KEY": str(receipt_key),
        "WECHAT_PAY_API": "v2",
        "WECHAT_V3_KEY_DIR": None,
    }


def refusal(settings: dict) -> list[str]:
    with pytest.raises(UnsafeConfiguration) as refused:
        create_app(settings)
    first, *problems = str(refused.value).splitlines()
    assert first.startswith(f"refusing to start with WECHAT_MODE={settings['WECHAT_MODE']}")
    return problems


def test_live_on_the_development_defaults_names_every_problem_one_per_line(live, tmp_path):
    settings = {
        **live,
        **{
            name: getattr(config_module, f"DEV_{name}")
            for name in (
                "WECHAT_SECRET",
                "WECHAT_API_KEY",
                "TAX_LEDGER_SECRET",
                "EXCHANGE_SECRET",
                "ID_HASH_KEY",
                "ID_ENCRYPTION_KEYS",
            )
        },
        "SECRET_KEY": config_module.DEV_SECRET,
        "PUBLIC_BASE_URL": "http://pay.example.cn",
        "TAX_LEDGER_URL": "http://127.0.0.1:8002",
        "EXCHANGE_URL": "http://127.0.0.1:8004",
        "WECHAT_MCH_CERT": None,
        "WECHAT_MCH_KEY": str(tmp_path / "missing.pem"),
        "APP_CLOCK_START": "2019-11-20T09:00:00+08:00",
        "PROXY_FIX_X_FOR": None,
        "RECEIPT_SIGNING_KEY": None,
    }
    problems = refusal(settings)
    expected = [
        "SECRET_KEY",
        "WECHAT_SECRET",
        "TAX_LEDGER_SECRET",
        "EXCHANGE_SECRET",
        "ID_HASH_KEY",
        "ID_ENCRYPTION_KEYS",
        "WECHAT_API_KEY",
        "PUBLIC_BASE_URL",
        "TAX_LEDGER_URL",
        "EXCHANGE_URL",
        "WECHAT_MCH_CERT",
        "WECHAT_MCH_KEY",
        "RECEIPT_SIGNING_KEY",
        "APP_CLOCK_START",
        "PROXY_FIX_X_FOR",
    ]
    assert [p.split()[1] for p in problems] == expected
    assert "https://" in problems[7] and "missing.pem" in problems[11]


def test_sandbox_refuses_the_public_demo_key_and_a_key_of_the_wrong_length(live):
    sandbox = {**live, "WECHAT_MODE": "sandbox", "PROXY_FIX_X_FOR": None}
    assert refusal({**sandbox, "WECHAT_API_KEY": config_module.DEV_WECHAT_API_KEY}) == [
        "  - WECHAT_API_KEY is not set (it is the public demo key); set it to the merchant's "
        "32-character API key (WeChat Pay merchant platform, API security)"
    ]
    assert refusal({**sandbox, "WECHAT_API_KEY": API_KEY[:31]}) == [
        "  - WECHAT_API_KEY must be exactly 32 characters, not 31"
    ]


def test_live_refuses_a_receipt_key_it_cannot_read_or_that_is_not_ed25519(live, tmp_path):
    missing = str(tmp_path / "no-such-key.pem")
    (problem,) = refusal({**live, "RECEIPT_SIGNING_KEY": missing})
    assert (
        problem.startswith("  - RECEIPT_SIGNING_KEY")
        and "no-such-key.pem cannot be read" in problem
    )
    (problem,) = refusal({**live, "RECEIPT_SIGNING_KEY": live["WECHAT_MCH_CERT"]})
    assert "holds no unencrypted PEM private key" in problem


def test_v3_needs_its_whole_key_set_and_names_the_missing_file(live, tmp_path):
    (problem,) = refusal({**live, "WECHAT_PAY_API": "v3"})
    assert problem == (
        "  - WECHAT_V3_KEY_DIR: WECHAT_V3_KEY_DIR is not set; give the directory of the API v3 keys"
    )
    keys = ensure_keys(tmp_path / "v3").directory
    assert create_app({**live, "WECHAT_PAY_API": "v3", "WECHAT_V3_KEY_DIR": str(keys)})
    (keys / "apiv3_key").write_text("too-short")
    (problem,) = refusal({**live, "WECHAT_PAY_API": "v3", "WECHAT_V3_KEY_DIR": str(keys)})
    assert "apiv3_key must hold exactly 32 ASCII characters" in problem
    # A key set given ahead of a switch to v3 is checked while v2 still pays.
    (problem,) = refusal({**live, "WECHAT_V3_KEY_DIR": str(keys)})
    assert "apiv3_key" in problem
    (keys / "platform_public.pem").unlink()
    (problem,) = refusal({**live, "WECHAT_PAY_API": "v3", "WECHAT_V3_KEY_DIR": str(keys)})
    assert "platform_public.pem is missing or unreadable" in problem


def test_an_unknown_pay_api_is_refused_in_any_mode(tmp_path):
    with pytest.raises(UnsafeConfiguration) as refused:
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}", "WECHAT_PAY_API": "v4"})
    assert "WECHAT_PAY_API must be v2 or v3, not 'v4'" in str(refused.value)


def test_live_needs_the_proxy_setting_said_explicitly_even_zero(live):
    (problem,) = refusal({**live, "PROXY_FIX_X_FOR": None})
    assert "PROXY_FIX_X_FOR is not set" in problem
    assert create_app({**live, "PROXY_FIX_X_FOR": 0})


def test_a_complete_live_configuration_starts_and_hides_the_api_docs(live):
    client = create_app(live).test_client()
    assert client.get("/api/openapi.json").status_code == 404
    assert client.get("/api/docs").status_code == 404
    public = create_app({**live, "API_DOCS_PUBLIC": True}).test_client()
    assert public.get("/api/openapi.json").status_code == 200
    assert public.get("/api/docs").status_code == 200


@pytest.mark.parametrize("command", ["seed-demo", "seed-season"])
def test_demo_data_is_refused_in_live_mode(live, command):
    result = create_app(live).test_cli_runner().invoke(args=[command, "--size", "0"])
    assert result.exit_code != 0
    assert f"{command} loads demo data; refused with WECHAT_MODE=live" in result.output


def test_a_command_run_by_hand_refuses_to_start_too(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("WECHAT_", "SECRET_KEY", "TAX_", "EXCHANGE_", "APP_CLOCK"))
    }
    env |= {"WECHAT_MODE": "live", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "backend", "worker", "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "refusing to start with WECHAT_MODE=live" in done.stderr
    assert "  - WECHAT_API_KEY is not set" in done.stderr


def test_fake_mode_reads_the_installation_secret_make_run_wrote(tmp_path, monkeypatch):
    made = tmp_path / "secret-key"
    made.write_text("the-installation-secret\n")
    monkeypatch.setattr(config_module, "SECRET_KEY_FILE", made)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("WECHAT_MODE", raising=False)
    assert Config().SECRET_KEY == "the-installation-secret"
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert Config().SECRET_KEY == "from-the-environment"
    monkeypatch.delenv("SECRET_KEY")
    monkeypatch.setenv("WECHAT_MODE", "live")  # a real deployment says its secret explicitly
    assert Config().SECRET_KEY == config_module.DEV_SECRET


def test_a_staff_token_lifetime_under_a_day_is_refused_in_any_mode(tmp_path):
    settings = {
        "WECHAT_MODE": "fake",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fake.db'}",
        "STAFF_TOKEN_DAYS": 0,
    }
    assert refusal(settings) == ["  - STAFF_TOKEN_DAYS must be 1 or more, not 0"]


def test_fake_mode_stands_on_the_clock_make_run_gave_the_demo(tmp_path, monkeypatch):
    made = tmp_path / "demo-clock"
    made.write_text("2019-11-20T09:00:00+08:00 1764000000\n")
    monkeypatch.setattr(config_module, "DEMO_CLOCK_FILE", made)
    for name in ("APP_CLOCK_START", "APP_CLOCK_ANCHOR", "WECHAT_MODE"):
        monkeypatch.delenv(name, raising=False)
    cfg = Config()
    assert (cfg.APP_CLOCK_START, cfg.APP_CLOCK_ANCHOR) == (
        "2019-11-20T09:00:00+08:00",
        "1764000000",
    )
    monkeypatch.setenv("APP_CLOCK_START", "")  # said empty: the real clock
    assert Config().APP_CLOCK_START is None
    monkeypatch.delenv("APP_CLOCK_START")
    monkeypatch.setenv("WECHAT_MODE", "sandbox")
    assert Config().APP_CLOCK_START is None


def test_fake_mode_signs_receipts_with_the_key_make_run_wrote(tmp_path, monkeypatch):
    made = tmp_path / "receipt-signing-key.pem"
    monkeypatch.setattr(config_module, "RECEIPT_KEY_FILE", made)
    monkeypatch.delenv("RECEIPT_SIGNING_KEY", raising=False)
    monkeypatch.delenv("WECHAT_MODE", raising=False)
    assert Config().RECEIPT_SIGNING_KEY is None  # not made yet: a throwaway key in memory
    made.write_bytes(private_pem(Ed25519PrivateKey.generate()))
    assert str(made) == Config().RECEIPT_SIGNING_KEY
    monkeypatch.setenv("WECHAT_MODE", "live")
    assert Config().RECEIPT_SIGNING_KEY is None  # never outside fake mode

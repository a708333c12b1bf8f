"""Receipts (缴费凭证) anyone can check, over real HTTP: a paid item's receipt_url opens a page
that says valid with the masked facts, shows the tax receipt number once the bureau confirms the
treasury entry, says refunded once the money is back, and refuses a token this installation did
not sign. The A4 PDF is rendered and its QR code read back; the public key verifies a token with
nothing but `cryptography`."""

from __future__ import annotations

import base64
import struct
import uuid
from datetime import date, timedelta

import pypdfium2
import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from backend import create_app
from backend.receipts import tokens
from backend.values.masking import mask_id_number
from tests.conftest import serve
from tests.support.builders import add_person, age_on_2019
from tests.support.bureau import bureau_for
from tests.support.outputs import output_dir
from tests.support.receipts import token_of
from tests.support.resident import get_order, order, pay, sign_in
from tests.support.running import run_worker, wait_until

FORGED = "无法验证：此凭证不是本系统签发的或已被篡改"
PUBLIC_KEY = "/api/receipts/v1/public-key"


@pytest.fixture
def receipt_app(app_config, with_regions):
    # Refunds asked about at once and the bureau retried without waiting.
    return create_app(
        {**app_config, "REFUND_CHECK_AFTER_SECONDS": 0, "LEDGER_RETRY_SCHEDULE": (0, 0, 0)}
    )


@pytest.fixture
def server(receipt_app):
    with serve(receipt_app) as running:
        yield running


@pytest.fixture
def bureau(server, receipt_app, clock):
    with bureau_for(receipt_app, server.url, clock) as running:
        yield running


@pytest.fixture
def session(receipt_app):
    with receipt_app.extensions["db_sessions"]() as session:
        yield session


def paid_pension(session, http, server, wx, *, name="张三丰", seq="001", payer="receipt-payer"):
    """A person pays the 300-yuan pension grade and the medical share; the paid order."""
    person, registrations = add_person(session, name=name, birth=age_on_2019(40), seq=seq)
    auth = sign_in(http, server.url, wx, payer)
    created = order(
        http, server.url, auth, [(registrations[0].ref, 300), registrations[1].ref]
    ).json()
    assert all(item["receipt_url"] is None for item in created["items"])  # not paid yet
    pay(http, wx, created["order_no"])
    paid = wait_until(
        lambda: (
            (o := get_order(http, server.url, auth, created["order_no"]).json())["status"] == "paid"
            and o
        )
    )
    return person, auth, paid, registrations


def page(http, url):
    answer = http.get(url)
    return answer.status_code, answer.text, answer.headers


def test_a_paid_registration_has_a_receipt_that_says_valid_then_shows_the_tax_receipt_number(
    session, http, server, bureau, fake_wechat, receipt_app
):
    person, auth, paid, _ = paid_pension(session, http, server, fake_wechat)
    pension = next(i for i in paid["items"] if i["scheme"] == "pension")
    assert pension["receipt_url"].startswith(server.url + "/r/")
    assert len(token_of(pension["receipt_url"])) == tokens.TOKEN_LENGTH

    status, text, headers = page(http, pension["receipt_url"])
    assert status == 200
    assert "有效" in text and FORGED not in text
    for fact in (
        "张**",
        mask_id_number(person.id_number),
        "城乡居民基本养老保险",
        "2019年度",
        "300 元/年",
        "300.00 元",
        "微信小程序",
        paid["order_no"],
        "待税务入库确认后显示",
    ):
        assert fact in text, fact
    assert person.id_number not in text and "张三丰" not in text
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "style-src 'self' 'sha256-" in headers["Content-Security-Policy"]

    # The payments reach the bureau, which confirms the treasury entry: the number shows.
    run_worker(receipt_app)

    def pension_entered():
        items = get_order(http, server.url, auth, paid["order_no"]).json()["items"]
        return (
            next(i for i in items if i["scheme"] == "pension" and i["tax_receipt_no"])
            if any(i["scheme"] == "pension" and i["tax_receipt_no"] for i in items)
            else None
        )

    entered = wait_until(pension_entered, timeout=15)
    assert entered["receipt_url"] == pension["receipt_url"]  # one receipt, one address
    status, text, _ = page(http, pension["receipt_url"])
    assert status == 200 and entered["tax_receipt_no"] in text
    assert "待税务入库确认后显示" not in text


def flipped(token: str, at: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "="))
    raw[at] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def test_a_token_this_installation_did_not_sign_gets_the_cannot_verify_page(
    session, http, server, fake_wechat
):
    _, _, paid, _ = paid_pension(session, http, server, fake_wechat)
    token = token_of(paid["items"][0]["receipt_url"])
    assert page(http, f"{server.url}/r/{token}")[0] == 200
    body = base64.urlsafe_b64decode(token + "=")[: tokens.PAYLOAD_LENGTH]
    other_key = Ed25519PrivateKey.generate()
    resigned = base64.urlsafe_b64encode(body + other_key.sign(body)).rstrip(b"=").decode()
    # Another amount, signed by nobody: the payload changed under the old signature.
    version, kid, kind, item_id, amount, days = struct.unpack(">BBBIIH", body)
    richer = struct.pack(">BBBIIH", version, kid, kind, item_id, amount * 10, days)
    raised = base64.urlsafe_b64encode(richer + base64.urlsafe_b64decode(token + "=")[13:])
    bad = {
        "another key's signature": resigned,
        "a flipped byte in the item": flipped(token, 5),
        "a flipped byte in the signature": flipped(token, 40),
        "a raised amount": raised.rstrip(b"=").decode(),
        "truncated": token[:-4],
        "one character more": token + "A",
        "garbage": "hello-world",
        "not base64": "!" * tokens.TOKEN_LENGTH,
    }
    for what, forged in bad.items():
        for suffix in ("", ".pdf"):
            status, text, headers = page(http, f"{server.url}/r/{forged}{suffix}")
            assert status == 404, what
            assert FORGED in text, what
            assert "张*" not in text, what
            assert headers["Cache-Control"] == "no-store"


def test_a_refunded_payments_receipt_says_it_no_longer_stands(
    session, http, server, fake_wechat, staff_token
):
    _, auth, paid, registrations = paid_pension(session, http, server, fake_wechat)
    medical = next(i for i in paid["items"] if i["scheme"] == "medical")
    recon = {"Authorization": f"Bearer {staff_token('recon', '410700', name='退款员')}"}
    asked = http.post(
        f"{server.url}/api/staff/v1/refunds",
        json={
            "order_no": paid["order_no"],
            "registration_ref": registrations[1].ref,
            "reason": "other",
        },
        headers={**recon, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert asked.status_code == 201, asked.text
    wait_until(
        lambda: (
            next(
                i["refunded_fen"]
                for i in get_order(http, server.url, auth, paid["order_no"]).json()["items"]
                if i["scheme"] == "medical"
            )
            == 25000
        )
    )
    status, text, _ = page(http, medical["receipt_url"])
    assert status == 200
    assert "已退款" in text and "缴费不再成立" in text and "250.00 元" in text
    assert "✓ 有效" not in text
    # The token itself still verifies: the installation did issue it.
    key = http.get(server.url + PUBLIC_KEY).json()
    public = load_pem_public_key(key["public_key_pem"].encode())
    stated = tokens.verify(token_of(medical["receipt_url"]), lambda kid: public)
    assert stated.amount_fen == 25000
    # The other item's payment stands.
    pension = next(i for i in paid["items"] if i["scheme"] == "pension")
    assert "✓ 有效" in page(http, pension["receipt_url"])[1]


def test_the_pdf_is_a4_in_chinese_and_its_qr_code_leads_to_the_same_page(
    session, http, server, fake_wechat
):
    _, _, paid, _ = paid_pension(session, http, server, fake_wechat)
    url = next(i for i in paid["items"] if i["scheme"] == "pension")["receipt_url"]
    answer = http.get(url + ".pdf")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/pdf"
    assert answer.headers["Cache-Control"] == "no-store"
    document = pypdfium2.PdfDocument(answer.content)
    assert len(document) == 1
    width, height = document[0].get_size()
    assert (round(width * 25.4 / 72), round(height * 25.4 / 72)) == (210, 297)
    text = document[0].get_textpage().get_text_range()
    for words in ("城乡居民社会保险费缴费凭证", "有效", "张**", "300.00 元", "微信小程序"):
        assert words in text, words
    image = document[0].render(scale=150 / 72).to_pil().convert("RGB")
    folder = output_dir("test-output", "receipts")
    folder.mkdir(parents=True, exist_ok=True)
    image.save(folder / "receipt-a4.png")  # for a person to look at
    assert [found.text for found in zxingcpp.read_barcodes(image)] == [url]


def test_the_public_key_verifies_a_token_offline_with_cryptography_alone(
    session, http, server, fake_wechat
):
    _, _, paid, _ = paid_pension(session, http, server, fake_wechat)
    url = paid["items"][0]["receipt_url"]
    key = http.get(server.url + PUBLIC_KEY)
    assert key.status_code == 200
    body = key.json()
    assert body["algorithm"] == "Ed25519"
    raw = base64.urlsafe_b64decode(body["public_key"] + "=")
    assert raw == base64.b64decode(body["public_key_base64"])
    assert len(raw) == 32

    # What a third party does, from docs/receipts.md: no code of ours.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    data = base64.urlsafe_b64decode(token_of(url) + "=" * (-len(token_of(url)) % 4))
    payload, signature = data[:13], data[13:]
    version, key_id, kind, _item, amount_fen, days = struct.unpack(">BBBIIH", payload)
    assert (version, kind, key_id) == (1, 1, body["key_id"])
    Ed25519PublicKey.from_public_bytes(raw).verify(signature, payload)  # raises if forged
    assert amount_fen == paid["items"][0]["amount_fen"]
    assert date(2000, 1, 1) + timedelta(days=days) == date(2019, 11, 20)


def test_pdfs_are_limited_per_address_so_nobody_can_keep_the_server_busy(http, server):
    answers = [http.get(f"{server.url}/r/garbage.pdf").status_code for _ in range(31)]
    assert answers[:30] == [404] * 30
    assert answers[30] == 429
    assert http.get(f"{server.url}/r/garbage").status_code == 404  # the page is not limited

"""Receipts anyone can check: `GET /r/<token>` (the page a receipt's QR code opens), its A4 PDF at
`GET /r/<token>.pdf`, and the public key a third party verifies tokens with offline.

No sign-in: the token is the proof. The page says the receipt's standing now (valid, partly
refunded, refunded), read afresh on every request and never cached. A token that does not verify
(another key's signature, a changed or cut character, garbage) gets the "cannot be verified"
page with 404: no such receipt was issued here. Token format: backend/receipts/tokens.py and
docs/receipts.md.
"""

from __future__ import annotations

import base64

from flask import Blueprint, Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint as ApiBlueprint
from marshmallow import Schema, fields

from backend.infra import id_vault
from backend.infra.headers import style_policy
from backend.infra.web import clock, rate_limit_address, rate_limited, unit_of_work
from backend.orders.views import ItemView, OrderView
from backend.posters.fonts import FontMissing, typeface
from backend.receipts import keys, tokens
from backend.receipts.facts import UNKNOWN, ReceiptFacts, read_facts, standing
from backend.receipts.page import STYLE, forged_page, receipt_page
from backend.receipts.pdf import receipt_pdf
from backend.receipts.tokens import BadToken, Receipt
from backend.receipts.wording import headline
from backend.values.beijing import beijing_today

pages = Blueprint("receipts", __name__)
blp = ApiBlueprint(
    "receipt_keys",
    __name__,
    url_prefix="/api/receipts/v1",
    description="Receipts: the key that verifies a receipt's QR token offline",
)
BLUEPRINTS = [blp]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# A PDF costs about half a second (the fonts are subset for each one): per client address.
PDF_LIMIT = "30 per minute"


def receipt_keys() -> keys.Keyring:
    """The installation's receipt keys, loaded once per process."""
    found = current_app.extensions.get("receipt_keys")
    if found is None:
        cfg = current_app.config["APP_CONFIG"]
        made = keys.keyring(
            cfg.RECEIPT_SIGNING_KEY, cfg.RECEIPT_RETIRED_KEYS, fake=cfg.WECHAT_MODE == "fake"
        )
        # Two first requests at once keep one keyring (a throwaway key must be the only one).
        found = current_app.extensions.setdefault("receipt_keys", made)
    return found


def receipt_url(receipt: Receipt) -> str:
    """The absolute address of a receipt's page: what its QR code carries."""
    ring = receipt_keys()
    token = tokens.sign(receipt, ring.signing, ring.signing_id)
    base = current_app.config["APP_CONFIG"].PUBLIC_BASE_URL.rstrip("/")
    return f"{base}/r/{token}"


def _checked(token: str) -> tuple[str, ReceiptFacts | None]:
    try:
        stated = tokens.verify(token, receipt_keys().public_key)
    except BadToken:
        return UNKNOWN, None
    vault = id_vault.current()
    with unit_of_work() as session:
        facts = read_facts(session, stated.item_id, vault.open)
    return standing(facts, stated), facts


def _html(page: str, status: int) -> Response:
    headers = {**NO_STORE, "Content-Security-Policy": style_policy(STYLE)}
    return Response(page, status=status, mimetype="text/html", headers=headers)


@pages.get("/r/<token>")
def receipt(token: str):
    state, facts = _checked(token)
    now = clock().now()
    if facts is None or state == UNKNOWN:
        return _html(forged_page(now), 404)
    url = receipt_url(facts.receipt)
    return _html(receipt_page(facts, headline(state, facts), url, f"{url}.pdf", now), 200)


@pages.get("/r/<token>.pdf")
@rate_limited(lambda: [(PDF_LIMIT, "receipt-pdf/" + rate_limit_address())])
def receipt_as_pdf(token: str):
    state, facts = _checked(token)
    now = clock().now()
    if facts is None or state == UNKNOWN:
        return _html(forged_page(now), 404)
    cfg = current_app.config["APP_CONFIG"]
    try:
        face = typeface(cfg.POSTER_FONT, cfg.POSTER_LATIN_FONT)
    except FontMissing as exc:
        current_app.logger.error("receipt PDF: %s", exc)
        return Response(exc.chinese, status=503, mimetype="text/plain", headers=NO_STORE)
    body = receipt_pdf(facts, headline(state, facts), receipt_url(facts.receipt), now, face)
    headers = {**NO_STORE, "Content-Disposition": 'inline; filename="receipt.pdf"'}
    return Response(body, mimetype="application/pdf", headers=headers)


class PublicKeyOut(Schema):
    key_id = fields.Integer(metadata={"description": "the key id byte tokens signed by it carry"})
    algorithm = fields.String(metadata={"description": "always Ed25519"})
    public_key = fields.String(metadata={"description": "the raw 32-byte key, base64url, unpadded"})
    public_key_base64 = fields.String(metadata={"description": "the same 32 bytes, base64"})
    public_key_pem = fields.String(metadata={"description": "SubjectPublicKeyInfo PEM"})
    retired_keys = fields.List(
        fields.Dict(),
        metadata={"description": "earlier keys whose receipts still verify: {key_id, public_key}"},
    )
    token_format = fields.String(metadata={"description": "how to read and check a token"})
    url_format = fields.String()


TOKEN_FORMAT = (
    "base64url without padding (103 characters) of 77 bytes: payload (13 bytes) = version (1) | "
    "key id (1) | kind (1; 1 = order item) | item id (4, unsigned big-endian) | amount in fen "
    "(4, unsigned big-endian) | paid on (2, unsigned big-endian days since 2000-01-01, Beijing "
    "date); then the 64-byte Ed25519 signature of the payload by the key with that key id. "
    "Details: docs/receipts.md"
)


@blp.route("/public-key")
class PublicKey(MethodView):
    @blp.response(200, PublicKeyOut)
    def get(self):
        """The key receipts are signed with, to verify a receipt's token offline.

        A receipt's QR code carries `{PUBLIC_BASE_URL}/r/<token>`; the token states the paid
        item, its amount and the day it was paid, signed with Ed25519. A valid signature proves
        this installation issued the receipt; whether the payment still stands (not refunded)
        only the page `/r/<token>` can say.
        """
        ring = receipt_keys()
        raw = keys.raw_public(ring.public)
        retired = [
            {"key_id": kid, "public_key": keys.b64url(keys.raw_public(key))}
            for kid, key in sorted(ring.verifying.items())
            if kid != ring.signing_id
        ]
        base = current_app.config["APP_CONFIG"].PUBLIC_BASE_URL.rstrip("/")
        return {
            "key_id": ring.signing_id,
            "algorithm": "Ed25519",
            "public_key": keys.b64url(raw),
            "public_key_base64": base64.b64encode(raw).decode("ascii"),
            "public_key_pem": keys.public_pem(ring.public),
            "retired_keys": retired,
            "token_format": TOKEN_FORMAT,
            "url_format": f"{base}/r/<token>  (A4 PDF: {base}/r/<token>.pdf)",
        }


def item_receipt_url(order: OrderView, item: ItemView) -> str | None:
    """An order item's receipt address once its payment was credited (its tax message exists)."""
    if order.paid_at is None or item.ledger_state == "none":
        return None
    return receipt_url(Receipt(item.item_id, item.amount_fen, beijing_today(order.paid_at)))

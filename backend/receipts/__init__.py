"""Receipts (缴费凭证) anyone can verify: a signed token per paid item, its page and its PDF.

tokens.py is the token format (pure: bytes in, bytes out), keys.py the installation's Ed25519
keys, facts.py what a receipt says and whether its payment still stands (read from the orders,
refunds and ledger messages), page.py and pdf.py show it to people. docs/receipts.md describes
the token so a third party can check one offline with the public key.
"""

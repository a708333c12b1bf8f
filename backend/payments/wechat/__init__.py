"""WeChat: everything specific to it lives here. The WeChat Pay API v2 adapter of the payment
port (gateway.py), its notifications and replies (notices.py), its daily bill format (bill.py),
mini-program login (login.py) and the addresses WeChat calls us at (routes.py)."""

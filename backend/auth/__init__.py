"""Who is calling: residents (signed session tokens bound to a WeChat openid) and staff (hashed tokens)."""

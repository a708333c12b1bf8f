"""WeChat platform services other than payments (mini-program login)."""

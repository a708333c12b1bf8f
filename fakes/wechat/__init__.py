"""A fake WeChat platform: mini-program login (jscode2session) and WeChat Pay API v2."""

"""A fake WeChat platform: mini-program login (jscode2session) and, later, WeChat Pay v2."""

"""`GET /q/{village_code}`: the address a village's QR poster carries.

WeChat opens an ordinary link QR code in the mini-program (a 普通链接二维码 rule maps the prefix
to a page), so the poster carries our address, and this leads to the mini-program's start page
with the village chosen (MINIPROGRAM_URL?village=CODE). An unknown code gets a page saying so in
plain words, never an error a resident cannot read.
"""

from __future__ import annotations

import html
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, redirect
from sqlalchemy import select

from backend.infra.headers import style_policy
from backend.infra.web import unit_of_work
from backend.models import Region

blp = Blueprint("village_links", __name__)

# The page's only style, allowed by its hash in the page's Content-Security-Policy.
STYLE = """
body { font-family: sans-serif; margin: 0; padding: 32px 20px; color: #222; background: #f6f6f6; }
main { background: #fff; border-radius: 12px; padding: 24px 20px; max-width: 480px; margin: auto; }
h1 { font-size: 22px; margin: 0 0 12px; } p { font-size: 17px; line-height: 1.6; }
a { color: #07c160; }
"""
NOT_FOUND_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>二维码无效</title>
<style>{style}</style></head>
<body><main>
<h1>没有找到这个村的缴费二维码</h1>
<p>二维码中的村代码“{code}”不在本系统的村名单中。请核对张贴的二维码，或直接打开缴费页面选择您所在的村。</p>
<p><a href="{start}">打开缴费页面</a></p>
</main></body></html>
"""


def start_page(village_code: str | None = None) -> str:
    base = current_app.config["APP_CONFIG"].MINIPROGRAM_URL
    return base + ("?" + urlencode({"village": village_code}) if village_code else "")


@blp.get("/q/<village_code>")
def village_link(village_code: str):
    with unit_of_work() as session:
        level = session.scalar(select(Region.level).where(Region.code == village_code))
    if level == "village":
        return redirect(start_page(village_code), code=302)
    page = NOT_FOUND_PAGE.format(
        style=STYLE, code=html.escape(village_code[:40]), start=html.escape(start_page())
    )
    return Response(
        page,
        status=404,
        mimetype="text/html",
        headers={"Content-Security-Policy": style_policy(STYLE)},
    )

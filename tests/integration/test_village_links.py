"""The address on a village's QR poster leads to the mini-program with the village chosen."""

from __future__ import annotations

from tests.support.regions import VILLAGE


def test_a_village_code_leads_to_the_start_page_with_the_village_chosen(
    app, http, live_server, with_regions
):
    app.config["APP_CONFIG"].MINIPROGRAM_URL = "http://mp.example/"
    answer = http.get(f"{live_server}/q/{VILLAGE}", allow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["Location"] == f"http://mp.example/?village={VILLAGE}"


def test_an_unknown_code_gets_a_page_a_resident_can_read(app, http, live_server, with_regions):
    for code in ("410721999999", VILLAGE[:9] + "000", "<script>"):
        answer = http.get(f"{live_server}/q/{code}", allow_redirects=False)
        assert answer.status_code == 404
        assert answer.headers["Content-Type"].startswith("text/html")
        assert "没有找到这个村的缴费二维码" in answer.text
        assert "<script>" not in answer.text  # the code is shown escaped

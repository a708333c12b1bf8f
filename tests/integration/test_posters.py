"""Village QR posters: the staff endpoint over HTTP and `flask posters`, with the files checked
the way a person would: the PDF's text, its first page rendered to an image, the QR code read
back by a decoder.

The rendered pages are kept under var/test-output/posters/ (printed by the tests) to look at.
"""

from __future__ import annotations

import io
import zipfile

import pypdf
import pypdfium2
import pytest
import zxingcpp
from PIL import Image

from backend.posters import layout
from backend.posters.fonts import FontMissing
from backend.posters.service import typeface_of
from tests.support.outputs import output_dir
from tests.support.regions import TOWNSHIP, VILLAGE, VILLAGE_2

URL = "/api/staff/v1/posters"
OUTPUT = output_dir("test-output", "posters")


@pytest.fixture(autouse=True)
def fonts_installed(app):
    try:
        typeface_of(app.config["APP_CONFIG"])
    except FontMissing as exc:
        pytest.fail(f"{exc} (make test installs it)")


def keep(name: str, image: Image.Image) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    image.save(OUTPUT / name)
    print(f"poster image for a person to look at: {OUTPUT / name}")


def staff(staff_token, role="viewer", region="410721"):
    return {"Authorization": f"Bearer {staff_token(role, region)}"}


def qr_texts(image: Image.Image) -> list[str]:
    return [found.text for found in zxingcpp.read_barcodes(image)]


def px(mm: float, image: Image.Image) -> int:
    return round(mm * image.width / layout.PAGE_WIDTH)


def test_a_viewer_gets_one_pdf_page_per_village_of_their_county_in_real_chinese(
    app, http, live_server, with_regions, staff_token
):
    answer = http.get(live_server + URL, params={"region": "410721"}, headers=staff(staff_token))
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"] == "application/pdf"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="posters-410721.pdf"'

    pages = pypdf.PdfReader(io.BytesIO(answer.content)).pages
    assert len(pages) == 2  # 大召营村 and 小召营村
    first = pages[0].extract_text()
    # Text extracted back to Unicode: the glyphs are mapped, so Chinese really is set, not boxes.
    for words in (
        "新乡市 新乡县 翟坡镇",
        "大召营村",
        "城乡居民基本养老保险",
        "城乡居民基本医疗保险",
        "微信扫码缴费",
        "2019年10月31日",
        "2019年11月30日",
        "2019年9月1日至2019年12月31日",
        "输入身份证号码和姓名",
        "如有疑问请咨询村委会或乡镇社保所",
        VILLAGE,
    ):
        assert words in first, words
    assert "小召营村" in pages[1].extract_text()

    document = pypdfium2.PdfDocument(answer.content)
    image = document[0].render(scale=150 / 72).to_pil().convert("RGB")
    document.close()
    keep("posters-410721-page1.png", image)
    # The title band: red, with white lettering in it (the title is really drawn).
    band = image.crop((0, 0, image.width, px(layout.HEADER_BOTTOM - 1, image)))
    colours = band.getcolors(maxcolors=1 << 16)
    white = sum(n for n, rgb in colours if min(rgb) > 230)
    red = sum(n for n, (r, g, b) in colours if r > 150 and g < 60 and b < 60)
    assert red > 0.6 * band.width * band.height
    assert white > 0.03 * band.width * band.height
    # The village name: dark ink under the band.
    name = image.crop(
        (0, px(layout.PLACE_BASELINE + 2, image), image.width, px(layout.QR_TOP - 2, image))
    ).convert("L")
    assert sum(name.histogram()[:80]) > 0.02 * name.width * name.height
    assert qr_texts(image) == [f"{live_server}/q/{VILLAGE}"]


def test_posters_stay_inside_the_callers_region(app, http, live_server, with_regions, staff_token):
    viewer = staff(staff_token)
    other = http.get(live_server + URL, params={"region": "410724"}, headers=viewer)
    assert other.status_code == 404
    assert other.json()["message"] == "该地区不在您的管辖范围内。"
    assert http.get(live_server + URL, params={"region": "410721"}).status_code == 401

    admin = staff(staff_token, "admin", "410700")
    unknown = http.get(live_server + URL, params={"region": "410721999"}, headers=admin)
    assert unknown.status_code == 404
    assert "没有找到地区代码" in unknown.json()["message"]
    city = http.get(live_server + URL, params={"region": "410700"}, headers=admin)
    assert city.status_code == 422
    assert "区县、乡镇或村" in city.json()["message"]
    malformed = http.get(live_server + URL, params={"region": "41072"}, headers=admin)
    assert malformed.status_code == 422
    no_policy = http.get(
        live_server + URL, params={"region": "410721", "year": 2031}, headers=admin
    )
    assert no_policy.status_code == 404
    assert "2031年度" in no_policy.json()["message"]


def test_a_village_as_png_and_a_township_as_a_zip_of_pngs(
    app, http, live_server, with_regions, staff_token
):
    viewer = staff(staff_token)
    one = http.get(live_server + URL, params={"region": VILLAGE, "format": "png"}, headers=viewer)
    assert one.status_code == 200, one.text
    assert one.headers["Content-Type"] == "image/png"
    assert f'filename="posters-{VILLAGE}.png"' in one.headers["Content-Disposition"]
    image = Image.open(io.BytesIO(one.content)).convert("RGB")
    assert image.size == (1240, 1754)  # A4 at 150 dpi
    keep(f"poster-{VILLAGE}.png", image)
    assert qr_texts(image) == [f"{live_server}/q/{VILLAGE}"]

    township = http.get(
        live_server + URL, params={"region": TOWNSHIP, "format": "png"}, headers=viewer
    )
    assert township.status_code == 200, township.text
    assert township.headers["Content-Type"] == "application/zip"
    assert 'filename="posters-410721100-png.zip"' in township.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(township.content)) as archive:
        assert archive.namelist() == [f"{VILLAGE}-大召营村.png", f"{VILLAGE_2}-小召营村.png"]
        second = Image.open(io.BytesIO(archive.read(f"{VILLAGE_2}-小召营村.png")))
        assert qr_texts(second.convert("RGB")) == [f"{live_server}/q/{VILLAGE_2}"]


def test_a_missing_font_gets_a_plain_503(app, http, live_server, with_regions, staff_token):
    app.config["APP_CONFIG"].POSTER_FONT = "/nonexistent/DroidSansFallbackFull.ttf"
    answer = http.get(live_server + URL, params={"region": VILLAGE}, headers=staff(staff_token))
    assert answer.status_code == 503
    assert "fonts-droid-fallback" in answer.json()["message"]
    assert "字体" in answer.json()["message"]


def test_flask_posters_writes_the_pdf_and_the_pngs(app, with_regions, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["posters", "--county", "410721", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "2 villages" in result.output
    assert len(pypdf.PdfReader(tmp_path / "posters-410721.pdf").pages) == 2
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == [
        f"{VILLAGE}-大召营村.png",
        f"{VILLAGE_2}-小召营村.png",
    ]

    village = runner.invoke(
        args=["posters", "--village", VILLAGE, "--out", str(tmp_path / "one"), "--no-png"]
    )
    assert village.exit_code == 0, village.output
    assert (tmp_path / "one" / f"posters-{VILLAGE}.pdf").is_file()
    assert not (tmp_path / "one" / "png").exists()

    wrong_level = runner.invoke(args=["posters", "--county", TOWNSHIP, "--out", str(tmp_path)])
    assert wrong_level.exit_code != 0
    assert "--township" in wrong_level.output
    unknown = runner.invoke(args=["posters", "--county", "410799", "--out", str(tmp_path)])
    assert unknown.exit_code == 1
    assert "没有找到地区代码" in unknown.output
    both = runner.invoke(args=["posters", "--county", "410721", "--village", VILLAGE])
    assert both.exit_code == 2

    app.config["APP_CONFIG"].POSTER_LATIN_FONT = "/nonexistent/DejaVuSans.ttf"
    no_font = runner.invoke(args=["posters", "--county", "410721", "--out", str(tmp_path)])
    assert no_font.exit_code == 1
    assert "fonts-dejavu-core" in no_font.output

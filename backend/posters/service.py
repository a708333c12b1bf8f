"""The posters of a region: its villages read from the database, then the PDF, PNGs or a ZIP.

A region is a village, a township or a county (a whole city at once is too much for one file).
Its villages are those whose code starts with the region's prefix, as for staff scopes; each
village's full name is found by walking parent_code up to the city.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.config import Config
from backend.errors import NotFound, Refused
from backend.fees import PolicyBook, PolicyNotFound
from backend.models import Region
from backend.posters import content, fonts, layout, pdf
from backend.posters.fonts import Typeface
from backend.posters.png import Painter
from backend.values import region_codes as regions

LEVELS = ("county", "township", "village")


class UnknownRegion(NotFound):
    """No region with this code; the message is for staff (Chinese), as below."""


class NotPosterLevel(Refused):
    """A city (or a malformed code): posters are made per county, township or village."""


class NoPolicy(NotFound):
    """No policy covers the region (that year): nothing to put on a poster."""


@dataclass(frozen=True)
class Batch:
    code: str  # the region asked for, 12 digits
    level: str
    full_name: str  # 新乡市 新乡县 翟坡镇
    collection_year: int
    posters: tuple[content.Poster, ...]

    @property
    def stem(self) -> str:
        """posters-410721 (county), posters-410721100 (township), posters-410721100201 (village)."""
        return f"posters-{regions.scope_prefix(self.code)}"

    def pages(self) -> Iterator[layout.Page]:
        return (layout.page(poster) for poster in self.posters)


def batch(
    session: Session,
    book: PolicyBook,
    code: str,
    *,
    public_base_url: str,
    collection_year: int | None = None,
) -> Batch:
    """The posters of every village in a county, township or village (DomainError if none)."""
    try:
        code = regions.normalise(code)
    except regions.InvalidRegionCode:
        raise NotPosterLevel(
            f"地区代码“{code}”格式不对：应为区县6位、乡镇9位或村12位数字。"
        ) from None
    region = session.get(Region, code)
    if region is None:
        raise UnknownRegion(f"没有找到地区代码 {code}。")
    if region.level not in LEVELS:
        raise NotPosterLevel("请选择一个区县、乡镇或村；全市的海报请按区县分别生成。")
    if region.level == "village":
        rows = [region]
    else:
        rows = list(
            session.scalars(
                select(Region)
                .where(
                    Region.level == "village",
                    Region.code.startswith(regions.scope_prefix(code), autoescape=True),
                )
                .order_by(Region.code)
            )
        )
    names = _ancestor_names(session, rows)
    villages = [content.Village(row.code, (*names(row.parent_code), row.name)) for row in rows]

    # Every village lies in the one county asked for (or below it): one policy for all.
    years = book.collection_years(code)
    year = collection_year if collection_year is not None else (years[-1] if years else None)
    if year is None:
        raise NoPolicy(f"{code[:6]} 还没有缴费政策，无法生成海报。")
    try:
        window, policies = book.collection(code, year)
    except PolicyNotFound:
        raise NoPolicy(f"{code[:6]} 没有{year}年度的缴费政策，无法生成海报。") from None
    collection = content.collection(window, policies)
    posters = tuple(
        content.Poster(village, content.village_url(public_base_url, village.code), collection)
        for village in villages
    )
    return Batch(
        code=code,
        level=region.level,
        full_name=" ".join((*names(region.parent_code), region.name)),
        collection_year=year,
        posters=posters,
    )


def _ancestor_names(session: Session, rows: list[Region]):
    """A function giving the names from the city down to a region code (inclusive)."""
    known: dict[str, tuple[str, str | None]] = {}
    wanted = {row.parent_code for row in rows if row.parent_code}
    while wanted:
        found = session.execute(
            select(Region.code, Region.name, Region.parent_code).where(Region.code.in_(wanted))
        ).all()
        for found_code, name, parent in found:
            known[found_code] = (name, parent)
        wanted = {parent for _, _, parent in found if parent and parent not in known}

    def names(code: str | None) -> tuple[str, ...]:
        chain: list[str] = []
        while code is not None and code in known:
            name, code = known[code]
            chain.append(name)
        return tuple(reversed(chain))

    return names


def typeface_of(cfg: Config) -> Typeface:
    """The poster fonts the settings name (fonts.FontMissing when one is not there)."""
    return fonts.typeface(cfg.POSTER_FONT, cfg.POSTER_LATIN_FONT)


def pdf_document(batch: Batch, typeface: Typeface) -> bytes:
    title = f"{batch.full_name} {content.HEADLINE}"
    return pdf.document(batch.pages(), typeface, title=title)


def png_images(batch: Batch, typeface: Typeface) -> Iterator[tuple[str, bytes]]:
    """(file name, PNG) per village: 410721100201-大召营村.png."""
    painter = Painter(typeface)
    for poster, page in zip(batch.posters, batch.pages(), strict=True):
        yield f"{poster.village.code}-{poster.village.name}.png", painter.png(page)


def png_zip(batch: Batch, typeface: Typeface) -> bytes:
    out = io.BytesIO()
    # PNG is compressed already: stored, not deflated again.
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in png_images(batch, typeface):
            archive.writestr(name, data)
    return out.getvalue()

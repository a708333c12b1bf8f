"""The two TrueType fonts the posters are set in, both from Debian packages the project installs
(scripts/system-packages.sh):

- POSTER_FONT, the Chinese characters: Droid Sans Fallback (fonts-droid-fallback). Being a
  fallback font it has no digits and no Latin letters at all;
- POSTER_LATIN_FONT, everything else (digits, Latin letters, “ ” –): DejaVu Sans
  (fonts-dejavu-core).

A line of text is cut into runs, each set in the font that has its characters; the PDF and the
PNG painters both draw run by run, so they agree.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from fontTools.ttLib import TTFont

CJK_PACKAGE = "fonts-droid-fallback"
LATIN_PACKAGE = "fonts-dejavu-core"
CJK, LATIN = 0, 1  # index of a run's font


class FontMissing(RuntimeError):
    """A poster font file is not there; the message says what to install."""

    def __init__(self, path: str | Path, package: str, setting: str) -> None:
        self.path = str(path)
        self.package = package
        super().__init__(
            f"the poster font {self.path} is missing: install the Debian package {package}"
            f" (scripts/system-packages.sh, run by make run and make test) or point {setting}"
            f" at another TrueType font"
        )

    @property
    def chinese(self) -> str:
        return (
            f"服务器缺少海报所用的字体（{self.path}），暂不能生成海报。"
            f"请管理员安装 {self.package} 字体包后重试。"
        )


@dataclass(frozen=True)
class Typeface:
    cjk: Path
    latin: Path
    cjk_chars: frozenset[int]  # the code points the CJK font has a glyph for

    def runs(self, text: str) -> list[tuple[int, str]]:
        """(font index, text) runs: the CJK font wherever it has the character."""
        runs: list[tuple[int, str]] = []
        for char in text:
            which = CJK if ord(char) in self.cjk_chars else LATIN
            if runs and runs[-1][0] == which:
                runs[-1] = (which, runs[-1][1] + char)
            else:
                runs.append((which, char))
        return runs


def typeface(cjk: str | Path, latin: str | Path) -> Typeface:
    """The poster fonts, checked (FontMissing names the package to install)."""
    for path, package, setting in (
        (cjk, CJK_PACKAGE, "POSTER_FONT"),
        (latin, LATIN_PACKAGE, "POSTER_LATIN_FONT"),
    ):
        if not Path(path).is_file():
            raise FontMissing(path, package, setting)
    return _load(Path(cjk), Path(latin))


@functools.lru_cache(maxsize=4)
def _load(cjk: Path, latin: Path) -> Typeface:
    # Only the character map is read (lazily), once per process.
    with TTFont(cjk, lazy=True) as font:
        chars = frozenset(font.getBestCmap())
    return Typeface(cjk, latin, chars)

"""The demo region tree: Xinxiang's 12 real counties with generated townships and villages.

The counties carry their real 行政区划 codes and names. Townships and villages below them are
made up (believable names, codes in the official shape) from a fixed seed of their own, so the
geography is the same for every population seed and every size: a person generated today lives
in the same village tomorrow.

Codes: township = county's 6 digits + 100, 101, ... + 000; below a township, communities (社区)
are numbered 001, 002, ... and villages (村) 201, 202, ..., as the national scheme does for
居委会 and 村委会.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from typing import NamedTuple

from backend.seed import names

CITY_CODE = "410700000000"
CITY_NAME = "新乡市"
# The geography never changes with the population seed (see the module docstring).
_REGION_SEED = 410700
# 东街 makes a fine 东街社区 but an odd 东街街道.
_STREET_WORDS = tuple(w for w in names.URBAN_WORDS if not w.endswith("街"))
# Villages are named after the common clans.
_SINGLE_SURNAMES = tuple(s for s in names.SURNAMES[:40] if len(s) == 1)


class RegionRow(NamedTuple):
    code: str
    name: str
    level: str
    parent_code: str | None


@dataclass(frozen=True)
class County:
    code6: str
    name: str
    urban: bool  # a city district: mostly 街道 and 社区
    # Rough relative population, only so the bigger counties get more of the people.
    weight: int

    @property
    def code(self) -> str:
        return self.code6 + "000000"


COUNTIES: tuple[County, ...] = (
    County("410702", "红旗区", True, 30),
    County("410703", "卫滨区", True, 20),
    County("410704", "凤泉区", True, 15),
    County("410711", "牧野区", True, 30),
    County("410721", "新乡县", False, 35),
    County("410724", "获嘉县", False, 43),
    County("410725", "原阳县", False, 70),
    County("410726", "延津县", False, 50),
    County("410727", "封丘县", False, 80),
    County("410781", "卫辉市", False, 50),
    County("410782", "辉县市", False, 88),
    County("410783", "长垣市", False, 88),
)


@functools.cache
def region_tree() -> tuple[RegionRow, ...]:
    """City, counties, townships and villages, every parent before its children."""
    rng = random.Random(_REGION_SEED)
    rows = [RegionRow(CITY_CODE, CITY_NAME, "city", None)]
    rows += [RegionRow(c.code, c.name, "county", CITY_CODE) for c in COUNTIES]
    township_names: set[str] = set()  # unique in the whole city, so a name alone is clear
    for county in COUNTIES:
        for position, kind in enumerate(_township_kinds(rng, county)):
            code = f"{county.code6}{100 + position:03d}000"
            name = _unique(township_names, lambda kind=kind: _township_name(rng, kind))
            rows.append(RegionRow(code, name, "township", county.code))
            rows += _villages(rng, code, kind)
    return tuple(rows)


@functools.cache
def villages_by_county() -> dict[str, tuple[RegionRow, ...]]:
    """County 6-digit code -> its villages and communities, in code order."""
    grouped: dict[str, list[RegionRow]] = {c.code6: [] for c in COUNTIES}
    for row in region_tree():
        if row.level == "village":
            grouped[row.code[:6]].append(row)
    return {code6: tuple(rows) for code6, rows in grouped.items()}


def _township_kinds(rng: random.Random, county: County) -> list[str]:
    if county.urban:
        return ["街道"] * rng.randint(3, 4) + [rng.choice(("镇", "乡"))] * rng.randint(1, 2)
    rural = rng.randint(4, 7)
    return ["街道"] + [("镇" if rng.random() < 0.6 else "乡") for _ in range(rural)]


def _township_name(rng: random.Random, kind: str) -> str:
    if kind == "街道":
        return rng.choice(_STREET_WORDS) + "街道"
    first = rng.choice(names.TOWNSHIP_FIRST)
    second = rng.choice(names.TOWNSHIP_SECOND)
    if first == second:
        return ""  # _unique draws again
    middle = rng.choice("里家王刘") if rng.random() < 0.2 else ""
    return first + middle + second + kind


def _villages(rng: random.Random, township_code: str, kind: str) -> list[RegionRow]:
    prefix = township_code[:9]
    if kind == "街道":
        communities, villages = rng.randint(6, 10), 0
    else:
        communities, villages = rng.randint(0, 2), rng.randint(8, 14)
    taken: set[str] = set()
    rows = []
    for n in range(communities):
        name = _unique(taken, lambda: rng.choice(names.URBAN_WORDS) + "社区")
        rows.append(RegionRow(f"{prefix}{1 + n:03d}", name, "village", township_code))
    for n in range(villages):
        name = _unique(taken, lambda: _village_name(rng))
        rows.append(RegionRow(f"{prefix}{201 + n:03d}", name, "village", township_code))
    return rows


def _village_name(rng: random.Random) -> str:
    roll = rng.random()
    suffix = rng.choice(names.VILLAGE_SUFFIXES)
    if roll < 0.45:  # 王庄村
        return rng.choice(_SINGLE_SURNAMES) + suffix + "村"
    if roll < 0.8:  # 后李屯村
        return rng.choice(names.VILLAGE_PREFIXES) + rng.choice(_SINGLE_SURNAMES) + suffix + "村"
    # 大召营村
    return rng.choice(names.VILLAGE_PREFIXES) + rng.choice(names.TOWNSHIP_FIRST) + suffix + "村"


def _unique(taken: set[str], draw) -> str:
    """Draw names until one is new; the pools are large enough that this ends quickly."""
    for _ in range(1000):
        name = draw()
        if name and name not in taken:
            taken.add(name)
            return name
    raise RuntimeError("name pool exhausted; widen the word lists in backend.seed.names")

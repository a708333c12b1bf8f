"""A small region tree used across tests (real county codes of Xinxiang)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.models import Region

CITY = "410700000000"
COUNTY = "410721000000"  # 新乡县
TOWNSHIP = "410721100000"
VILLAGE = "410721100201"
VILLAGE_2 = "410721100202"
OTHER_COUNTY = "410724000000"  # 获嘉县
OTHER_TOWNSHIP = "410724100000"
OTHER_VILLAGE = "410724100201"

TREE = [
    (CITY, "新乡市", "city", None),
    (COUNTY, "新乡县", "county", CITY),
    (TOWNSHIP, "翟坡镇", "township", COUNTY),
    (VILLAGE, "大召营村", "village", TOWNSHIP),
    (VILLAGE_2, "小召营村", "village", TOWNSHIP),
    (OTHER_COUNTY, "获嘉县", "county", CITY),
    (OTHER_TOWNSHIP, "城关镇", "township", OTHER_COUNTY),
    (OTHER_VILLAGE, "东关村", "village", OTHER_TOWNSHIP),
]


def load_regions(session: Session) -> None:
    for code, name, level, parent in TREE:
        session.add(Region(code=code, name=name, level=level, parent_code=parent))
        session.flush()
    session.commit()

"""The words of a village poster, from the region names and the fee policy. Pure: no Flask, no
database; the QR matrix comes from the qrcode package."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import qrcode
from qrcode.constants import ERROR_CORRECT_Q

from backend.fees import SchemePolicy
from backend.values.labels import SCHEME_NAMES
from backend.values.money import yuan_text

TITLE = (SCHEME_NAMES["pension"], SCHEME_NAMES["medical"])
HEADLINE = "微信扫码缴费"
SCAN_HINT = "微信扫一扫  缴纳两险"
STEPS = (
    "打开微信“扫一扫”，扫描上方二维码",
    "输入身份证号码和姓名，查询本人及家人的参保登记",
    "核对缴费项目和金额（养老保险可选择缴费档次）",
    "点击缴费，使用微信支付",
    "缴费成功后可查看缴费凭证，税票号码入库后显示",
)
AID_NOTE = "特困、低保、建档立卡等人员的政府代缴、资助部分，系统自动扣减，按显示金额缴纳即可。"
HELP = "如有疑问请咨询村委会或乡镇社保所"


@dataclass(frozen=True)
class SchemeLine:
    label: str  # 城乡居民基本养老保险
    period: str  # 2019年度
    amount: str  # 每人250元 / 200–5000元，15个档次自选
    deadline: str  # 2019年10月31日


@dataclass(frozen=True)
class Collection:
    """What every poster of one policy region and collection year says alike."""

    schemes: tuple[SchemeLine, ...]
    window: str  # 2019年9月1日至2019年12月31日


@dataclass(frozen=True)
class Village:
    code: str  # 12 digits
    names: tuple[str, ...]  # city, county, township, village: 新乡市 新乡县 翟坡镇 大召营村

    @property
    def name(self) -> str:
        return self.names[-1]

    @property
    def place(self) -> str:
        """Where the village lies: 新乡市 新乡县 翟坡镇."""
        return " ".join(self.names[:-1])

    @property
    def full_name(self) -> str:
        return " ".join(self.names)


@dataclass(frozen=True)
class Poster:
    village: Village
    url: str  # what the QR code carries
    collection: Collection

    @property
    def footer(self) -> str:
        return f"{HELP}　　村代码 {self.village.code}"


def chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def scheme_line(policy: SchemePolicy) -> SchemeLine:
    if policy.grades:
        # The retained lowest grade is for groups the government pays for; the poster shows the
        # grades anyone may choose.
        open_grades = [g.yuan for g in policy.grades if not g.special_only] or [
            g.yuan for g in policy.grades
        ]
        if len(open_grades) == 1:
            amount = f"每人{open_grades[0]}元"
        else:
            amount = f"{open_grades[0]}–{open_grades[-1]}元，{len(open_grades)}档自选"
    else:
        amount = f"每人{yuan_text(policy.share_fen, whole_without_cents=True)}元"
    return SchemeLine(
        label=policy.label,
        period=f"{policy.period_year}年度",
        amount=amount,
        deadline=chinese_date(policy.deadline),
    )


def collection(window: tuple[date, date], policies: Sequence[SchemePolicy]) -> Collection:
    return Collection(
        schemes=tuple(scheme_line(p) for p in policies),
        window=f"{chinese_date(window[0])}至{chinese_date(window[1])}",
    )


def village_url(public_base_url: str, village_code: str) -> str:
    return f"{public_base_url.rstrip('/')}/q/{village_code}"


@functools.lru_cache(maxsize=4096)
def qr_matrix(data: str) -> tuple[tuple[bool, ...], ...]:
    """The QR code's modules, True for dark, without the quiet zone (the layout leaves it white).

    Error correction level Q (25 %): a poster on a notice board gets rained on and scratched.
    """
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=0)
    code.add_data(data)
    code.make(fit=True)
    return tuple(tuple(bool(m) for m in row) for row in code.get_matrix())

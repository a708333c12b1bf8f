"""A receipt in words: the headline of its standing and its lines, shared by the page and the PDF.

Pure: the same facts give the same words on the phone and on paper.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.receipts.facts import PARTLY_REFUNDED, REFUNDED, VALID, ReceiptFacts
from backend.values.beijing import beijing_text
from backend.values.labels import CHANNEL_NAMES, SCHEME_NAMES
from backend.values.money import yuan_text

TITLE = "城乡居民社会保险费缴费凭证"
FORGED_HEADLINE = "无法验证"
FORGED_TEXT = "无法验证：此凭证不是本系统签发的或已被篡改。请勿凭此凭证认定已缴费，可让缴费人在缴费页面重新打开凭证，或向村（社区）、乡镇经办人员核实。"
SCAN_HINT = "扫描二维码，可在线核验本凭证的当前状态"
CHECK_HINT = (
    "核对时请与缴费人的身份证比对姓名首字和号码前六位、后四位；页面显示“已退款”的，缴费不再成立。"
)


@dataclass(frozen=True)
class Headline:
    word: str  # 有效, 已退款 ...
    text: str  # one plain sentence
    tone: str  # ok | warn | bad: the page's colour


def headline(state: str, facts: ReceiptFacts) -> Headline:
    if state == VALID:
        return Headline("有效", "本凭证由本系统签发，缴费记录真实有效。", "ok")
    if state == PARTLY_REFUNDED:
        left = yuan_text(facts.amount_fen - facts.refunded_fen)
        return Headline(
            "有效（已部分退款）",
            f"本凭证由本系统签发。已退款 {yuan_text(facts.refunded_fen)} 元，"
            f"仍有效的缴费金额为 {left} 元。",
            "warn",
        )
    if state == REFUNDED:
        what = "已退款，税务已冲正" if facts.reversed else "已退款"
        return Headline(
            what,
            "本凭证由本系统签发，但这笔缴费已全额退还，缴费不再成立；如需参保请重新缴费。",
            "bad",
        )
    return Headline(FORGED_HEADLINE, FORGED_TEXT, "bad")


def lines(facts: ReceiptFacts) -> list[tuple[str, str]]:
    """(label, value) rows, in the order a clerk reads them."""
    rows = [
        ("缴费人", facts.name_masked),
        ("身份证号", facts.id_number_masked),
        ("险种", SCHEME_NAMES[facts.scheme]),
        ("缴费年度", f"{facts.period_year}年度"),
    ]
    if facts.grade_yuan is not None:
        rows.append(("缴费档次", f"{facts.grade_yuan} 元/年"))
    rows.append(("个人缴费金额", f"{yuan_text(facts.amount_fen)} 元"))
    if facts.gov_paid_fen:
        rows.append(("政府代缴（资助）", f"{yuan_text(facts.gov_paid_fen)} 元"))
    rows += [
        ("缴费渠道", CHANNEL_NAMES.get(facts.channel, facts.channel)),
        ("缴费时间", f"{beijing_text(facts.paid_at)}（北京时间）"),
        ("订单号", facts.order_no),
        ("电子税票号码", facts.tax_receipt_no or "待税务入库确认后显示"),
    ]
    if facts.refunded_fen:
        rows.append(("已退款", f"{yuan_text(facts.refunded_fen)} 元"))
        if facts.refunded_at:
            rows.append(("退款时间", f"{beijing_text(facts.refunded_at)}（北京时间）"))
    return rows

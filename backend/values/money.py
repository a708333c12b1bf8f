"""Money is integer fen everywhere; this is the one place it becomes yuan text for people."""

from __future__ import annotations

FEN_PER_YUAN = 100


def yuan_text(fen: int, *, whole_without_cents: bool = False, grouped: bool = False) -> str:
    """12345 -> '123.45', -5 -> '-0.05': two decimals, never through a float.

    `whole_without_cents`: a whole amount as people write it in a sentence, 25000 -> '250'
    (files keep the two decimals, so columns line up and parse back exactly).
    `grouped`: thousands separated for a summary people read, 123456789 -> '1,234,567.89'.
    """
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), FEN_PER_YUAN)
    whole = f"{yuan:,}" if grouped else str(yuan)
    if whole_without_cents and cents == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{cents:02d}"

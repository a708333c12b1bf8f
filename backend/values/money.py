"""Money is integer fen everywhere; this is the one place it becomes yuan text for people."""

from __future__ import annotations


def yuan_text(fen: int) -> str:
    """12345 -> '123.45', -5 -> '-0.05': always two decimals, never through a float."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"

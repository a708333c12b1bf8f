"""Masking of personal data for API answers and logs: never show a full ID number or name."""

from __future__ import annotations

import logging
import re

_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[0-9Xx])(?![0-9A-Za-z])")


def mask_id_number(id_number: str) -> str:
    """Keep the county of issue (first 6) and the last 4: '410721********123X'."""
    if len(id_number) != 18:
        return "*" * len(id_number)
    return id_number[:6] + "*" * 8 + id_number[-4:]


def mask_name(name: str) -> str:
    """Keep the first character only: '张*', '欧阳**'."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1)


def mask_text(text: str) -> str:
    """Mask every ID-number-shaped token in free text (used on log records)."""
    return _ID_NUMBER.sub(lambda m: m.group(1) + "*" * 8 + m.group(2)[-4:], text)


class MaskingFilter(logging.Filter):
    """Last line of defence: a log line that slipped an ID number through gets it masked, in its
    message and in its traceback (an exception's text can quote a value)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            # Formatted here (as the handler's formatter would) so the masked text is what it prints.
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


_FORMATTER = logging.Formatter()

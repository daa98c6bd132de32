"""Masking of personal identifiers before they reach a log line, a span or a metric."""

from __future__ import annotations

import re

# A CCCD (citizen identity card) number is 12 digits; old CMND numbers are 9. Mask both when they
# stand alone, so order ids or amounts glued to other digits are left as they are.
_CCCD = re.compile(r"(?<!\d)(\d{3})\d{7}(\d{2})(?!\d)")
_CMND = re.compile(r"(?<!\d)(\d{2})\d{5}(\d{2})(?!\d)")


def mask_cccd(number: str) -> str:
    """Mask a 12-digit CCCD number, keeping the province code and the last two digits."""
    if len(number) != 12 or not number.isdigit():
        return "*" * len(number)
    return f"{number[:3]}*******{number[-2:]}"


def mask_identifiers(text: str) -> str:
    """Mask every CCCD or CMND number found in free text."""
    text = _CCCD.sub(r"\1*******\2", text)
    return _CMND.sub(r"\1*****\2", text)

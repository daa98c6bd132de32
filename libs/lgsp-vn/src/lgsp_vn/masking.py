"""Masking of personal identifiers in free text (log lines, span attributes, error messages)."""

from __future__ import annotations

import re

# A CCCD (citizen identity card) number is 12 digits; old CMND numbers are 9. Mask both when they
# stand alone, so order ids or amounts glued to other digits are left as they are. The mask keeps
# what `lgsp_vn.cccd.mask_cccd` keeps: the province code and the last two digits.
_CCCD = re.compile(r"(?<!\d)(\d{3})\d{7}(\d{2})(?!\d)")
_CMND = re.compile(r"(?<!\d)(\d{2})\d{5}(\d{2})(?!\d)")


def mask_identifiers(text: str) -> str:
    """Mask every CCCD or CMND number found in free text."""
    text = _CCCD.sub(r"\1*******\2", text)
    return _CMND.sub(r"\1*****\2", text)

"""JSON logging with identifier masking, configured once per process by the entrypoint.

Masking happens twice: `MaskingFilter` rewrites the message and the string fields of a record
(so every handler, a test's included, sees them masked), and `MaskingFormatter` masks the final
formatted line, which is the only place that also covers what the filter cannot reach: the
exception text and stack of a traceback, and values inside non-string fields (dicts, lists,
reprs). Either alone would leak; the formatter is the guarantee.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

from lgsp_vn.masking import mask_identifiers


class MaskingFilter(logging.Filter):
    """Mask personal identifiers in the message and every structured field of a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        record.msg = mask_identifiers(str(record.msg))
        record.__dict__.pop("color_message", None)  # uvicorn's ANSI duplicate of the message
        for key, value in list(record.__dict__.items()):
            if isinstance(value, str) and key not in {"msg", "levelname", "name", "pathname"}:
                record.__dict__[key] = mask_identifiers(value)
        return True


class MaskingFormatter(logging.Formatter):
    """Format with the wrapped formatter, then mask the whole line, traceback included."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        """Return the wrapped formatter's line with every CCCD or CMND number masked."""
        line = mask_identifiers(self.inner.format(record))
        # Formatter.format caches the unmasked traceback on the record for later handlers.
        if record.exc_text:
            record.exc_text = mask_identifiers(record.exc_text)
        return line


def masking(handler: logging.Handler) -> logging.Handler:
    """Mask what the handler writes: its formatter wrapped, the masking filter added."""
    inner = handler.formatter or logging.Formatter()
    if not isinstance(inner, MaskingFormatter):
        handler.setFormatter(MaskingFormatter(inner))
    if not any(isinstance(f, MaskingFilter) for f in handler.filters):
        handler.addFilter(MaskingFilter())
    return handler


def configure_logging(
    service: str, level: str = "INFO", json_output: bool = True, stream: TextIO | None = None
) -> None:
    """Send the root logger to stderr (or `stream`) as JSON (or text), masked on every line."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if json_output:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                datefmt="%Y-%m-%dT%H:%M:%S%z",
                static_fields={"service": service},
                # Text as itself: a `\uXXXX` escape ending in a digit, glued to a number, would
                # hide the number's start from the mask.
                json_ensure_ascii=False,
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [masking(handler)]
    root.setLevel(level)
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))

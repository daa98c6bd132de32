"""JSON logging with identifier masking, configured once per process by the entrypoint."""

from __future__ import annotations

import logging
import sys

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


def configure_logging(service: str, level: str = "INFO", json_output: bool = True) -> None:
    """Send the root logger to stderr as JSON (or text), with masking on every handler."""
    handler = logging.StreamHandler(sys.stderr)
    if json_output:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                datefmt="%Y-%m-%dT%H:%M:%S%z",
                static_fields={"service": service},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))

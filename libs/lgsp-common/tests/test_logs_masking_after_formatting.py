"""Masking applies to the formatted line: tracebacks and non-string fields included."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from lgsp_common.logs import MaskingFormatter, configure_logging, masking

CCCD = "079203004567"


@pytest.fixture
def root_restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def _fail_with_cccd() -> None:
    cccd = CCCD
    raise ValueError(f"citizen {cccd} not found")


@pytest.mark.parametrize("json_output", [True, False], ids=["json", "text"])
def test_a_traceback_is_masked(json_output: bool, root_restored: None) -> None:
    stream = io.StringIO()
    configure_logging("test-service", "INFO", json_output=json_output, stream=stream)
    try:
        _fail_with_cccd()
    except ValueError:
        logging.getLogger("lgsp.test").exception("lookup failed")
    text = stream.getvalue()
    assert "Traceback" in text or "ValueError" in text
    assert CCCD not in text
    assert "079*******67" in text


def test_non_string_fields_are_masked(root_restored: None) -> None:
    stream = io.StringIO()
    configure_logging("test-service", "INFO", json_output=True, stream=stream)
    logging.getLogger("lgsp.test").warning(
        "refused", extra={"body": {"cccd": CCCD}, "ids": [CCCD], "error": ValueError(CCCD)}
    )
    line = json.loads(stream.getvalue())
    assert CCCD not in stream.getvalue()
    assert line["body"] == {"cccd": "079*******67"}
    assert line["ids"] == ["079*******67"]


def test_a_number_after_non_ascii_text_is_masked(root_restored: None) -> None:
    stream = io.StringIO()
    configure_logging("test-service", "INFO", json_output=True, stream=stream)
    logging.getLogger("lgsp.test").info("số\u00a0%s", CCCD, extra={"note": {"k": f"ố{CCCD}"}})
    assert CCCD not in stream.getvalue()
    assert json.loads(stream.getvalue())["message"] == "số\u00a0079*******67"


def test_a_stack_is_masked(root_restored: None) -> None:
    stream = io.StringIO()
    configure_logging("test-service", "INFO", json_output=False, stream=stream)
    logging.getLogger("lgsp.test").info("here", stack_info=True, extra={"cccd": CCCD})
    assert CCCD not in stream.getvalue()


def test_masking_wraps_any_handler_once() -> None:
    handler = logging.StreamHandler(io.StringIO())
    assert masking(masking(handler)) is handler
    assert isinstance(handler.formatter, MaskingFormatter)
    assert not isinstance(handler.formatter.inner, MaskingFormatter)
    assert len(handler.filters) == 1
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, None)
    try:
        _fail_with_cccd()
    except ValueError:
        record.exc_info = sys.exc_info()
    assert CCCD not in handler.format(record)
    assert record.exc_text is not None and CCCD not in record.exc_text

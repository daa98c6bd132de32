"""Personal identifiers never reach a log line unmasked."""

from __future__ import annotations

import io
import json
import logging

import pytest

from lgsp_common.logs import configure_logging
from lgsp_vn.cccd import mask_cccd
from lgsp_vn.masking import mask_identifiers


def test_free_text_mask_agrees_with_the_one_mask_cccd() -> None:
    assert mask_identifiers("077190001234") == mask_cccd("077190001234") == "077*******34"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("citizen 077190001234 verified", "citizen 077*******34 verified"),
        ("cccd=077190001234,", "cccd=077*******34,"),
        ("old id 271234567", "old id 27*****67"),
        ("order 0771900012345", "order 0771900012345"),  # 13 digits: not an identifier
    ],
)
def test_mask_identifiers_in_free_text(text: str, expected: str) -> None:
    assert mask_identifiers(text) == expected


def test_json_logs_mask_message_args_and_extra_fields(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("test-service", "INFO", json_output=True)
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    handler.setStream(stream)  # type: ignore[attr-defined]
    logging.getLogger("lgsp.test").info(
        "lookup of %s", "079203004567", extra={"cccd": "079203004567", "purpose": "bhyt"}
    )
    line = json.loads(stream.getvalue().strip())
    assert line["message"] == "lookup of 079*******67"
    assert line["cccd"] == "079*******67"
    assert line["service"] == "test-service"
    assert line["level"] == "INFO"
    assert "079203004567" not in stream.getvalue()

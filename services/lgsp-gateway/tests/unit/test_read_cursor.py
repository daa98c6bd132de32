"""Read cursors: round trip, and every way a cursor can be unusable is told apart."""

from __future__ import annotations

import base64
import json

import pytest

from lgsp_gateway.domain.cursor import Cursor, CursorError, decode_cursor, encode_cursor

KEY = b"unit-cursor-key"


def token(positions: dict[int, int], consumer: str = "c-1", topic: str = "t.v1") -> str:
    """Encode a cursor for the tests."""
    return encode_cursor(Cursor(consumer, topic, positions), KEY)


def reason(text: str, consumer: str = "c-1", topic: str = "t.v1", key: bytes = KEY) -> str:
    """Return why a cursor is refused."""
    with pytest.raises(CursorError) as caught:
        decode_cursor(text, key, consumer_id=consumer, topic=topic)
    return caught.value.reason


def test_a_cursor_round_trips_every_partition() -> None:
    positions = {0: 12, 1: 0, 7: 10**12}
    cursor = decode_cursor(token(positions), KEY, consumer_id="c-1", topic="t.v1")
    assert cursor == Cursor("c-1", "t.v1", positions)


def test_the_cursor_is_url_safe_and_opaque_enough() -> None:
    text = token({0: 1})
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def test_a_changed_position_breaks_the_signature() -> None:
    payload, mac = token({0: 5}).split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["p"]["0"] = 0  # read again what was read: refused
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    assert reason(f"{forged}.{mac}") == "invalid-cursor"


@pytest.mark.parametrize("text", ["", "nodot", "a.b.c", "!!.??", "x" * 9_000, "e30.e30"])
def test_malformed_cursors_are_invalid(text: str) -> None:
    assert reason(text) == "invalid-cursor"


def test_another_key_means_invalid() -> None:
    assert reason(token({0: 1}), key=b"another-replica-key") == "invalid-cursor"


def test_a_cursor_of_another_consumer_or_topic_is_foreign() -> None:
    assert reason(token({0: 1}, consumer="c-2")) == "foreign-cursor"
    assert reason(token({0: 1}, topic="other.v1")) == "foreign-cursor"


def test_negative_positions_are_invalid_even_when_signed() -> None:
    assert reason(token({0: -1})) == "invalid-cursor"

"""Read cursors: every partition's next offset, signed and bound to one consumer and one topic.

A cursor is the whole state of a pull consumer, so any gateway replica can serve the next
request: no sticky sessions, no consumer instance held for the client. It reads
`<payload>.<mac>`, both base64url without padding; the payload is compact JSON
`{"v": 1, "c": consumer_id, "t": topic, "p": {"<partition>": next_offset}}` and the mac is the
HMAC-SHA256 of the payload bytes under the gateway's cursor key (`LGSP_GATEWAY_CURSOR_KEY`,
shared by every replica). The mac is checked before anything in the payload is trusted; a
valid cursor of another consumer or topic is refused as foreign.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass

VERSION = 1
# Fits a query string under the HTTP server's request-line limit; ~300 partitions' positions.
MAX_CURSOR_CHARS = 8 * 1024


class CursorError(ValueError):
    """A cursor that cannot be used: `reason` is `invalid-cursor` or `foreign-cursor`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Cursor:
    """Where one consumer stands on one topic: partition → next offset to read."""

    consumer_id: str
    topic: str
    positions: Mapping[int, int]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()


def encode_cursor(cursor: Cursor, key: bytes) -> str:
    """Sign and encode a cursor."""
    body = {
        "v": VERSION,
        "c": cursor.consumer_id,
        "t": cursor.topic,
        "p": {str(p): int(o) for p, o in sorted(cursor.positions.items())},
    }
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return f"{_b64(payload)}.{_b64(_mac(key, payload))}"


def _verified_payload(token: str, key: bytes) -> bytes:
    if len(token) > MAX_CURSOR_CHARS or token.count(".") != 1:
        raise CursorError("invalid-cursor", "the cursor is not one this platform issued")
    encoded, signature = token.split(".")
    try:
        payload, mac = _unb64(encoded), _unb64(signature)
    except (binascii.Error, ValueError) as exc:
        raise CursorError("invalid-cursor", "the cursor is not valid base64url") from exc
    if not hmac.compare_digest(mac, _mac(key, payload)):
        raise CursorError("invalid-cursor", "the cursor's signature does not match (tampered?)")
    return payload


def _positions(raw: object) -> dict[int, int]:
    if not isinstance(raw, dict):
        raise CursorError("invalid-cursor", "the cursor has no positions")
    positions: dict[int, int] = {}
    for partition, offset in raw.items():
        if not (isinstance(partition, str) and partition.isdigit() and isinstance(offset, int)):
            raise CursorError("invalid-cursor", "the cursor's positions are malformed")
        if offset < 0:
            raise CursorError("invalid-cursor", "the cursor's positions are malformed")
        positions[int(partition)] = offset
    return positions


def decode_cursor(token: str, key: bytes, *, consumer_id: str, topic: str) -> Cursor:
    """Check a cursor's signature and binding; raise CursorError when it cannot be used."""
    payload = _verified_payload(token, key)
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CursorError("invalid-cursor", "the cursor's payload is not JSON") from exc
    if not isinstance(body, dict) or body.get("v") != VERSION:
        raise CursorError("invalid-cursor", "the cursor's version is not supported")
    if body.get("c") != consumer_id:
        raise CursorError("foreign-cursor", "the cursor was issued to another consumer")
    if body.get("t") != topic:
        raise CursorError("foreign-cursor", f"the cursor was issued for another topic, not {topic}")
    return Cursor(consumer_id, topic, _positions(body.get("p")))

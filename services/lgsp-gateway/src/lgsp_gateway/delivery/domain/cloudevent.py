"""A webhook body: the record as a structured CloudEvent, its data trimmed to approved fields.

The envelope comes from the record's `ce_*` headers; its place travels as the extension
attributes `kafkapartition` and `kafkaoffset`, as in pull answers; `data` is projected by the
consumer's `FieldSelection`. Nothing else of the payload leaves the platform.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from lgsp_common.minimise import FieldSelection

ENVELOPE = ("specversion", "id", "source", "type", "time", "subject", "dataschema")


@dataclass(frozen=True)
class Envelope:
    """One record ready to deliver: its event id, body, disclosed fields and trace parent."""

    event_id: str
    body: str
    disclosed: list[str]
    traceparent: str | None


def envelope(
    partition: int,
    offset: int,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes]],
    selection: FieldSelection,
) -> Envelope:
    """Build the body of one record; ValueError when the record is not a JSON CloudEvent."""
    event: dict[str, Any] = {}
    traceparent = None
    for name, raw in headers:
        if raw is None:
            continue
        if name.startswith("ce_") and name[3:] in ENVELOPE:
            event[name[3:]] = raw.decode("utf-8", "replace")
        elif name == "content-type":
            event["datacontenttype"] = raw.decode("utf-8", "replace")
        elif name == "traceparent":
            traceparent = raw.decode("ascii", "replace")
    if "id" not in event:
        raise ValueError("the record has no ce_id header")
    event.setdefault("specversion", "1.0")
    try:
        data = orjson.loads(value) if value else None
    except orjson.JSONDecodeError as exc:
        raise ValueError("the record value is not JSON") from exc
    event["kafkapartition"] = partition
    event["kafkaoffset"] = offset
    event["data"] = selection.project(data)
    body = orjson.dumps(event).decode("utf-8")
    return Envelope(event["id"], body, selection.disclosed(data), traceparent)

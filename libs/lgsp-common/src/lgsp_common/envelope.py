"""The CloudEvents 1.0 envelope and its Kafka binary-mode mapping (ce_* headers)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from opentelemetry import propagate
from pydantic import BaseModel, ConfigDict, Field

from lgsp_common.ids import new_id

CONTENT_TYPE_JSON = "application/json"
# Attributes carried as ce_<name> headers in Kafka binary mode (data travels as the value).
CE_ATTRIBUTES = ("specversion", "id", "source", "type", "time", "subject", "dataschema")
TRACE_HEADERS = ("traceparent", "tracestate")

Headers = list[tuple[str, bytes]]
# The CloudEvents extension attribute that declares an event part of a historical import run
# (its value is the run id); carried on Kafka as the `ce_lgspimport` header. See
# contracts/envelope/README.md: such events may fill windows that were never live.
IMPORT_EXTENSION = "lgspimport"
IMPORT_RUN_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
_IMPORT_RUN = re.compile(IMPORT_RUN_PATTERN)


def valid_import_run(value: object) -> bool:
    """Tell whether a value is a well-formed import run id (1-64 characters, no spaces)."""
    return isinstance(value, str) and _IMPORT_RUN.fullmatch(value) is not None


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event whose data is a JSON value."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=new_id, min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: datetime | None = None
    subject: str | None = None
    dataschema: str | None = None
    datacontenttype: str = CONTENT_TYPE_JSON
    data: Any = None

    def extensions(self) -> dict[str, str]:
        """Return the extension attributes (lower-case names beyond the core ones)."""
        return {k: str(v) for k, v in (self.model_extra or {}).items() if v is not None}


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """What goes onto a topic: key, value and headers."""

    key: bytes | None
    value: bytes
    headers: Headers = field(default_factory=list)


def _format_time(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def to_kafka(
    event: CloudEvent, key: str | None, carrier: Mapping[str, str] | None = None
) -> KafkaRecord:
    """Encode an event in Kafka binary mode; trace context comes from `carrier` or the span."""
    headers: Headers = []
    for name in CE_ATTRIBUTES:
        value = getattr(event, name)
        if value is None:
            continue
        text = _format_time(value) if isinstance(value, datetime) else str(value)
        headers.append((f"ce_{name}", text.encode()))
    for name, text in event.extensions().items():
        headers.append((f"ce_{name}", text.encode()))
    headers.append(("content-type", event.datacontenttype.encode()))
    trace: dict[str, str] = dict(carrier) if carrier is not None else {}
    if carrier is None:
        propagate.inject(trace)
    headers.extend((k, v.encode()) for k, v in trace.items() if k in TRACE_HEADERS)
    return KafkaRecord(
        key=key.encode() if key is not None else None,
        value=orjson.dumps(event.data),
        headers=headers,
    )


def headers_dict(headers: Iterable[tuple[str, bytes]] | None) -> dict[str, str]:
    """Decode Kafka headers to text; the last value of a repeated header wins."""
    return {k: v.decode("utf-8", "replace") for k, v in (headers or ()) if v is not None}


def from_kafka(value: bytes | None, headers: Sequence[tuple[str, bytes]] | None) -> CloudEvent:
    """Decode a binary-mode record into an event (raises ValueError on a bad record)."""
    text = headers_dict(headers)
    attrs: dict[str, Any] = {k[3:]: v for k, v in text.items() if k.startswith("ce_")}
    attrs["datacontenttype"] = text.get("content-type", CONTENT_TYPE_JSON)
    try:
        attrs["data"] = orjson.loads(value) if value else None
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"record value is not JSON: {exc}") from exc
    return CloudEvent.model_validate(attrs)


def trace_carrier(headers: Sequence[tuple[str, bytes]] | None) -> dict[str, str]:
    """Return the W3C trace headers of a record, to continue its trace."""
    return {k: v for k, v in headers_dict(headers).items() if k in TRACE_HEADERS}

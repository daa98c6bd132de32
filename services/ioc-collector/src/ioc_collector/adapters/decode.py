"""Turning Kafka records into events, or into counted poison: never an exception in the loop.

A record on a data topic must be a CloudEvent in Kafka binary mode whose value is JSON matching
the topic's contract (the registry's latest version, else the contracts folder). Anything else
is poison: counted by reason and skipped, so one bad producer cannot stop the KPIs.
A dead-letter record is read for its `source`, to count the rejections of each source.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat
from pathlib import Path
from typing import Any, Literal, Protocol

import orjson

from ioc_collector.domain.events import EventBatch, EventView
from lgsp_common.envelope import IMPORT_EXTENSION, from_kafka, valid_import_run
from lgsp_common.schemas import runtime_validator
from lgsp_common.topics import load_contract

log = logging.getLogger(__name__)
PoisonReason = Literal["not_json", "not_cloudevent", "contract"]
CONTRACT_BROKEN = "the payload does not match the topic's contract"
Contract = Callable[[str], dict[str, Any] | None]


class Record(Protocol):
    """The parts of an aiokafka ConsumerRecord the collector reads."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: Any


@dataclass(frozen=True, slots=True)
class Poison:
    """A record that is not a usable event, and why."""

    reason: PoisonReason
    detail: str


class ContractValidators:
    """Caches one compiled JSON Schema validator per topic and contract document."""

    def __init__(self, registry_contract: Contract, contracts_dir: Path) -> None:
        self._registry_contract = registry_contract
        self._contracts_dir = contracts_dir
        self._cache: dict[str, tuple[str, Any]] = {}

    def validator(self, topic: str) -> Any:
        """Return the validator of a topic's current contract, or None when it has none."""
        found = self._registry_contract(topic)
        schema: Any = found.get("schema") if found is not None else None
        if isinstance(schema, dict):
            marker = f"registry:{found.get('id')}:{found.get('version')}"  # type: ignore[union-attr]
        else:
            marker, schema = "folder", None
        cached = self._cache.get(topic)
        if cached is not None and cached[0] == marker:
            return cached[1]
        if schema is None:
            schema = load_contract(self._contracts_dir, topic)
        validator = runtime_validator(schema) if schema is not None else None
        self._cache[topic] = (marker, validator)
        return validator


def event_from_record(record: Record, validators: ContractValidators) -> EventView | Poison:
    """Decode a data record into the collector's event view, or say why it is poison."""
    try:
        payload = orjson.loads(record.value) if record.value else None
    except orjson.JSONDecodeError as exc:
        return Poison("not_json", str(exc)[:200])
    try:
        event = from_kafka(record.value, record.headers)
    except ValueError as exc:
        return Poison("not_cloudevent", str(exc)[:200])
    if not isinstance(payload, dict):
        return Poison("contract", "the payload is not a JSON object")
    import_run = event.extensions().get(IMPORT_EXTENSION)
    if import_run is not None and not valid_import_run(import_run):
        return Poison("not_cloudevent", f"{IMPORT_EXTENSION} is not a valid import run id")
    validator = validators.validator(record.topic)
    if validator is not None and not validator.is_valid(payload):
        return Poison("contract", CONTRACT_BROKEN)
    received = datetime.fromtimestamp(record.timestamp / 1000, UTC)
    return EventView(
        # (source, id) is the unique pair: two sources may reuse one id.
        event_id=f"{event.source} {event.id}",
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        ce_type=event.type,
        time=event.time or received,
        source=event.source,
        payload=payload,
        import_run=import_run,
    )


# Headers a plain binary-mode record carries; with any other, the record takes the exact path.
_PLAIN_HEADERS = frozenset(
    ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject",
     "ce_dataschema", "content-type", "traceparent", "tracestate")
)  # fmt: skip
# RFC 3339 as the gateway writes it; pydantic and datetime.fromisoformat read it alike.
_PLAIN_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?"
    r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)",
    re.ASCII,
)
Attributes = tuple[str, str, str, datetime | None]


def _plain_attributes(headers: Any) -> Attributes | None:
    """Return (id, source, type, time) of a plain binary-mode CloudEvent, the values
    `from_kafka` would give; None when the record needs the exact, slower decoding."""
    found = dict(headers or ())
    if not _PLAIN_HEADERS.issuperset(found) or found.get("ce_specversion", b"1.0") != b"1.0":
        return None
    try:
        event_id = found["ce_id"].decode()
        source = found["ce_source"].decode()
        ce_type = found["ce_type"].decode()
        # A null value fails here too: `from_kafka` skips it (an earlier header may count).
        text = found["ce_time"].decode() if "ce_time" in found else None
    except (KeyError, AttributeError, UnicodeDecodeError):
        return None
    if not (event_id and source and ce_type):
        return None
    if text is None:
        return event_id, source, ce_type, None
    if not _PLAIN_TIME.fullmatch(text):
        return None
    try:
        return event_id, source, ce_type, datetime.fromisoformat(text)
    except ValueError:
        return None


@dataclass(slots=True)
class DecodedBatch:
    """A partition's records: the events as columns, and the poison records with reasons."""

    events: EventBatch
    poison: list[tuple[Record, Poison]]


# An event as a row: offset, event id, type, time, Kafka timestamp, source, payload, import.
_Row = tuple[int, str, str, datetime | None, int, str, Any, str | None]


def decode_batch(
    topic: str, partition: int, records: Sequence[Record], validators: ContractValidators
) -> DecodedBatch:
    """Decode a partition's records in order; each is an event or poison, as with
    `event_from_record`, which still decodes the records that are not plain."""
    plain = _decode_plain(topic, partition, records, validators.validator(topic))
    if plain is not None:
        return DecodedBatch(plain, [])
    return _decode_each(topic, partition, records, validators)


def _decode_plain(
    topic: str, partition: int, records: Sequence[Record], validator: Any
) -> EventBatch | None:
    """Decode a batch of plain, valid events column by column; None if any record is not."""
    try:
        payloads = [orjson.loads(record.value) for record in records]  # type: ignore[arg-type]
    except (orjson.JSONDecodeError, TypeError):  # not JSON, or no value
        return None
    found = [_plain_attributes(record.headers) for record in records]
    if None in found or not all(map(isinstance, payloads, repeat(dict))):
        return None
    if validator is not None and not all(map(validator.is_valid, payloads)):
        return None
    batch = EventBatch(topic, partition)
    if records:
        event_ids, sources, ce_types, times = (list(c) for c in zip(*found, strict=True))
        # (source, id) is the unique pair: two sources may reuse one id.
        pairs = zip(sources, event_ids, strict=True)
        batch.event_ids = [f"{source} {event_id}" for source, event_id in pairs]
        batch.sources, batch.ce_types, batch.times = sources, ce_types, times
        batch.offsets = [record.offset for record in records]
        batch.received_ms = [record.timestamp for record in records]
        batch.payloads = payloads
    return batch


def _decode_each(
    topic: str, partition: int, records: Sequence[Record], validators: ContractValidators
) -> DecodedBatch:
    rows: list[_Row] = []
    poison: list[tuple[Record, Poison]] = []
    validator = validators.validator(topic)
    for record in records:
        try:
            payload = orjson.loads(record.value) if record.value else None
        except orjson.JSONDecodeError as exc:
            poison.append((record, Poison("not_json", str(exc)[:200])))
            continue
        attributes = _plain_attributes(record.headers)
        if attributes is None:  # not plain: decode it the exact way
            decoded = event_from_record(record, validators)
            if isinstance(decoded, Poison):
                poison.append((record, decoded))
            else:
                rows.append((record.offset, decoded.event_id, decoded.ce_type, decoded.time,
                             record.timestamp, decoded.source, decoded.payload,
                             decoded.import_run))  # fmt: skip
        elif not isinstance(payload, dict):
            poison.append((record, Poison("contract", "the payload is not a JSON object")))
        elif validator is not None and not validator.is_valid(payload):
            poison.append((record, Poison("contract", CONTRACT_BROKEN)))
        else:
            event_id, source, ce_type, when = attributes
            # (source, id) is the unique pair: two sources may reuse one id.
            rows.append((record.offset, f"{source} {event_id}", ce_type, when,
                         record.timestamp, source, payload, None))  # fmt: skip
    return DecodedBatch(_columns(topic, partition, rows), poison)


def _columns(topic: str, partition: int, rows: list[_Row]) -> EventBatch:
    batch = EventBatch(topic, partition)
    if rows:
        columns = [list(column) for column in zip(*rows, strict=True)]
        batch.offsets, batch.event_ids, batch.ce_types, batch.times = columns[:4]
        batch.received_ms, batch.sources, batch.payloads = columns[4:7]
        batch.imports = columns[7] if any(columns[7]) else []
    return batch


def rejected_source(record: Record) -> str | None:
    """Return the source of a dead-letter record, or None when it has none."""
    try:
        body = orjson.loads(record.value) if record.value else None
    except orjson.JSONDecodeError:
        return None
    source = body.get("source") if isinstance(body, dict) else None
    return source if isinstance(source, str) and source else None

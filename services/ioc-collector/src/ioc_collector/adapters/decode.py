"""Turning Kafka records into events, or into counted poison: never an exception in the loop.

A record on a data topic must be a CloudEvent in Kafka binary mode whose value is JSON matching
the topic's contract (the registry's latest version, else the contracts folder). Anything else
is poison: counted by reason and skipped, so one bad producer cannot stop the KPIs.
A dead-letter record is read for its `source`, to count the rejections of each source.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import jsonschema_rs
import orjson

from ioc_collector.domain.events import EventView
from lgsp_common.envelope import from_kafka
from lgsp_common.topics import load_contract

log = logging.getLogger(__name__)
PoisonReason = Literal["not_json", "not_cloudevent", "contract"]
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
        validator = jsonschema_rs.validator_for(schema) if schema is not None else None
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
    validator = validators.validator(record.topic)
    if validator is not None and not validator.is_valid(payload):
        return Poison("contract", "the payload does not match the topic's contract")
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
    )


def rejected_source(record: Record) -> str | None:
    """Return the source of a dead-letter record, or None when it has none."""
    try:
        body = orjson.loads(record.value) if record.value else None
    except orjson.JSONDecodeError:
        return None
    source = body.get("source") if isinstance(body, dict) else None
    return source if isinstance(source, str) and source else None

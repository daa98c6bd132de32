"""The collector's view of one consumed event, and reading typed values out of its payload."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

# The province runs on Vietnam time; date-only values mean local calendar days.
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
# RFC 3339 date-time: a 'T' (or space) separator and an explicit offset are required. ASCII
# digits only: fromisoformat refuses others anyway, and the ASCII test is faster.
_DATE_TIME = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})$"
)


@dataclass(frozen=True, slots=True)
class EventView:
    """One consumed event: CloudEvents attributes, Kafka position and the JSON payload."""

    event_id: str
    topic: str
    partition: int
    offset: int
    ce_type: str
    time: datetime
    source: str
    payload: Mapping[str, Any]
    # The import run the source declared (CloudEvents extension `lgspimport`), if any.
    import_run: str | None = None


@dataclass(slots=True)
class EventBatch:
    """Consecutive events of one topic-partition, as columns: the hot path builds no objects.

    `times[i]` is the CloudEvent time, or None when the event has none; then the record's
    timestamp `received_ms[i]` stands in for it (as in `EventView.time`). `imports[i]` is the
    event's import run; an empty column means that no event of the batch has one.
    """

    topic: str
    partition: int
    offsets: list[int] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    ce_types: list[str] = field(default_factory=list)
    times: list[datetime | None] = field(default_factory=list)
    received_ms: list[int] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    payloads: list[Mapping[str, Any]] = field(default_factory=list)
    imports: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.offsets)

    def time(self, index: int) -> datetime:
        """Return an event's time: its CloudEvent time, else when the platform received it."""
        found = self.times[index]
        return found or datetime.fromtimestamp(self.received_ms[index] / 1000, UTC)

    @classmethod
    def of(cls, events: Sequence[EventView]) -> EventBatch:
        """Return the batch of events of one topic-partition (the time stands as given)."""
        batch = cls(events[0].topic, events[0].partition) if events else cls("", 0)
        for event in events:
            if (event.topic, event.partition) != (batch.topic, batch.partition):
                raise ValueError("a batch holds the events of one topic-partition")
            batch.offsets.append(event.offset)
            batch.event_ids.append(event.event_id)
            batch.ce_types.append(event.ce_type)
            batch.times.append(event.time)
            batch.received_ms.append(int(event.time.timestamp() * 1000))
            batch.sources.append(event.source)
            batch.payloads.append(event.payload)
            batch.imports.append(event.import_run)
        if not any(batch.imports):
            batch.imports = []
        return batch

    def event(self, index: int) -> EventView:
        """Return one event of the batch as an EventView."""
        return EventView(
            self.event_ids[index], self.topic, self.partition, self.offsets[index],
            self.ce_types[index], self.time(index), self.sources[index], self.payloads[index],
            self.imports[index] if self.imports else None,
        )  # fmt: skip

    def segments(self) -> list[tuple[int, int, bool]]:
        """Return the batch's runs of consecutive events as (start, end, imported), in order."""
        if not self.imports:
            return [(0, len(self), False)] if len(self) else []
        found: list[tuple[int, int, bool]] = []
        start = 0
        for index in range(1, len(self) + 1):
            if index == len(self) or bool(self.imports[index]) != bool(self.imports[start]):
                found.append((start, index, bool(self.imports[start])))
                start = index
        return found

    def slice(self, start: int, end: int) -> EventBatch:
        """Return the events `start` to `end` (exclusive) as a batch of their own."""
        part = EventBatch(self.topic, self.partition)
        for name in ("offsets", "event_ids", "ce_types", "times", "received_ms", "sources",
                     "payloads", "imports"):  # fmt: skip
            column = getattr(self, name)
            setattr(part, name, column[start:end] if column else [])
        if not any(part.imports):
            part.imports = []
        return part


class _Missing:
    """Marks a field that the payload does not have (distinct from a JSON null)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


def resolve_field(payload: Mapping[str, Any], field: str) -> Any:
    """Return a payload field by name or RFC 6901 JSON Pointer, or MISSING."""
    if not field.startswith("/"):
        return payload.get(field, MISSING)
    current: Any = payload
    for raw in field[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(current, Mapping):
            if token not in current:
                return MISSING
            current = current[token]
        elif isinstance(current, list) and token.isdigit() and int(token) < len(current):
            current = current[int(token)]
        else:
            return MISSING
    return current


def as_decimal(value: Any) -> Decimal | None:
    """Return a JSON number as an exact Decimal, or None when it is not a finite number."""
    if isinstance(value, bool):
        return None  # JSON true/false are not numbers, even though Python says bool is an int
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float) and math.isfinite(value):
        return Decimal(repr(value))
    return None


def parse_text_time(value: str) -> datetime | None:
    """Parse a text time as `parse_time` does."""
    try:
        # The shapes differ in length (a date has at most 11 characters with `$`'s newline,
        # a date-time at least 20): test the common one first.
        if len(value) > 11:
            if _DATE_TIME.match(value):
                return datetime.fromisoformat(value).astimezone(LOCAL_TZ)
            return None
        if match := _DATE.match(value):
            year, month, day = (int(g) for g in match.groups())
            return datetime(year, month, day, tzinfo=LOCAL_TZ)
        if match := _MONTH.match(value):
            year, month = (int(g) for g in match.groups())
            return datetime(year, month, 1, tzinfo=LOCAL_TZ)
    except (ValueError, OverflowError):
        pass  # well-formed but impossible (2024-02-30) or beyond datetime's range
    return None


# Several KPIs read the same time field of one event; datetimes are immutable, so share them.
_cached_text_time = lru_cache(maxsize=4096)(parse_text_time)


def parse_time(value: Any) -> datetime | None:
    """Parse an RFC 3339 date-time, a date or a YYYY-MM month into an aware local datetime."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return None
        try:
            return value.astimezone(LOCAL_TZ)
        except OverflowError:  # the first or last hours of datetime's range
            return None
    if not isinstance(value, str):
        return None
    return _cached_text_time(value)

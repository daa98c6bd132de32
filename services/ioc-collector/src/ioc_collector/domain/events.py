"""The collector's view of one consumed event, and reading typed values out of its payload."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

# The province runs on Vietnam time; date-only values mean local calendar days.
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
# RFC 3339 date-time: a 'T' (or space) separator and an explicit offset are required.
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


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


# Several KPIs read the same time field of one event; datetimes are immutable, so share them.
@lru_cache(maxsize=1024)
def _parse_text_time(value: str) -> datetime | None:
    if match := _DATE.match(value):
        year, month, day = (int(g) for g in match.groups())
        return datetime(year, month, day, tzinfo=LOCAL_TZ)
    if match := _MONTH.match(value):
        year, month = (int(g) for g in match.groups())
        return datetime(year, month, 1, tzinfo=LOCAL_TZ)
    if _DATE_TIME.match(value):
        return datetime.fromisoformat(value).astimezone(LOCAL_TZ)
    return None


def parse_time(value: Any) -> datetime | None:
    """Parse an RFC 3339 date-time, a date or a YYYY-MM month into an aware local datetime."""
    if isinstance(value, datetime):
        return value.astimezone(LOCAL_TZ) if value.tzinfo is not None else None
    if not isinstance(value, str):
        return None
    try:
        return _parse_text_time(value)
    except ValueError:
        return None  # well-formed but impossible, e.g. 2024-02-30

"""Tumbling event-time windows in Vietnam time, watermarks and when a window closes.

A window `[start, end)` closes when either clock says its results are final:
- event time: the KPI's watermark reaches `end + allowed_lateness`. Each watermark key (a
  topic-partition, or a source) tracks the largest event time it has shown; the KPI's watermark
  is the smallest of those, so one fast partition cannot declare another's events late. It
  never moves backwards, even when a new key appears with older events.
- processing time: the wall clock passes `end + allowed_lateness + idle_timeout`, so windows
  close even when a source goes quiet and the event-time watermark stops moving.
An event whose window has closed is late: counted, never applied, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Literal

from ioc_collector.domain.definitions import KpiDefinition, WindowSize
from ioc_collector.domain.events import LOCAL_TZ, EventView

WatermarkScope = Literal["partition", "source"]


@dataclass(frozen=True, order=True, slots=True)
class Window:
    """A tumbling window `[start, end)` as aware Asia/Ho_Chi_Minh datetimes."""

    start: datetime
    end: datetime

    @property
    def key(self) -> str:
        """Return the window's stable identifier (its start in RFC 3339, local offset)."""
        return self.start.isoformat()


def _local(year: int, month: int, day: int = 1, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=LOCAL_TZ)


def window_for(moment: datetime, size: WindowSize) -> Window:
    """Return the tumbling window of `size` that contains an aware datetime, in local time."""
    if moment.tzinfo is None:
        raise ValueError("window_for needs an aware datetime")
    local = moment.astimezone(LOCAL_TZ)
    if size == "hour":
        start = _local(local.year, local.month, local.day, local.hour)
        # Add in UTC so the hour stays an elapsed hour even across an offset change.
        end = (start.astimezone(UTC) + timedelta(hours=1)).astimezone(LOCAL_TZ)
        return Window(start, end)
    if size == "day":
        start = _local(local.year, local.month, local.day)
        following = start.date() + timedelta(days=1)
        return Window(start, _local(following.year, following.month, following.day))
    start = _local(local.year, local.month)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return Window(start, _local(year, month))


# Keys are parsed for every open window on every event: the cache keeps that off the hot path.
@lru_cache(maxsize=4096)
def window_from_key(key: str, size: WindowSize) -> Window:
    """Return the window whose `key` (start timestamp) is given."""
    return window_for(datetime.fromisoformat(key), size)


def windows_between(start: datetime, end: datetime, size: WindowSize) -> Iterator[Window]:
    """Yield, in order, the windows from the one containing `start` up to `end` (exclusive)."""
    window = window_for(start, size)
    while window.start < end:
        yield window
        window = window_for(window.end, size)


def watermark_key(event: EventView, scope: WatermarkScope) -> str:
    """Return the key whose progress an event advances: its partition or its source."""
    return f"partition:{event.partition}" if scope == "partition" else f"source:{event.source}"


def advance_watermark(
    marks: dict[str, datetime], previous: datetime | None, key: str, event_time: datetime
) -> datetime:
    """Record an event time for `key` and return the KPI's new (monotonic) watermark."""
    known = marks.get(key)
    if known is None or event_time > known:
        marks[key] = event_time
    lowest = min(marks.values())
    return lowest if previous is None or lowest > previous else previous


def closes_at(window: Window, kpi: KpiDefinition) -> datetime:
    """Return the event-time watermark at which a window's results become final."""
    return window.end + kpi.allowed_lateness


def idle_closes_at(window: Window, kpi: KpiDefinition) -> datetime:
    """Return the wall-clock time at which a window closes even if no events move time on."""
    return window.end + kpi.allowed_lateness + kpi.idle_timeout


def is_closed(
    window: Window, kpi: KpiDefinition, watermark: datetime | None, clock: datetime | None
) -> bool:
    """Tell whether a window is closed by the watermark or by processing time."""
    if watermark is not None and watermark >= closes_at(window, kpi):
        return True
    return clock is not None and clock >= idle_closes_at(window, kpi)


def closable(
    open_keys: Mapping[str, object],
    kpi: KpiDefinition,
    watermark: datetime | None,
    clock: datetime | None,
) -> list[Window]:
    """Return, oldest first, the open windows that the watermark or clock now close."""
    windows = (window_from_key(key, kpi.window) for key in open_keys)
    return sorted(w for w in windows if is_closed(w, kpi, watermark, clock))

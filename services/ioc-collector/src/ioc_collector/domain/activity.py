"""Source activity per topic-partition, and the freshness status of a source (pure).

Each topic-partition keeps, next to its KPI state, what its records say about the sources that
sent them: how many events, when the platform last received one (the Kafka record timestamp,
set when the gateway produced it), the event time of that latest event, and events per minute
in a short history of minute buckets. Rejections come from the dead-letter topic the same way.
The activity is committed with the partition's offsets, so replays never count twice; the view
of a source adds up its partitions.

Status follows the Grafana/Burrow habit of two thresholds per cadence: a source is LATE once
nothing arrived for `late`, SILENT once nothing arrived for `silent`. A registered source that
never sent anything is measured from its registration time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["OK", "LATE", "SILENT"]
# Beside the freshness: a registered source whose topic the collector does not consume (yet),
# and a source no longer expected (suspended, or deleted from the registry).
HealthState = Literal["OK", "LATE", "SILENT", "NOT_CONSUMED", "NOT_EXPECTED"]
Cadence = Literal["realtime", "daily", "monthly"]
POISON_REASONS = ("not_json", "not_cloudevent", "contract")
# Minute buckets kept per source: enough for events/minute over the last few minutes.
KEEP_MINUTES = 60


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceActivity(_Model):
    """What one partition has seen of one source."""

    events: int = 0
    rejected: int = 0
    last_received_ms: int | None = None
    last_event_time: str | None = None
    minutes: dict[int, int] = Field(default_factory=dict)

    def merge(self, other: SourceActivity) -> None:
        """Add another partition's activity of the same source into this one."""
        self.events += other.events
        self.rejected += other.rejected
        if other.last_received_ms is not None and (
            self.last_received_ms is None or other.last_received_ms > self.last_received_ms
        ):
            self.last_received_ms = other.last_received_ms
            self.last_event_time = other.last_event_time
        for minute, count in other.minutes.items():
            self.minutes[minute] = self.minutes.get(minute, 0) + count


class PartitionActivity(_Model):
    """Activity of one topic-partition: per source (by `ce_source`), poison records by reason."""

    sources: dict[str, SourceActivity] = Field(default_factory=dict)
    poison: dict[str, int] = Field(default_factory=dict)
    last_record_ms: int | None = None


def _minute(timestamp_ms: int) -> int:
    return timestamp_ms // 60_000


def record_event(
    activity: PartitionActivity, source: str, received_ms: int, event_time: str | None
) -> None:
    """Count one event of `source` received at `received_ms` (Kafka timestamp)."""
    seen = activity.sources.setdefault(source, SourceActivity())
    seen.events += 1
    if seen.last_received_ms is None or received_ms >= seen.last_received_ms:
        seen.last_received_ms = received_ms
        seen.last_event_time = event_time
    minute = _minute(received_ms)
    seen.minutes[minute] = seen.minutes.get(minute, 0) + 1
    oldest = max(seen.minutes) - KEEP_MINUTES
    for stale in [m for m in seen.minutes if m < oldest]:
        del seen.minutes[stale]
    note_record(activity, received_ms)


def record_events(
    activity: PartitionActivity,
    sources: Sequence[str],
    received_ms: Sequence[int],
    event_time: Callable[[int], str | None],
) -> None:
    """Count events in order, as `record_event` for each would (`event_time(i)` is asked once
    per source, for the event it keeps as the latest)."""
    if not sources:
        return
    latest = _latest(sources, received_ms)
    stamps = [ms // 60_000 for ms in received_ms]
    if len(latest) == 1:  # the usual batch: one source
        (only,) = latest
        minutes = Counter({(only, minute): n for minute, n in Counter(stamps).items()})
    else:
        minutes = Counter(zip(sources, stamps, strict=True))
    for source, index in latest.items():
        seen = activity.sources.setdefault(source, SourceActivity())
        if seen.last_received_ms is None or received_ms[index] >= seen.last_received_ms:
            seen.last_received_ms = received_ms[index]
            seen.last_event_time = event_time(index)
    for (source, minute), count in minutes.items():
        seen = activity.sources[source]
        seen.events += count
        seen.minutes[minute] = seen.minutes.get(minute, 0) + count
    for source in latest:
        # Evicting once at the end keeps what evicting after each event keeps: the newest
        # minute only grows, so a minute evicted on the way is evicted at the end too.
        seen = activity.sources[source]
        oldest = max(seen.minutes) - KEEP_MINUTES
        for stale in [m for m in seen.minutes if m < oldest]:
            del seen.minutes[stale]
    note_record(activity, max(received_ms))


def _latest(sources: Sequence[str], received_ms: Sequence[int]) -> dict[str, int]:
    """Return, per source, the index of its latest event: the largest timestamp, the later
    event on a tie."""
    if len(distinct := set(sources)) == 1:  # the usual batch: one source
        top = max(received_ms)
        return {distinct.pop(): len(received_ms) - 1 - list(reversed(received_ms)).index(top)}
    latest: dict[str, int] = {}
    for index, (source, ms) in enumerate(zip(sources, received_ms, strict=True)):
        best = latest.get(source)
        if best is None or ms >= received_ms[best]:
            latest[source] = index
    return latest


def record_rejection(activity: PartitionActivity, source: str, received_ms: int) -> None:
    """Count one dead-letter record of `source`."""
    activity.sources.setdefault(source, SourceActivity()).rejected += 1
    note_record(activity, received_ms)


def record_poison(activity: PartitionActivity, reason: str, received_ms: int) -> None:
    """Count one record that could not be used (not JSON, not a CloudEvent, not the contract)."""
    activity.poison[reason] = activity.poison.get(reason, 0) + 1
    note_record(activity, received_ms)


def note_record(activity: PartitionActivity, received_ms: int) -> None:
    """Remember the newest record timestamp consumed from the partition."""
    if activity.last_record_ms is None or received_ms > activity.last_record_ms:
        activity.last_record_ms = received_ms


def merge_sources(parts: Iterable[Mapping[str, SourceActivity]]) -> dict[str, SourceActivity]:
    """Add up per-source activity over several partitions (new objects, inputs untouched)."""
    result: dict[str, SourceActivity] = {}
    for sources in parts:
        for name, seen in sources.items():
            result.setdefault(name, SourceActivity()).merge(seen)
    return result


def events_per_minute(seen: SourceActivity, now: datetime, span_minutes: int = 5) -> float:
    """Return the mean events per minute over the last `span_minutes` full minutes and this one."""
    current = _minute(int(now.timestamp() * 1000))
    recent = sum(c for m, c in seen.minutes.items() if current - span_minutes < m <= current)
    return round(recent / span_minutes, 3)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """How long without events before a source is LATE, then SILENT."""

    late: timedelta
    silent: timedelta


def received_at(seen: SourceActivity | None) -> datetime | None:
    """Return when the platform last received an event of a source, if ever."""
    if seen is None or seen.last_received_ms is None:
        return None
    return datetime.fromtimestamp(seen.last_received_ms / 1000, UTC)


def health_state(
    *, expected: bool, consumed: bool, last_seen: datetime | None,
    registered_at: datetime | None, now: datetime, limits: Thresholds,
) -> HealthState:  # fmt: skip
    """Return NOT_EXPECTED, NOT_CONSUMED, or the freshness status of a source."""
    if not expected:
        return "NOT_EXPECTED"
    if not consumed:
        return "NOT_CONSUMED"
    return source_status(last_seen, registered_at, now, limits)


def source_status(
    last_seen: datetime | None, registered_at: datetime | None, now: datetime, limits: Thresholds
) -> Status:
    """Return OK, LATE or SILENT from the time since the last event (or since registration)."""
    since = last_seen or registered_at
    if since is None:
        return "SILENT"
    quiet = now - since
    if quiet >= limits.silent:
        return "SILENT"
    if quiet >= limits.late:
        return "LATE"
    return "OK"

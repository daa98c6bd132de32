"""Source activity per partition and the OK / LATE / SILENT rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ioc_collector.domain.activity import (
    KEEP_MINUTES,
    PartitionActivity,
    Thresholds,
    events_per_minute,
    merge_sources,
    received_at,
    record_event,
    record_events,
    record_poison,
    record_rejection,
    source_status,
)

NOW = datetime(2024, 10, 1, 3, 0, tzinfo=UTC)
LIMITS = Thresholds(late=timedelta(minutes=5), silent=timedelta(minutes=15))


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def test_events_rejections_and_poison_are_counted_per_source() -> None:
    activity = PartitionActivity()
    record_event(
        activity, "/sources/a", ms(NOW - timedelta(minutes=1)), "2024-10-01T09:59:00+07:00"
    )
    record_event(activity, "/sources/a", ms(NOW), "2024-10-01T10:00:00+07:00")
    record_rejection(activity, "/sources/a", ms(NOW))
    record_poison(activity, "not_json", ms(NOW))
    seen = activity.sources["/sources/a"]
    assert (seen.events, seen.rejected) == (2, 1)
    assert received_at(seen) == NOW
    assert seen.last_event_time == "2024-10-01T10:00:00+07:00"
    assert activity.poison == {"not_json": 1}
    assert activity.last_record_ms == ms(NOW)


def test_an_older_record_does_not_move_the_last_event_back() -> None:
    activity = PartitionActivity()
    record_event(activity, "s", ms(NOW), "new")
    record_event(activity, "s", ms(NOW - timedelta(hours=1)), "old")
    assert received_at(activity.sources["s"]) == NOW
    assert activity.sources["s"].last_event_time == "new"


def test_minute_buckets_are_bounded_and_give_events_per_minute() -> None:
    activity = PartitionActivity()
    for minute in range(0, 3 * KEEP_MINUTES):
        record_event(activity, "s", ms(NOW - timedelta(minutes=minute)), None)
    seen = activity.sources["s"]
    assert len(seen.minutes) <= KEEP_MINUTES + 1
    # one event in each of the 5 last minutes (the current one included)
    assert events_per_minute(seen, NOW + timedelta(seconds=30)) == 1.0
    assert events_per_minute(seen, NOW + timedelta(hours=2)) == 0.0


def test_merging_partitions_adds_counts_and_keeps_the_latest_time() -> None:
    left, right = PartitionActivity(), PartitionActivity()
    record_event(left, "s", ms(NOW - timedelta(minutes=2)), "left")
    record_event(right, "s", ms(NOW), "right")
    record_rejection(right, "s", ms(NOW))
    merged = merge_sources([left.sources, right.sources])
    assert (merged["s"].events, merged["s"].rejected) == (2, 1)
    assert merged["s"].last_event_time == "right"
    assert left.sources["s"].events == 1  # inputs untouched


def test_activity_round_trips_through_json() -> None:
    activity = PartitionActivity()
    record_event(activity, "s", ms(NOW), "t")
    again = PartitionActivity.model_validate_json(activity.model_dump_json())
    assert again == activity


@pytest.mark.parametrize(
    ("quiet", "expected"),
    [
        (timedelta(minutes=4, seconds=59), "OK"),
        (timedelta(minutes=5), "LATE"),
        (timedelta(minutes=14), "LATE"),
        (timedelta(minutes=15), "SILENT"),
    ],
)
def test_status_follows_the_thresholds(quiet: timedelta, expected: str) -> None:
    assert source_status(NOW - quiet, None, NOW, LIMITS) == expected


def test_a_source_never_heard_from_is_measured_from_its_registration() -> None:
    assert source_status(None, NOW - timedelta(minutes=1), NOW, LIMITS) == "OK"
    assert source_status(None, NOW - timedelta(minutes=20), NOW, LIMITS) == "SILENT"
    assert source_status(None, None, NOW, LIMITS) == "SILENT"


arrivals = st.lists(
    st.tuples(
        st.sampled_from(["/sources/a", "/sources/b", "/sources/c"]),
        st.integers(0, 150 * 60_000),  # out of order, ties, and spans wider than KEEP_MINUTES
        st.sampled_from(["2024-10-01T09:59:00+07:00", "2024-10-01T10:00:00+07:00", None]),
    ),
    max_size=40,
)


@given(before=arrivals, batch=arrivals)
def test_a_batch_of_events_is_counted_as_one_by_one(
    before: list[tuple[str, int, str | None]], batch: list[tuple[str, int, str | None]]
) -> None:
    one_by_one, at_once = PartitionActivity(), PartitionActivity()
    for activity in (one_by_one, at_once):
        for source, received, event_time in before:
            record_event(activity, source, received, event_time)
    for source, received, event_time in batch:
        record_event(one_by_one, source, received, event_time)
    asked: list[int] = []

    def event_time(index: int) -> str | None:
        asked.append(index)
        return batch[index][2]

    record_events(at_once, [a for a, _, _ in batch], [r for _, r, _ in batch], event_time)
    assert at_once.model_dump() == one_by_one.model_dump()
    assert len(asked) <= len({source for source, _, _ in batch})

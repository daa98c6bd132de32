"""Tumbling windows in Asia/Ho_Chi_Minh, time parsing and watermarks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ioc_collector.domain.definitions import parse_definition
from ioc_collector.domain.events import LOCAL_TZ, parse_time
from ioc_collector.domain.windows import (
    Window,
    advance_watermark,
    closable,
    is_closed,
    window_for,
    window_from_key,
    windows_between,
)

PLUS7 = timezone(timedelta(hours=7))


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=LOCAL_TZ)


def test_local_evening_on_month_end_stays_in_that_month() -> None:
    window = window_for(datetime(2024, 1, 31, 23, 30, tzinfo=PLUS7), "month")
    assert window == Window(local(2024, 1, 1), local(2024, 2, 1))


def test_utc_afternoon_on_month_end_is_next_month_locally() -> None:
    # 17:30Z on 31 January is 00:30 on 1 February in Vietnam.
    window = window_for(datetime(2024, 1, 31, 17, 30, tzinfo=UTC), "month")
    assert window == Window(local(2024, 2, 1), local(2024, 3, 1))
    assert window.start.utcoffset() == timedelta(hours=7)


def test_day_windows_turn_at_local_midnight() -> None:
    before = window_for(datetime(2024, 3, 10, 16, 59, 59, tzinfo=UTC), "day")
    after = window_for(datetime(2024, 3, 10, 17, 0, tzinfo=UTC), "day")
    assert before == Window(local(2024, 3, 10), local(2024, 3, 11))
    assert after == Window(local(2024, 3, 11), local(2024, 3, 12))
    assert after.start == datetime(2024, 3, 10, 17, tzinfo=UTC)


def test_month_windows_follow_the_calendar() -> None:
    assert window_for(local(2024, 2, 29, 12), "month").end == local(2024, 3, 1)
    assert window_for(local(2023, 2, 28, 12), "month").end == local(2023, 3, 1)
    assert window_for(local(2024, 12, 31, 23, 59), "month") == Window(
        local(2024, 12, 1), local(2025, 1, 1)
    )
    assert window_for(local(2024, 12, 31, 23, 59), "day").end == local(2025, 1, 1)


def test_hour_windows_contain_their_start_but_not_their_end() -> None:
    window = window_for(local(2024, 5, 1, 9, 0), "hour")
    assert window == Window(local(2024, 5, 1, 9), local(2024, 5, 1, 10))
    assert window_for(local(2024, 5, 1, 9, 59, 59), "hour") == window
    assert window_for(window.end, "hour").start == window.end


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        window_for(datetime(2024, 1, 1), "day")


def test_window_key_round_trips() -> None:
    window = window_for(local(2024, 7, 15, 8, 20), "day")
    assert window.key == "2024-07-15T00:00:00+07:00"
    assert window_from_key(window.key, "day") == window


def test_windows_between_covers_the_range_in_order() -> None:
    windows = list(windows_between(local(2024, 1, 15), local(2024, 4, 1), "month"))
    assert [w.start.month for w in windows] == [1, 2, 3]
    assert list(windows_between(local(2024, 1, 1), local(2024, 1, 1), "day")) == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-01-31T23:30:00+07:00", local(2024, 1, 31, 23, 30)),
        ("2024-01-31T17:30:00Z", local(2024, 2, 1, 0, 30)),
        ("2024-01-31T17:30:00.250+00:00", local(2024, 2, 1, 0, 30, 0, 250000)),
        ("2024-06-30", local(2024, 6, 30)),
        ("2024-06", local(2024, 6, 1)),
    ],
)
def test_times_parse_to_local_aware_datetimes(raw: str, expected: datetime) -> None:
    parsed = parse_time(raw)
    assert parsed == expected
    assert parsed is not None
    assert parsed.tzinfo is LOCAL_TZ


@pytest.mark.parametrize(
    "raw",
    ["2024-01-31T23:30:00", "2024-02-30", "2024-13", "yesterday", 1706720000, None, True],
)
def test_times_without_offset_or_impossible_are_unparseable(raw: object) -> None:
    assert parse_time(raw) is None


def test_watermark_is_the_slowest_key_and_never_goes_back() -> None:
    marks: dict[str, datetime] = {}
    mark = advance_watermark(marks, None, "partition:0", local(2024, 1, 1, 12))
    assert mark == local(2024, 1, 1, 12)
    mark = advance_watermark(marks, mark, "partition:1", local(2024, 1, 1, 14))
    assert mark == local(2024, 1, 1, 12)  # partition 0 has not got past noon yet
    mark = advance_watermark(marks, mark, "partition:0", local(2024, 1, 1, 15))
    assert mark == local(2024, 1, 1, 14)
    mark = advance_watermark(marks, mark, "partition:2", local(2024, 1, 1, 8))
    assert mark == local(2024, 1, 1, 14)  # a new, older key does not reopen windows
    mark = advance_watermark(marks, mark, "partition:0", local(2024, 1, 1, 9))
    assert marks["partition:0"] == local(2024, 1, 1, 15)


KPI = parse_definition(
    "k.yaml",
    """
id: k
title_vi: K
title_en: K
topic: t
measure: {kind: count}
window: hour
allowed_lateness: PT30M
idle_timeout: PT10M
unit: events
""",
)


def test_window_closes_at_end_plus_lateness_by_watermark() -> None:
    window = window_for(local(2024, 1, 1, 10, 15), "hour")
    assert not is_closed(window, KPI, local(2024, 1, 1, 11, 29, 59), None)
    assert is_closed(window, KPI, local(2024, 1, 1, 11, 30), None)


def test_window_closes_by_wall_clock_after_lateness_and_idle_timeout() -> None:
    window = window_for(local(2024, 1, 1, 10, 15), "hour")
    assert not is_closed(window, KPI, None, local(2024, 1, 1, 11, 39, 59))
    assert is_closed(window, KPI, None, local(2024, 1, 1, 11, 40))


def test_closable_lists_only_final_windows_oldest_first() -> None:
    keys = {window_for(local(2024, 1, 1, h), "hour").key: None for h in (12, 10, 11)}
    closing = closable(keys, KPI, local(2024, 1, 1, 12, 45), None)
    assert [w.start.hour for w in closing] == [10, 11]

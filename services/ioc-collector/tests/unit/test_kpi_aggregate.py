"""Aggregation: measures, dimensions, dedup, lateness, idle close, queries and serialisation."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from ioc_collector.domain.aggregate import (
    Aggregator,
    EventSkipped,
    EventView,
    ValueChanged,
    WindowClosed,
)
from ioc_collector.domain.definitions import KpiDefinition, parse_definition
from ioc_collector.domain.events import LOCAL_TZ
from ioc_collector.domain.queries import (
    KpiCounters,
    counters,
    current_value,
    series,
    target_status,
)
from ioc_collector.domain.state import AggregationState, dump_state, load_state
from ioc_collector.domain.windows import window_for

HEALTH = "health.medical-visit.v1"
COMMON = "window: hour\nallowed_lateness: PT30M\nidle_timeout: PT10M\ntime_field: visit_time\n"


def kpi(body: str) -> KpiDefinition:
    return parse_definition("test.yaml", body)


VISITS = kpi(f"""
id: visits
title_vi: Lượt khám
title_en: Visits
topic: {HEALTH}
measure: {{kind: count}}
dimensions: [district_code]
unit: visits
{COMMON}""")
CHIP_SHARE = kpi(f"""
id: chip-share
title_vi: Tỷ lệ CCCD
title_en: Chip share
topic: {HEALTH}
measure:
  kind: ratio
  numerator:
    kind: count
    filter: {{where: [{{field: identification, op: eq, value: cccd_chip}}]}}
  denominator: {{kind: count}}
dimensions: [district_code]
target: {{value: 50, direction: gte}}
unit: '%'
{COMMON}""")
CASHLESS = kpi(f"""
id: cashless
title_vi: Không tiền mặt
title_en: Cashless
topic: {HEALTH}
measure:
  kind: ratio
  numerator: {{kind: count, filter: {{where: [{{field: payment, op: eq, value: cashless}}]}}}}
  denominator:
    kind: count
    filter: {{where: [{{field: payment, op: in, value: [cash, cashless]}}]}}
unit: '%'
{COMMON}""")
FACILITIES = kpi(f"""
id: facilities
title_vi: Cơ sở
title_en: Facilities
topic: {HEALTH}
measure: {{kind: distinct_count, field: facility_code}}
dimensions: [district_code]
unit: facilities
{COMMON}""")
FEES = kpi(f"""
id: fees
title_vi: Phí
title_en: Fees
topic: {HEALTH}
measure: {{kind: sum, field: /fee/amount_vnd}}
unit: VND
{COMMON}""")
MEAN_FEE = kpi(f"""
id: mean-fee
title_vi: Phí trung bình
title_en: Mean fee
topic: {HEALTH}
measure: {{kind: average, field: /fee/amount_vnd}}
target: {{value: 100000, direction: lte}}
unit: VND
{COMMON}""")
REPORTING = kpi("""
id: reporting
title_vi: Báo cáo
title_en: Reporting
topic: tourism.accommodation-report.v1
measure:
  kind: ratio
  numerator: {kind: distinct_count, field: establishment_id}
  denominator: {kind: reference}
reference: {value: 476, source: seeds}
time_field: period
window: month
allowed_lateness: P20D
unit: '%'
""")
CATALOGUE = [VISITS, CHIP_SHARE, CASHLESS, FACILITIES, FEES, MEAN_FEE, REPORTING]
T0 = datetime(2024, 1, 31, 10, 0, tzinfo=LOCAL_TZ)


def visit(
    event_id: str, minutes: float = 0, partition: int = 0, source: str = "so-y-te", **fields: Any
) -> EventView:
    at = T0 + timedelta(minutes=minutes)
    payload: dict[str, Any] = {
        "visit_id": event_id,
        "facility_code": "77001",
        "district_code": "747",
        "visit_time": at.isoformat(),
        "identification": "insurance_card",
        "payment": "cash",
        "fee": {"amount_vnd": 100_000},
    }
    payload.update(fields)
    return EventView(event_id, HEALTH, partition, 0, "visit", at, source, payload)


def run(events: list[EventView], state: AggregationState | None = None) -> AggregationState:
    state = state or AggregationState()
    aggregator = Aggregator(CATALOGUE)
    for event in events:
        aggregator.apply(event, state)
    return state


def value(state: AggregationState, definition: KpiDefinition, **dims: Any) -> float | None:
    window = window_for(T0, definition.window)
    return current_value(state, definition, window, dims).value


def test_ratio_is_numerator_over_denominator_in_percent() -> None:
    state = AggregationState()
    changes = Aggregator([CHIP_SHARE]).apply(visit("a", identification="cccd_chip"), state)
    assert changes == [
        ValueChanged("chip-share", window_for(T0, "hour"), {"district_code": "747"}, 100.0)
    ]
    run([visit("b"), visit("c"), visit("d")], state)
    assert value(state, CHIP_SHARE) == 25.0


def test_ratio_terms_have_their_own_filters_and_empty_denominator_is_no_data() -> None:
    state = run([visit("a", payment="insurance_only")])
    assert value(state, CASHLESS) is None
    run(
        [visit("b", payment="cashless"), visit("c", payment="cash"), visit("d", payment="cash")],
        state,
    )
    assert value(state, CASHLESS) == pytest.approx(100 / 3)


def test_distinct_count_is_exact_and_rolls_up_as_a_union() -> None:
    state = run(
        [
            visit("a", facility_code="77001"),
            visit("b", facility_code="77002"),
            visit("c", facility_code="77001"),
            visit("d", facility_code="77001", district_code="748"),
        ]
    )
    assert value(state, FACILITIES, district_code="747") == 2
    assert value(state, FACILITIES, district_code="748") == 1
    assert value(state, FACILITIES) == 2  # 77001 counted once across districts


def test_sum_and_average_of_a_nested_field() -> None:
    state = run([visit("a", fee={"amount_vnd": 50_000}), visit("b", fee={"amount_vnd": 250_000})])
    assert value(state, FEES) == 300_000
    assert value(state, MEAN_FEE) == 150_000


def test_dimension_filter_selects_cells_and_unknown_dimension_is_an_error() -> None:
    state = run([visit("a"), visit("b", district_code="748"), visit("c", district_code="748")])
    assert value(state, VISITS) == 3
    assert value(state, VISITS, district_code="748") == 2
    assert value(state, VISITS, district_code="755") is None
    with pytest.raises(ValueError, match="no dimension"):
        value(state, VISITS, category="x")


def test_same_event_id_twice_is_counted_once() -> None:
    state = AggregationState()
    aggregator = Aggregator([VISITS])
    aggregator.apply(visit("a"), state)
    changes = aggregator.apply(visit("a"), state)
    assert changes == [EventSkipped("visits", "a", "duplicate", window_for(T0, "hour"))]
    assert value(state, VISITS) == 1
    assert counters(state, VISITS).duplicate_events == 1


def test_event_within_allowed_lateness_is_applied() -> None:
    # Window 10:00-11:00 closes when the watermark reaches 11:30.
    state = run([visit("a", 5), visit("b", 85), visit("c", 50)])
    assert value(state, VISITS) == 2
    assert counters(state, VISITS).late_events == 0


def test_event_beyond_allowed_lateness_is_counted_late_not_applied() -> None:
    state = run([visit("a", 5)])
    aggregator = Aggregator([VISITS])
    closing = aggregator.apply(visit("b", 90), state)
    assert WindowClosed("visits", window_for(T0, "hour"), 1.0) in closing
    late = aggregator.apply(visit("c", 50), state)
    assert late == [EventSkipped("visits", "c", "late", window_for(T0, "hour"))]
    assert value(state, VISITS) == 1
    assert counters(state, VISITS).late_events == 1
    assert current_value(state, VISITS, window_for(T0, "hour")).closed


def test_redelivery_after_close_is_late_not_double_counted() -> None:
    state = run([visit("a", 5), visit("b", 90), visit("a", 5)])
    assert value(state, VISITS) == 1
    assert counters(state, VISITS).late_events == 1


def test_a_slow_partition_holds_the_watermark_back() -> None:
    state = run(
        [visit("a", 5, partition=1), visit("b", 95, partition=0), visit("c", 50, partition=0)]
    )
    assert value(state, VISITS) == 2  # partition 1 is still at 10:05, so 10:00-11:00 is open
    run([visit("d", 95, partition=1), visit("e", 55, partition=1)], state)
    assert value(state, VISITS) == 2
    assert counters(state, VISITS).late_events == 1


def test_watermark_per_source_when_configured() -> None:
    state = AggregationState(watermark_scope="source")
    run(
        [
            visit("a", 5, source="bv-a"),
            visit("b", 95, source="bv-b"),
            visit("c", 50, source="bv-b"),
        ],
        state,
    )
    assert value(state, VISITS) == 2
    assert set(state.kpis["visits"].watermarks) == {"source:bv-a", "source:bv-b"}


def test_windows_close_by_wall_clock_when_a_source_goes_quiet() -> None:
    state = run([visit("a", 5)])
    aggregator = Aggregator(CATALOGUE)
    window = window_for(T0, "hour")
    assert aggregator.tick(state, window.end + timedelta(minutes=39, seconds=59)) == []
    assert not current_value(state, VISITS, window).closed
    closed = aggregator.tick(state, window.end + timedelta(minutes=40))
    assert WindowClosed("visits", window, 1.0) in closed
    assert current_value(state, VISITS, window).closed
    assert current_value(state, VISITS, window).value == 1
    assert state.kpis["visits"].open_windows == {}
    aggregator.apply(visit("b", 30), state, now=window.end + timedelta(minutes=41))
    assert counters(state, VISITS).late_events == 1


def test_unparseable_time_and_unusable_values_are_counted_invalid() -> None:
    state = run([visit("a", visit_time="yesterday"), visit("b", fee={"amount_vnd": "lots"})])
    assert counters(state, VISITS).invalid_events == 1
    assert counters(state, FEES).invalid_events == 2
    assert value(state, VISITS) == 1


def test_event_far_ahead_of_the_clock_is_refused_not_allowed_to_close_windows() -> None:
    state = AggregationState()
    aggregator = Aggregator([VISITS])
    now = T0 + timedelta(minutes=10)
    aggregator.apply(visit("a", 5), state, now=now)
    skipped = aggregator.apply(visit("bad-clock", 60 * 24 * 365), state, now=now)
    assert skipped == [EventSkipped("visits", "bad-clock", "future_time")]
    aggregator.apply(visit("b", 20), state, now=now)
    assert value(state, VISITS) == 2
    assert counters(state, VISITS) == KpiCounters(
        late_events=0, duplicate_events=0, invalid_events=1
    )


def test_state_of_a_kpi_whose_definition_changed_shape_is_reset() -> None:
    state = run([visit("a"), visit("b", identification="cccd_chip")])
    retitled = CHIP_SHARE.model_copy(update={"title_en": "Renamed", "target": None})
    regrouped = VISITS.model_copy(update={"dimensions": ("district_code", "payment")})
    aggregator = Aggregator([retitled, regrouped, FEES])
    stale = aggregator.reset_stale(state)
    assert stale == ["cashless", "facilities", "mean-fee", "visits"]
    assert set(state.kpis) == {"chip-share", "fees"}
    assert value(state, CHIP_SHARE) == 50.0


def test_reference_denominator_is_a_constant() -> None:
    reports = [
        EventView(
            f"r{i}",
            "tourism.accommodation-report.v1",
            0,
            i,
            "report",
            T0,
            "so-vhttdl",
            {"establishment_id": est, "period": "2024-01"},
        )
        for i, est in enumerate(["LT-0001", "LT-0002", "LT-0003", "LT-0001"])
    ]
    state = run(reports)
    window = window_for(T0, "month")
    assert current_value(state, REPORTING, window).value == pytest.approx(300 / 476)


def test_status_against_target() -> None:
    assert target_status(CHIP_SHARE, 50.0) == "met"
    assert target_status(CHIP_SHARE, 49.9) == "not_met"
    assert target_status(CHIP_SHARE, None) == "no_data"
    assert target_status(MEAN_FEE, 90_000) == "met"
    assert target_status(MEAN_FEE, 100_001) == "not_met"
    assert target_status(VISITS, 5) == "no_target"
    state = run([visit("a", identification="cccd_chip"), visit("b")])
    assert current_value(state, CHIP_SHARE, window_for(T0, "hour")).status == "met"


def test_series_lists_every_window_including_gaps() -> None:
    state = run([visit("a", 0), visit("b", 130), visit("c", 135)])
    points = series(state, VISITS, T0, T0 + timedelta(hours=3))
    assert [p.window.start.hour for p in points] == [10, 11, 12]
    assert [p.value for p in points] == [1, None, 2]
    assert [p.closed for p in points] == [True, False, False]  # 11:00-12:00 final at 12:30


def test_positions_record_the_next_offset_per_partition() -> None:
    state = AggregationState()
    aggregator = Aggregator(CATALOGUE)
    for offset in (0, 1, 2):
        aggregator.apply(
            EventView(f"e{offset}", "other.topic.v1", 2, offset, "x", T0, "s", {}), state
        )
    assert state.positions == {"other.topic.v1/2": 3}


def test_serialised_state_is_canonical_json() -> None:
    state = run([visit("b", facility_code="77002"), visit("a"), visit("c", 95)])
    raw = dump_state(state)
    data = json.loads(raw)
    assert (
        raw == json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    closed = data["kpis"]["facilities"]["closed_windows"]["2024-01-31T10:00:00+07:00"]
    assert closed["cells"]['["747"]']["main"]["distinct"] == ['"77001"', '"77002"']
    assert data["kpis"]["fees"]["open_windows"]["2024-01-31T11:00:00+07:00"]["seen_ids"] == ["c"]
    assert dump_state(load_state(raw)) == raw


def test_apply_n_save_load_apply_m_equals_apply_n_plus_m() -> None:
    events = [
        visit(
            f"e{i}",
            minutes=i * 7,
            partition=i % 3,
            identification=("cccd_chip" if i % 2 else "vneid"),
            facility_code=f"7700{i % 4}",
            fee={"amount_vnd": 1000 * i + 1},
        )
        for i in range(40)
    ]
    events.insert(25, events[3])  # a redelivery
    straight = run(events)
    restored = run(events[25:], load_state(dump_state(run(events[:25]))))
    assert dump_state(restored) == dump_state(straight)


def test_corrupt_state_is_refused() -> None:
    with pytest.raises(ValidationError):
        load_state(b'{"version": 2}')

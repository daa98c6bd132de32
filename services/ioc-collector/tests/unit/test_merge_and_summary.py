"""Partition-scoped states merged for queries; tiles, series dimensions and snapshots."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from ioc_collector.domain.aggregate import Aggregator, EventView
from ioc_collector.domain.definitions import KpiDefinition, parse_definition
from ioc_collector.domain.events import LOCAL_TZ
from ioc_collector.domain.merge import merge_states
from ioc_collector.domain.queries import counters, series
from ioc_collector.domain.state import AggregationState
from ioc_collector.domain.summary import snapshots, summarise, typed_dims
from ioc_collector.domain.windows import window_for

TOPIC = "health.medical-visit.v1"
START = datetime(2024, 1, 31, 20, 0, tzinfo=LOCAL_TZ)


def definition(kpi_id: str, measure: str, unit: str = "visits", extra: str = "") -> KpiDefinition:
    return parse_definition(
        f"{kpi_id}.yaml",
        f"id: {kpi_id}\ntitle_vi: {kpi_id}\ntitle_en: {kpi_id}\ntopic: {TOPIC}\n"
        f"measure: {measure}\ndimensions: [district_code]\nunit: '{unit}'\nwindow: hour\n"
        f"allowed_lateness: P1D\ntime_field: visit_time\n{extra}",
    )


COUNT = definition("visits", "{kind: count}", extra="target: {value: 3, direction: gte}\n")
DISTINCT = definition("facilities", "{kind: distinct_count, field: facility_code}")
RATIO = definition(
    "chip",
    "{kind: ratio, numerator: {kind: count, filter: {where: [{field: identification, op: eq, "
    "value: cccd_chip}]}}, denominator: {kind: count}}",
    unit="%",
)
CATALOGUE = [COUNT, DISTINCT, RATIO]


def visit(n: int, rng: random.Random, partition: int) -> EventView:
    at = START + timedelta(minutes=rng.randint(0, 300))
    payload: dict[str, Any] = {
        "district_code": rng.choice(["747", "748", "750"]),
        "facility_code": rng.choice(["77001", "77002", "77003", "77004"]),
        "identification": rng.choice(["cccd_chip", "insurance_card"]),
        "visit_time": at.isoformat(),
    }
    return EventView(f"v{n}", TOPIC, partition, n, "visit", at, "/sources/s", payload)


def test_merged_partition_states_answer_like_one_state() -> None:
    rng = random.Random(3)
    events = [visit(n, rng, rng.randrange(3)) for n in range(400)]
    events += events[:40]  # redeliveries land on the same partition as the original
    aggregator = Aggregator(CATALOGUE)
    whole = AggregationState()
    parts = {p: AggregationState() for p in range(3)}
    for event in events:
        aggregator.apply(event, whole)
        aggregator.apply(event, parts[event.partition])
    merged = merge_states(parts.values())
    end = START + timedelta(hours=6)
    for kpi in CATALOGUE:
        for dims in ({}, {"district_code": "747"}, {"district_code": "750"}):
            assert series(merged, kpi, START, end, dims) == series(whole, kpi, START, end, dims)
        assert counters(merged, kpi) == counters(whole, kpi)
    assert merged.kpis["visits"].duplicate_events == 40
    assert parts[0].kpis["visits"].open_windows  # inputs keep their own state
    assert not any(w.seen_ids for w in merged.kpis["visits"].open_windows.values())


def test_a_window_stays_open_while_one_partition_holds_it_open() -> None:
    aggregator = Aggregator([COUNT])
    early, late = AggregationState(), AggregationState()
    first = visit(1, random.Random(1), 0)
    aggregator.apply(first, early)
    aggregator.apply(first, late)
    later = START + timedelta(days=3)
    payload = {**first.payload, "visit_time": later.isoformat()}
    aggregator.apply(EventView("v9", TOPIC, 0, 2, "visit", later, "s", payload), late)
    key = window_for(first.time, "hour").key
    assert key in late.kpis["visits"].closed_windows  # this partition's watermark moved on
    merged = merge_states([early, late]).kpis["visits"]
    assert key in merged.open_windows
    cells = merged.open_windows[key].cells
    assert sum(c.main.count for c in cells.values() if c.main) == 2


def test_tile_shows_latest_window_with_data_previous_and_trend() -> None:
    aggregator = Aggregator([COUNT])
    state = AggregationState()
    rng = random.Random(2)
    for n, minutes in enumerate([5, 10, 65, 70, 75]):
        event = visit(n, rng, 0)
        at = START + timedelta(minutes=minutes)
        payload = {**event.payload, "visit_time": at.isoformat(), "district_code": "747"}
        aggregator.apply(EventView(f"e{n}", TOPIC, 0, n, "v", at, "s", payload), state)
    tile = summarise(state, COUNT, now=START + timedelta(days=30))
    assert tile.latest.window.start == START + timedelta(hours=1)
    assert (tile.latest.value, tile.latest.status) == (3, "met")
    assert tile.previous is not None and tile.previous.value == 2
    assert tile.trend == "up"
    assert len(tile.history) == 12 and tile.history[-1] == tile.latest


def test_an_empty_kpi_shows_the_current_window_without_data() -> None:
    now = datetime(2024, 5, 5, 10, 30, tzinfo=LOCAL_TZ)
    tile = summarise(AggregationState(), COUNT, now)
    assert tile.latest.window == window_for(now, "hour")
    assert (tile.latest.value, tile.latest.status, tile.trend) == (None, "no_data", None)


def test_query_strings_become_the_typed_dimension_values() -> None:
    aggregator = Aggregator([COUNT])
    state = AggregationState()
    event = visit(1, random.Random(4), 0)
    aggregator.apply(event, state)
    code = event.payload["district_code"]
    assert typed_dims(state, COUNT, {"district_code": code}) == {"district_code": code}
    assert typed_dims(state, COUNT, {"district_code": "999"}) == {"district_code": "999"}


def test_snapshots_cover_every_cell_and_the_roll_up() -> None:
    aggregator = Aggregator([COUNT])
    state = AggregationState()
    rng = random.Random(5)
    for n in range(20):
        event = visit(n, rng, 0)
        at = START + timedelta(minutes=10)
        payload = {**event.payload, "visit_time": at.isoformat()}
        aggregator.apply(EventView(f"e{n}", TOPIC, 0, n, "v", at, "s", payload), state)
    found = {s.key: s for s in snapshots(state, COUNT)}
    window = window_for(START, "hour").key
    total = found[f"visits|{window}|*"]
    cells = [s for s in found.values() if s.dims]
    assert total.value == 20 and sum(s.value or 0 for s in cells) == 20
    assert all(not s.closed for s in found.values())

"""Properties of the aggregation: order independence within lateness, and replay from a snapshot."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ioc_collector.domain.aggregate import Aggregator, EventView
from ioc_collector.domain.definitions import KpiDefinition, parse_definition
from ioc_collector.domain.events import LOCAL_TZ
from ioc_collector.domain.queries import counters, series
from ioc_collector.domain.state import AggregationState, dump_state, load_state

HEALTH = "health.medical-visit.v1"
# Three hours of lateness; generated events span less than that, so none can be late.
TIMING = "window: hour\nallowed_lateness: PT3H\ntime_field: visit_time\n"
MEASURES = {
    "count": "{kind: count}",
    "sum": "{kind: sum, field: fee_vnd}",
    "average": "{kind: average, field: fee_vnd}",
    "distinct": "{kind: distinct_count, field: facility_code}",
    "ratio": (
        "{kind: ratio, numerator: {kind: count, filter: {where: "
        "[{field: identification, op: eq, value: cccd_chip}]}}, "
        "denominator: {kind: sum, field: fee_vnd, filter: {where: "
        "[{field: payment, op: ne, value: insurance_only}]}}}"
    ),
}


def definition(name: str, measure: str) -> KpiDefinition:
    unit = "'%'" if name == "ratio" else "units"
    return parse_definition(
        f"{name}.yaml",
        f"id: {name}\ntitle_vi: {name}\ntitle_en: {name}\ntopic: {HEALTH}\nmeasure: {measure}\n"
        f"dimensions: [district_code]\nunit: {unit}\n{TIMING}",
    )


CATALOGUE = [definition(name, measure) for name, measure in MEASURES.items()]
START = datetime(2024, 1, 31, 22, 0, tzinfo=LOCAL_TZ)  # the span crosses midnight and month end

visits = st.builds(
    lambda minute, partition, district, ident, payment, facility, fee: {
        "minute": minute,
        "partition": partition,
        "payload": {
            "district_code": district,
            "identification": ident,
            "payment": payment,
            "facility_code": facility,
            "fee_vnd": fee,
            "visit_time": (START + timedelta(minutes=minute)).isoformat(),
        },
    },
    st.integers(0, 170),
    st.integers(0, 2),
    st.sampled_from(["747", "748", "755"]),
    st.sampled_from(["cccd_chip", "insurance_card", "vneid"]),
    st.sampled_from(["cash", "cashless", "insurance_only"]),
    st.sampled_from(["77001", "77002", "77003", "77004"]),
    st.integers(0, 5_000_000),
)


@st.composite
def event_streams(draw: st.DrawFn) -> list[EventView]:
    """Draw distinct visits, then a stream where some of them are delivered more than once."""
    drawn: list[dict[str, Any]] = draw(st.lists(visits, min_size=1, max_size=25))
    order = draw(st.lists(st.integers(0, len(drawn) - 1), min_size=len(drawn), max_size=40))
    order = sorted(set(range(len(drawn)))) + order[len(drawn) :]  # each at least once
    return [
        EventView(
            f"visit-{i}",
            HEALTH,
            drawn[i]["partition"],
            i,
            "visit",
            START + timedelta(minutes=drawn[i]["minute"]),
            "so-y-te",
            drawn[i]["payload"],
        )
        for i in order
    ]


def apply_all(events: list[EventView], state: AggregationState | None = None) -> AggregationState:
    state = state or AggregationState()
    aggregator = Aggregator(CATALOGUE)
    for event in events:
        aggregator.apply(event, state)
    return state


def final_values(state: AggregationState, with_counters: bool = True) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for kpi in CATALOGUE:
        for district in (None, "747", "748", "755"):
            dims = {} if district is None else {"district_code": district}
            points = series(state, kpi, START, START + timedelta(hours=3), dims)
            result[f"{kpi.id}/{district}"] = [p.value for p in points]
        if with_counters:
            result[f"{kpi.id}/counters"] = counters(state, kpi)
    return result


@settings(max_examples=150, deadline=None)
@given(data=st.data(), events=event_streams())
def test_any_order_within_lateness_gives_the_same_final_values(
    data: st.DataObject, events: list[EventView]
) -> None:
    shuffled = data.draw(st.permutations(events))
    first, second = apply_all(events), apply_all(shuffled)
    assert final_values(first) == final_values(second)
    assert sum(c.late_events for c in (counters(first, k) for k in CATALOGUE)) == 0
    # Redeliveries change nothing: the values are those of each event applied once.
    once = list({event.event_id: event for event in events}.values())
    assert final_values(second, with_counters=False) == final_values(
        apply_all(once), with_counters=False
    )
    # Not just the values: the aggregates and dedup sets are identical too.
    assert {k: s.open_windows for k, s in first.kpis.items()} == {
        k: s.open_windows for k, s in second.kpis.items()
    }


@settings(max_examples=100, deadline=None)
@given(data=st.data(), events=event_streams())
def test_resuming_from_any_snapshot_is_byte_identical(
    data: st.DataObject, events: list[EventView]
) -> None:
    split = data.draw(st.integers(0, len(events)))
    snapshot = dump_state(apply_all(events[:split]))
    resumed = apply_all(events[split:], load_state(snapshot))
    assert dump_state(resumed) == dump_state(apply_all(events))

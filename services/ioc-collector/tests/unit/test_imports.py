"""Import runs: history fills windows never live, exactly once; live stragglers stay late."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ioc_collector.domain.aggregate import Aggregator
from ioc_collector.domain.batch import BatchAggregator
from ioc_collector.domain.definitions import parse_definition
from ioc_collector.domain.events import LOCAL_TZ, EventBatch, EventView
from ioc_collector.domain.queries import current_value
from ioc_collector.domain.state import AggregationState, dump_state, load_state
from ioc_collector.domain.windows import window_for

TOPIC = "health.medical-visit.v1"
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=LOCAL_TZ)
VISITS = parse_definition(
    "visits.yaml",
    f"id: visits\ntitle_vi: v\ntitle_en: v\ntopic: {TOPIC}\nmeasure: {{kind: count}}\n"
    "dimensions: [district_code]\nwindow: day\nallowed_lateness: PT1H\nidle_timeout: PT15M\n"
    "time_field: visit_time\nunit: visits\n",
)
MONTHLY = parse_definition(
    "monthly.yaml",
    f"id: monthly\ntitle_vi: m\ntitle_en: m\ntopic: {TOPIC}\nmeasure: {{kind: sum, field: fee}}\n"
    "window: month\nallowed_lateness: P1D\nidle_timeout: PT1H\ntime_field: visit_time\n"
    "unit: VND\n",
)
CATALOGUE = [VISITS, MONTHLY]


def visit(
    n: int, when: datetime, run: str | None = None, source: str = "/sources/so-y-te", **extra: Any
) -> EventView:
    payload = {"district_code": "747", "visit_time": when.isoformat(), "fee": 10, **extra}
    return EventView(f"{source} v{n}", TOPIC, 0, n, "visit", when, source, payload, run)


def history(days: int, run: str = "run-1", first: int = 0) -> list[EventView]:
    """Two visits a day, on each of the `days` days before NOW's day."""
    events = []
    for day in range(days, 0, -1):
        for hour in (9, 15):
            at = (NOW - timedelta(days=day)).replace(hour=hour)
            events.append(visit(first + len(events), at, run))
    return events


def applied(aggregator: Aggregator, state: AggregationState, events: list[EventView]) -> None:
    aggregator.tick(state, NOW)
    for event in events:
        aggregator.apply(event, state)


def day_value(state: AggregationState, when: datetime) -> float | None:
    return current_value(state, VISITS, window_for(when, "day")).value


def test_an_import_fills_windows_that_were_never_live_and_a_resend_changes_nothing() -> None:
    aggregator, state = Aggregator(CATALOGUE), AggregationState()
    applied(aggregator, state, [visit(900, NOW)])  # live today
    applied(aggregator, state, history(30))
    for day in range(1, 31):
        assert day_value(state, NOW - timedelta(days=day)) == 2
    visits = state.kpis["visits"]
    assert len(visits.history) == 30 and not visits.late_events
    assert visits.watermark == NOW  # history does not move the watermark
    before = dump_state(state)
    applied(aggregator, state, history(30))  # the same run again
    run = state.imports["/sources/so-y-te run-1"]
    assert (run.events, run.applied, run.duplicates) == (120, 60, 60)
    assert run.first_time == (NOW - timedelta(days=30)).replace(hour=9)
    snapshot = load_state(dump_state(state))
    for kpi in ("visits", "monthly"):
        assert snapshot.kpis[kpi].closed_windows == load_state(before).kpis[kpi].closed_windows
    assert state.kpis["visits"].imports["/sources/so-y-te run-1"].applied == 60


def test_a_live_straggler_into_a_history_window_is_late_and_not_applied() -> None:
    aggregator, state = Aggregator(CATALOGUE), AggregationState()
    applied(aggregator, state, history(3))
    straggler = visit(500, (NOW - timedelta(days=2)).replace(hour=11))
    applied(aggregator, state, [straggler])
    assert day_value(state, NOW - timedelta(days=2)) == 2
    assert state.kpis["visits"].late_events == 1


def test_an_import_into_a_window_that_was_live_is_refused() -> None:
    aggregator, state = Aggregator(CATALOGUE), AggregationState()
    yesterday = (NOW - timedelta(days=1)).replace(hour=9)
    aggregator.tick(state, yesterday)
    aggregator.apply(visit(1, yesterday), state)  # live yesterday; the clock closes it today
    applied(aggregator, state, [visit(2, yesterday.replace(hour=10), "run-1")])
    assert day_value(state, yesterday) == 1
    record = state.kpis["visits"].imports["/sources/so-y-te run-1"]
    assert (record.applied, record.refused) == (0, 1)


def test_one_run_owns_a_history_window_so_a_second_run_cannot_count_it_twice() -> None:
    aggregator, state = Aggregator(CATALOGUE), AggregationState()
    applied(aggregator, state, history(5, "run-1"))
    applied(aggregator, state, history(5, "run-2"))  # the same history under another run id
    assert day_value(state, NOW - timedelta(days=3)) == 2
    assert state.kpis["visits"].imports["/sources/so-y-te run-2"].refused == 10


def test_an_import_into_a_window_still_open_is_applied_live_and_deduplicated() -> None:
    aggregator, state = Aggregator(CATALOGUE), AggregationState()
    applied(aggregator, state, [visit(1, NOW.replace(hour=8), "run-1"), visit(2, NOW)])
    applied(aggregator, state, [visit(1, NOW.replace(hour=8), "run-1")])
    assert day_value(state, NOW) == 2
    assert window_for(NOW, "day").key in state.kpis["visits"].open_windows


def test_a_quiet_run_is_sealed_its_ids_dropped_and_later_records_are_duplicates() -> None:
    aggregator, state = Aggregator(CATALOGUE, seal_after=timedelta(minutes=5)), AggregationState()
    applied(aggregator, state, history(2))
    run = state.imports["/sources/so-y-te run-1"]
    assert len(run.seen_ids) == 4 and not run.sealed
    assert aggregator.tick(state, NOW + timedelta(minutes=6))  # a change: the row is written
    assert run.sealed and not run.seen_ids
    aggregator.apply(history(2)[0], state)
    assert (run.applied, run.duplicates) == (4, 1)
    assert day_value(state, NOW - timedelta(days=2)) == 2


def test_the_state_with_imports_round_trips_byte_for_byte() -> None:
    aggregator, state = Aggregator(CATALOGUE), AggregationState()
    applied(aggregator, state, history(4))
    assert dump_state(load_state(dump_state(state))) == dump_state(state)


@st.composite
def mixed_batches(draw: st.DrawFn) -> list[tuple[datetime, list[EventView]]]:
    """Batches mixing live events and records of two import runs, some re-sent."""
    result, offset = [], 0
    now = NOW
    for _ in range(draw(st.integers(1, 5))):
        batch = []
        for _ in range(draw(st.integers(0, 20))):
            when = NOW + timedelta(hours=draw(st.integers(-24 * 40, 2)))
            run = draw(st.sampled_from([None, None, "run-1", "run-2"]))
            n = draw(st.integers(0, 25))
            event = visit(n, when, run, fee=draw(st.sampled_from([1, 2.5, "x"])))
            batch.append(
                EventView(event.event_id, TOPIC, 0, offset, "visit", when, event.source,
                          event.payload, run)
            )  # fmt: skip
            offset += 1
        now += timedelta(minutes=draw(st.integers(0, 20)))
        result.append((now, batch))
    return result


@settings(max_examples=300, deadline=None)
@given(drawn=mixed_batches())
def test_a_batch_with_import_runs_gives_the_state_of_its_events_one_by_one(
    drawn: list[tuple[datetime, list[EventView]]],
) -> None:
    one_by_one, in_batches = AggregationState(), AggregationState()
    sequential = Aggregator(CATALOGUE, seal_after=timedelta(minutes=30))
    batched = BatchAggregator(CATALOGUE, seal_after=timedelta(minutes=30))
    for now, batch in drawn:
        sequential.tick(one_by_one, now)
        for event in batch:
            sequential.apply(event, one_by_one)
        batched.apply_batch(EventBatch.of(batch), in_batches, now)
        assert dump_state(in_batches) == dump_state(one_by_one)

"""The batch path leaves byte for byte the state of applying the same events one by one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ioc_collector.domain.aggregate import Aggregator
from ioc_collector.domain.batch import BatchAggregator
from ioc_collector.domain.definitions import KpiDefinition, parse_definition
from ioc_collector.domain.events import LOCAL_TZ, EventBatch, EventView
from ioc_collector.domain.state import AggregationState, dump_state

TOPIC = "health.medical-visit.v1"
START = datetime(2024, 1, 31, 21, 0, tzinfo=LOCAL_TZ)  # crosses midnight and the month end
KPIS = {
    "visits": "measure: {kind: count}\ndimensions: [district_code]\nwindow: hour\n"
    "allowed_lateness: PT10M\nidle_timeout: PT5M\ntime_field: visit_time\nunit: v\n",
    "chip": "filter: {where: [{field: status, op: ne, value: cancelled}]}\nmeasure: {kind: ratio,"
    " numerator: {kind: count, filter: {where: [{field: chip, op: eq, value: true}]}},"
    " denominator: {kind: count}}\ndimensions: [level, district_code]\nwindow: month\n"
    "time_field: visit_time\nunit: '%'\n",
    "fees": "filter: {ce_type: visit}\nmeasure: {kind: sum, field: /fee/amount}\nwindow: day\n"
    "allowed_lateness: PT1H\ntime_field: /fee/paid_at\nunit: VND\n",
    "mean-fee": "measure: {kind: average, field: fee_vnd}\nwindow: hour\nallowed_lateness: PT30M\n"
    "dimensions: [/fee/channel]\nunit: VND\n",
    "facilities": "filter: {where: [{field: level, op: in, value: [district, commune]}]}\n"
    "measure: {kind: distinct_count, field: facility_code}\ndimensions: [level]\nwindow: hour\n"
    "allowed_lateness: PT20M\ntime_field: visit_time\nunit: f\n",
    "mixed": "measure: {kind: ratio, numerator: {kind: sum, field: fee_vnd, filter: {where: "
    "[{field: fee_vnd, op: gt, value: 100}, {field: chip, op: exists}]}}, denominator: "
    "{kind: distinct_count, field: facility_code, filter: {where: [{field: chip, op: ne, "
    "value: false}]}}}\ndimensions: [chip]\nwindow: hour\nallowed_lateness: PT15M\n"
    "time_field: visit_time\nunit: '%'\n",
    "both-filtered": "measure: {kind: ratio, numerator: {kind: count, filter: {where: [{field:"
    " chip, op: eq, value: true}]}}, denominator: {kind: count, filter: {where: [{field: status,"
    " op: eq, value: done}]}}}\ndimensions: [district_code]\nwindow: month\nunit: '%'\n",
    "reporting": "filter: {where: [{field: status, op: eq, value: done}]}\nmeasure: {kind: "
    "ratio, numerator: {kind: distinct_count, field: facility_code}, denominator: {kind: "
    "reference}}\nreference: {value: 476, source: seeds}\nwindow: day\ntime_field: visit_time\n"
    "unit: '%'\n",
}


def definition(kpi_id: str, body: str) -> KpiDefinition:
    text = f"id: {kpi_id}\ntitle_vi: {kpi_id}\ntitle_en: {kpi_id}\ntopic: {TOPIC}\n{body}"
    return parse_definition(f"{kpi_id}.yaml", text)


CATALOGUE = [definition(kpi_id, body) for kpi_id, body in KPIS.items()]
MISSING_FIELD = object()
OFFSETS = [UTC, timezone(timedelta(hours=7)), timezone(timedelta(hours=-3, minutes=-30))]


@st.composite
def times(draw: st.DrawFn) -> Any:
    """Draw an event time as a payload would carry it, well-formed or not."""
    moment = START + timedelta(minutes=draw(st.integers(-90, 420)))
    moment += timedelta(seconds=draw(st.integers(0, 59)))
    moment = moment.astimezone(draw(st.sampled_from(OFFSETS)))
    return draw(
        st.sampled_from(
            [
                moment.isoformat(),
                moment.isoformat().replace("+00:00", "Z"),
                moment.strftime("%Y-%m-%d"),
                moment.strftime("%Y-%m"),
                moment.strftime("%Y-%m-%dT%H:%M:%S"),  # no offset: unusable
                "2024-02-30T10:00:00+07:00",
                "0001-01-01T00:00:00+07:00",
                "soon",
                1706700000,
                None,
            ]
        )
    )


values = st.sampled_from(["747", "748", 747, 747.0, True, None, ["747"], {"a": 1}, MISSING_FIELD])


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """Draw one event's fields."""
    fields: dict[str, Any] = {
        "district_code": draw(values),
        "level": draw(st.sampled_from(["province", "district", "commune", 3, MISSING_FIELD])),
        "status": draw(st.sampled_from(["done", "cancelled", MISSING_FIELD])),
        "chip": draw(st.sampled_from([True, False, 1, "true", None, MISSING_FIELD])),
        "facility_code": draw(values),
        "fee_vnd": draw(st.sampled_from([0, 150, 2500, 12.5, 0.1, "9", True, MISSING_FIELD])),
        "visit_time": draw(times()),
        "fee": draw(
            st.sampled_from([MISSING_FIELD, {"amount": 10}, {"amount": 0.25, "channel": "app"}])
        ),
    }
    payload = {k: v for k, v in fields.items() if v is not MISSING_FIELD}
    if isinstance(payload.get("fee"), dict):
        payload["fee"] = {**payload["fee"], "paid_at": draw(times())}
    minute = draw(st.integers(-60, 400))
    at = START + timedelta(minutes=minute)
    return {
        "id": f"e{draw(st.integers(0, 30))}",  # a small pool: redeliveries happen
        "source": draw(st.sampled_from(["s1", "s2"])),
        "type": draw(st.sampled_from(["visit", "other"])),
        "time": at if draw(st.booleans()) else at.replace(tzinfo=None),
        "payload": payload,
    }


@st.composite
def batches(draw: st.DrawFn) -> list[tuple[datetime, list[EventView]]]:
    """Draw batches of one partition each, with the processing clock at each poll."""
    result = []
    offset = 0
    now = START + timedelta(minutes=draw(st.integers(0, 120)))
    for _ in range(draw(st.integers(1, 6))):
        partition = draw(st.integers(0, 1))
        batch = []
        for fields in draw(st.lists(events(), max_size=25)):
            batch.append(
                EventView(f"{fields['source']} {fields['id']}", TOPIC, partition, offset,
                          fields["type"], fields["time"], fields["source"], fields["payload"])
            )  # fmt: skip
            offset += 1
        now += timedelta(minutes=draw(st.integers(-5, 90)))  # the wall clock may step back
        result.append((now, batch))
    return result


@settings(max_examples=400, deadline=None)
@given(drawn=batches(), scope=st.sampled_from(["partition", "source"]))
def test_a_batch_gives_the_state_of_its_events_one_by_one(
    drawn: list[tuple[datetime, list[EventView]]], scope: str
) -> None:
    one_by_one, in_batches = AggregationState(), AggregationState()
    one_by_one.watermark_scope = in_batches.watermark_scope = scope  # type: ignore[assignment]
    sequential, batched = Aggregator(CATALOGUE), BatchAggregator(CATALOGUE)
    for now, batch in drawn:
        sequential.tick(one_by_one, now)
        for event in batch:
            sequential.apply(event, one_by_one)
        batched.apply_batch(EventBatch.of(batch), in_batches, now)
        assert dump_state(in_batches) == dump_state(one_by_one)


def test_an_empty_batch_still_moves_the_clock_and_closes_windows() -> None:
    state = AggregationState()
    aggregator = BatchAggregator(CATALOGUE)
    visit = EventView("s1 a", TOPIC, 0, 0, "visit", START, "s1",
                      {"district_code": "747", "visit_time": START.isoformat()})  # fmt: skip
    aggregator.apply_batch(EventBatch.of([visit]), state, START)
    assert list(state.kpis["visits"].open_windows) == ["2024-01-31T21:00:00+07:00"]
    aggregator.apply_batch(EventBatch.of([]), state, START + timedelta(hours=2))
    assert state.kpis["visits"].open_windows == {}
    assert list(state.kpis["visits"].closed_windows) == ["2024-01-31T21:00:00+07:00"]
    assert state.clock == START + timedelta(hours=2)


def test_the_state_is_written_as_before_byte_for_byte() -> None:
    state = AggregationState()
    aggregator = BatchAggregator(CATALOGUE)
    odd = {
        "district_code": 'q"\\\n\x01\u00e9\u2028𝄞',
        "level": "district",
        "status": "done",
        "facility_code": "\x7f",
        "fee_vnd": 0.1,
        "chip": True,
        "visit_time": START.isoformat(),
    }
    events = [EventView(f"s1 {n}", TOPIC, 0, n, "visit", START, "s1\t", odd) for n in range(3)]
    aggregator.apply_batch(EventBatch.of(events), state, START)
    data = state.model_dump(mode="json")
    expected = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert dump_state(state) == expected.encode()
    assert "\\u2028" not in expected and '\\"' in expected  # the tricky characters are there

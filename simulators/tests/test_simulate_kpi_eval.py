"""The ground truth's KPI evaluator: hand-computed cases, and agreement with the collector."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lgsp_simulators.departments.drafts import LOCAL_TZ
from lgsp_simulators.departments.plan import Plan
from lgsp_simulators.kpi_eval import (
    Observed,
    evaluate,
    evaluate_kpi,
    load_definitions,
    parse_time,
    window_of,
)
from lgsp_simulators.scenario import Faults, Scenario

ROOT = Path(__file__).resolve().parents[2]
KPIS = ROOT / "services/ioc-collector/kpis"
T0 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def event(n: int, topic: str, payload: dict[str, Any], ce_type: str = "t") -> Observed:
    """Return an observed event."""
    return Observed(f"e{n}", topic, ce_type, T0, payload)


def definition(**overrides: Any) -> dict[str, Any]:
    """Return a KPI definition on a test topic."""
    return {"id": "k", "topic": "t.v1", "window": "day", "time_field": "at",
            "measure": {"kind": "count"}, **overrides}  # fmt: skip


def test_windows_are_local_days_and_months() -> None:
    late_evening_utc = datetime(2026, 11, 22, 17, 30, tzinfo=UTC)  # 00:30 on the 23rd locally
    start, end = window_of(late_evening_utc, "day")
    assert start == datetime(2026, 11, 23, tzinfo=LOCAL_TZ)
    assert end == datetime(2026, 11, 24, tzinfo=LOCAL_TZ)
    start, end = window_of(datetime(2026, 12, 31, 20, 0, tzinfo=UTC), "month")
    assert (start.year, start.month, end.year, end.month) == (2027, 1, 2027, 2)
    assert parse_time("2026-11") == datetime(2026, 11, 1, tzinfo=LOCAL_TZ)
    assert parse_time("2026-11-05") == datetime(2026, 11, 5, tzinfo=LOCAL_TZ)
    assert parse_time("2026-11-05T10:00:00") is None  # no offset: not RFC 3339
    assert parse_time("2026-02-30") is None


def test_count_sum_average_distinct_with_filters_and_dimensions() -> None:
    events = [
        event(1, "t.v1", {"at": "2026-11-23T08:00:00+07:00", "d": "747", "x": 10, "ok": True}),
        event(2, "t.v1", {"at": "2026-11-23T09:00:00+07:00", "d": "747", "x": 5, "ok": 1}),
        event(3, "t.v1", {"at": "2026-11-23T10:00:00+07:00", "d": "748", "x": 7, "ok": True}),
        event(4, "t.v1", {"at": "2026-11-24T10:00:00+07:00", "d": "748", "x": 1, "ok": True}),
        event(4, "t.v1", {"at": "2026-11-24T10:00:00+07:00", "d": "748", "x": 1, "ok": True}),
        event(5, "t.v1", {"at": "bad", "d": "748", "x": 1, "ok": True}),
    ]
    only_ok = {"where": [{"field": "ok", "op": "eq", "value": True}]}
    cases = {
        "count": ({"kind": "count"}, [2.0, 1.0]),
        "sum": ({"kind": "sum", "field": "x"}, [17.0, 1.0]),
        "average": ({"kind": "average", "field": "x"}, [8.5, 1.0]),
        "distinct": ({"kind": "distinct_count", "field": "d"}, [2.0, 1.0]),
    }
    for measure, expected in cases.values():
        found = evaluate_kpi(definition(measure=measure, filter=only_ok, dimensions=["d"]), events)
        assert [w["value"] for w in found["windows"]] == expected
        assert found["skipped_events"] == 1  # the unparseable time
    counted = evaluate_kpi(definition(filter=only_ok, dimensions=["d"]), events)
    first = counted["windows"][0]
    assert first["cells"] == [{"dims": {"d": "747"}, "value": 1.0},
                              {"dims": {"d": "748"}, "value": 1.0}]  # fmt: skip
    assert first["by_dimension"] == {"d": {"747": 1.0, "748": 1.0}}


def test_ratio_rolls_up_terms_not_percentages() -> None:
    measure = {"kind": "ratio",
               "numerator": {"kind": "count", "filter": {"where": [
                   {"field": "online", "op": "eq", "value": True}]}},
               "denominator": {"kind": "count"}}  # fmt: skip
    rows = [("747", True), ("747", False), ("747", False), ("748", True)]
    events = [
        event(i, "t.v1", {"at": "2026-11-23T08:00:00+07:00", "d": d, "online": o})
        for i, (d, o) in enumerate(rows)
    ]
    found = evaluate_kpi(definition(measure=measure, dimensions=["d"], window="month"), events)
    window = found["windows"][0]
    assert window["value"] == 50.0  # 2 of 4, not the mean of 33.3% and 100%
    assert window["by_dimension"]["d"] == {"747": float(1 * 100 / 3), "748": 100.0}


def test_reference_ratio_and_missing_fields() -> None:
    measure = {"kind": "ratio", "numerator": {"kind": "distinct_count", "field": "e"},
               "denominator": {"kind": "reference"}}  # fmt: skip
    events = [event(i, "t.v1", {"at": "2026-11", "e": f"LT-{i % 3}"}) for i in range(7)]
    events.append(event(99, "t.v1", {"at": "2026-11"}))  # no establishment: skipped
    found = evaluate_kpi(
        definition(measure=measure, reference={"value": 476}, window="month"), events
    )
    assert found["windows"][0]["value"] == float(3 * 100 / 476)
    assert found["skipped_events"] == 1


def test_missing_field_only_satisfies_negative_conditions() -> None:
    events = [
        event(1, "t.v1", {"at": "2026-11-23", "n": 1}),
        event(2, "t.v1", {"at": "2026-11-23", "n": 2, "s": "a"}),
    ]
    for op, value, expected in (("ne", "a", 1.0), ("not_in", ["a"], 1.0), ("eq", "a", 2.0),
                                ("exists", False, 1.0), ("in", ["a", "b"], 2.0)):  # fmt: skip
        flt = {"where": [{"field": "s", "op": op, "value": value}]}
        found = evaluate_kpi(definition(filter=flt, measure={"kind": "sum", "field": "n"}), events)
        assert found["windows"][0]["value"] == expected, op


@pytest.fixture(scope="module")
def simulated() -> list[Observed]:
    """Accepted events of a simulated run (no faults), at a fixed clock."""
    plan = Plan(Scenario(faults=Faults(invalid_share=0.0)), "eval", 4000)
    found = []
    while (draft := plan.next(T0)) is not None:
        found.append(Observed(draft.event_id, draft.topic, draft.event_type, T0, draft.payload))
    return found


def test_the_evaluator_agrees_with_the_collector_domain(simulated: list[Observed]) -> None:
    from ioc_collector.adapters.kpi_files import load_catalogue  # noqa: PLC0415
    from ioc_collector.domain.aggregate import Aggregator  # noqa: PLC0415 - test-only oracle
    from ioc_collector.domain.events import EventView  # noqa: PLC0415
    from ioc_collector.domain.queries import current_value  # noqa: PLC0415
    from ioc_collector.domain.state import AggregationState  # noqa: PLC0415
    from ioc_collector.domain.windows import window_for  # noqa: PLC0415

    topics = {p.name for p in (ROOT / "contracts/topics").iterdir()}
    catalogue = {k.id: k for k in load_catalogue(KPIS, topics)}
    aggregator, state = Aggregator(catalogue.values()), AggregationState()
    for offset, seen in enumerate(simulated):
        view = EventView(seen.event_id, seen.topic, 0, offset, seen.ce_type, seen.time,
                         "/sources/sim", seen.payload)  # fmt: skip
        aggregator.apply(view, state, T0)
    truth = evaluate(load_definitions(KPIS), simulated)
    checked = 0
    for kpi_id, expected in truth.items():
        kpi = catalogue[kpi_id]
        for window in expected["windows"]:
            span = window_for(datetime.fromisoformat(window["start"]), kpi.window)
            assert current_value(state, kpi, span).value == window["value"], kpi_id
            for cell in window["cells"]:
                assert current_value(state, kpi, span, cell["dims"]).value == cell["value"]
                checked += 1
    assert checked > 300

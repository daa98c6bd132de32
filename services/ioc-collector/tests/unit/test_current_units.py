"""KPIs by today's administrative units: old codes mapped, split units in their own bucket."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from ioc_collector.domain.aggregate import Aggregator, EventView
from ioc_collector.domain.current_units import (
    CURRENT_PROVINCE,
    CURRENT_UNIT,
    UNKNOWN_CODE,
    UNRESOLVED_SPLIT,
    derived_dimensions,
)
from ioc_collector.domain.definitions import KpiDefinition, parse_definition
from ioc_collector.domain.events import LOCAL_TZ
from ioc_collector.domain.queries import current_value, series
from ioc_collector.domain.state import AggregationState
from ioc_collector.domain.summary import current_unit_values, dimension_values
from ioc_collector.domain.windows import window_for

TOPIC = "finance.budget-revenue.v1"
JUNE_2025 = datetime(2025, 6, 10, 9, tzinfo=LOCAL_TZ)
JULY_2025 = datetime(2025, 7, 10, 9, tzinfo=LOCAL_TZ)


def kpi(dimensions: str) -> KpiDefinition:
    return parse_definition(
        "revenue.yaml",
        f"id: revenue\ntitle_vi: Thu ngân sách\ntitle_en: Revenue\ntopic: {TOPIC}\n"
        f"measure: {{kind: sum, field: amount_vnd}}\ndimensions: [{dimensions}]\n"
        "window: month\ntime_field: report_date\nallowed_lateness: P400D\nunit: VND\n",
    )


BY_DISTRICT = kpi("district_code")
BY_COMMUNE = kpi("commune_code, category")
BY_PROVINCE = kpi("province_code")


def record(n: int, at: datetime, amount: int, **codes: str) -> EventView:
    payload: dict[str, Any] = {"record_id": f"r{n}", "report_date": at.date().isoformat()}
    payload |= {"amount_vnd": amount, "category": "domestic", **codes}
    return EventView(f"e{n}", TOPIC, 0, n, "revenue", at, "/sources/so-tai-chinh", payload)


def aggregate(definition: KpiDefinition, events: list[EventView]) -> AggregationState:
    state = AggregationState()
    aggregator = Aggregator([definition])
    for event in events:
        aggregator.apply(event, state)
    return state


def value(state: AggregationState, definition: KpiDefinition, at: datetime, **dims: Any) -> Any:
    return current_value(state, definition, window_for(at, "month"), dims).value


def test_a_district_split_among_communes_is_counted_in_the_unresolved_bucket() -> None:
    events = [
        record(1, JULY_2025, 100, district_code="747"),  # Vũng Tàu: now 5 wards and communes
        record(2, JULY_2025, 30, district_code="755"),  # Côn Đảo: now Đặc khu Côn Đảo
        record(3, JULY_2025, 5, district_code="748"),  # Bà Rịa: split too
        record(4, JULY_2025, 1, district_code="752"),  # retired before 30/6/2025: unknown
    ]
    state = aggregate(BY_DISTRICT, events)
    assert value(state, BY_DISTRICT, JULY_2025, current_unit="26732") == 30
    assert value(state, BY_DISTRICT, JULY_2025, current_unit=UNRESOLVED_SPLIT) == 105
    assert value(state, BY_DISTRICT, JULY_2025, current_unit=UNKNOWN_CODE) == 1
    assert value(state, BY_DISTRICT, JULY_2025, current_unit="26506") is None  # never guessed
    assert value(state, BY_DISTRICT, JULY_2025, district_code="747") == 100  # raw code kept
    names = current_unit_values(state, BY_DISTRICT)
    assert names[CURRENT_UNIT]["26732"] == "Đặc khu Côn Đảo"
    assert names[CURRENT_UNIT][UNRESOLVED_SPLIT].startswith("Chưa xác định")
    assert names[CURRENT_PROVINCE] == {
        "79": "Thành phố Hồ Chí Minh",
        UNKNOWN_CODE: "Mã không có trong danh mục (unknown code)",
    }
    # The raw dimension values are what the cells hold, untouched.
    assert dimension_values(state, BY_DISTRICT) == {"district_code": ["747", "748", "752", "755"]}


def test_province_series_run_on_across_the_reform() -> None:
    events = [
        record(1, JUNE_2025, 40, province_code="77"),  # Bà Rịa - Vũng Tàu, old map
        record(2, JUNE_2025, 2, province_code="74"),  # Bình Dương, old map
        record(3, JULY_2025, 50, province_code="79"),  # Thành phố Hồ Chí Minh, new map
        record(4, JULY_2025, 7, province_code="72"),  # an old code still sent: Tây Ninh → 80
    ]
    state = aggregate(BY_PROVINCE, events)
    points = series(state, BY_PROVINCE, JUNE_2025, JULY_2025, {CURRENT_PROVINCE: "79"})
    assert [p.value for p in points] == [42, 50]
    assert value(state, BY_PROVINCE, JULY_2025, current_province="80") == 7


def test_a_commune_code_is_read_on_the_map_of_its_window() -> None:
    events = [
        # June 2025: 26506 is the old Phường 1, merged into today's Phường Vũng Tàu (26506).
        record(1, JUNE_2025, 10, commune_code="26506"),
        record(2, JUNE_2025, 20, commune_code="26509"),  # old Phường 2, merged into it too
        record(3, JUNE_2025, 3, commune_code="20296"),  # Hòa Liên, Đà Nẵng: split in two
        record(4, JULY_2025, 5, commune_code="26506"),  # July: today's Phường Vũng Tàu
    ]
    state = aggregate(BY_COMMUNE, events)
    points = series(state, BY_COMMUNE, JUNE_2025, JULY_2025, {CURRENT_UNIT: "26506"})
    assert [p.value for p in points] == [30, 5]
    assert value(state, BY_COMMUNE, JUNE_2025, current_unit=UNRESOLVED_SPLIT) == 3
    assert value(state, BY_COMMUNE, JUNE_2025, current_province="48") == 3
    both = {CURRENT_UNIT: "26506", "category": "domestic"}
    assert current_value(state, BY_COMMUNE, window_for(JULY_2025, "month"), both).value == 5


def test_only_kpis_with_unit_codes_get_the_derived_dimensions() -> None:
    plain = kpi("category")
    assert derived_dimensions(plain) == ()
    assert derived_dimensions(BY_DISTRICT) == (CURRENT_UNIT, CURRENT_PROVINCE)
    births = parse_definition(
        "births.yaml",
        "id: births\ntitle_vi: Xác thực\ntitle_en: Verifications\n"
        "topic: population.verification.v1\nmeasure: {kind: count}\n"
        "dimensions: [province_code]\nwindow: day\nunit: lượt\n",
    )
    assert derived_dimensions(births) == ()  # the CCCD's birth province, not a location
    state = aggregate(plain, [record(1, JULY_2025, 1)])
    assert current_unit_values(state, plain) == {}
    with pytest.raises(ValueError, match="current_unit"):
        current_value(state, plain, window_for(JULY_2025, "month"), {CURRENT_UNIT: "26732"})

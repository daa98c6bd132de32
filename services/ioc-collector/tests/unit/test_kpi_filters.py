"""The declarative filter: operators, JSON types, missing fields, pointers and ce_type."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ioc_collector.domain.definitions import Condition, Filter
from ioc_collector.domain.events import MISSING, EventView, resolve_field
from ioc_collector.domain.filters import condition_holds, matches

PAYLOAD: dict[str, Any] = {
    "payment": "cashless",
    "amount_vnd": 150_000,
    "telemedicine": True,
    "rate": 0.5,
    "note": None,
    "clinic": {"code": "77001", "a/b": 1, "tags": ["x", "y"]},
}


def holds(field: str, op: str, value: Any = None) -> bool:
    condition = Condition.model_validate({"field": field, "op": op, "value": value})
    return condition_holds(condition, PAYLOAD)


@pytest.mark.parametrize(
    ("field", "op", "value", "expected"),
    [
        ("payment", "eq", "cashless", True),
        ("payment", "eq", "cash", False),
        ("payment", "ne", "cash", True),
        ("payment", "ne", "cashless", False),
        ("payment", "in", ["cash", "cashless"], True),
        ("payment", "in", ["cash", "insurance_only"], False),
        ("payment", "not_in", ["cash"], True),
        ("payment", "not_in", ["cashless"], False),
        ("amount_vnd", "gt", 149_999, True),
        ("amount_vnd", "gt", 150_000, False),
        ("amount_vnd", "gte", 150_000, True),
        ("amount_vnd", "lt", 150_000, False),
        ("amount_vnd", "lt", 150_000.5, True),
        ("amount_vnd", "lte", 150_000, True),
        ("rate", "gte", 0.5, True),
        ("payment", "gt", "cash", True),
        ("payment", "exists", None, True),
        ("payment", "exists", False, False),
        ("note", "exists", True, True),
        ("note", "eq", None, True),
    ],
)
def test_operators(field: str, op: str, value: Any, expected: bool) -> None:
    assert holds(field, op, value) is expected


def test_json_types_stay_apart() -> None:
    assert not holds("telemedicine", "eq", 1)  # true is not 1
    assert holds("telemedicine", "eq", True)
    assert not holds("amount_vnd", "eq", "150000")
    assert holds("amount_vnd", "eq", 150_000.0)  # one JSON number
    assert not holds("payment", "gt", 5)  # a string is never ordered against a number
    assert not holds("telemedicine", "gte", 0)


def test_missing_field_only_satisfies_negative_operators() -> None:
    assert not holds("absent", "eq", "x")
    assert not holds("absent", "in", ["x"])
    assert not holds("absent", "gt", 0)
    assert holds("absent", "ne", "x")
    assert holds("absent", "not_in", ["x"])
    assert holds("absent", "exists", False)
    assert not holds("absent", "exists")


def test_json_pointer_reaches_nested_values() -> None:
    assert holds("/clinic/code", "eq", "77001")
    assert holds("/clinic/a~1b", "eq", 1)
    assert holds("/clinic/tags/1", "eq", "y")
    assert resolve_field(PAYLOAD, "/clinic/tags/2") is MISSING
    assert resolve_field(PAYLOAD, "/payment/x") is MISSING
    assert resolve_field(PAYLOAD, "/clinic") == PAYLOAD["clinic"]


def event(ce_type: str) -> EventView:
    return EventView(
        event_id="e1",
        topic="health.medical-visit.v1",
        partition=0,
        offset=0,
        ce_type=ce_type,
        time=datetime(2024, 1, 1, tzinfo=UTC),
        source="so-y-te",
        payload=PAYLOAD,
    )


def test_filter_ands_conditions_and_checks_ce_type() -> None:
    flt = Filter.model_validate(
        {
            "ce_type": "vn.lgsp.health.visit",
            "where": [
                {"field": "payment", "op": "eq", "value": "cashless"},
                {"field": "amount_vnd", "op": "gte", "value": 100_000},
            ],
        }
    )
    assert matches(flt, event("vn.lgsp.health.visit"))
    assert not matches(flt, event("vn.lgsp.health.other"))
    stricter = flt.model_copy(
        update={"where": (*flt.where, Condition(field="telemedicine", op="eq", value=False))}
    )
    assert not matches(stricter, event("vn.lgsp.health.visit"))
    assert matches(Filter(), event("anything"))

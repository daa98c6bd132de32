"""Compiled filters decide exactly as the interpreted ones."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ioc_collector.domain.definitions import Condition, Filter
from ioc_collector.domain.events import EventView
from ioc_collector.domain.filters import compile_condition, compile_filter, condition_holds, matches

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-2, 2), st.sampled_from([0.0, 1.0, 1.5]),
    st.sampled_from(["", "a", "1", "true", "747"]),
)  # fmt: skip
FIELDS = st.sampled_from(["a", "b", "/n/x"])


@st.composite
def conditions(draw: st.DrawFn) -> Condition:
    op = draw(st.sampled_from(["eq", "ne", "in", "not_in", "gt", "lte", "exists"]))
    if op in {"in", "not_in"}:
        value: Any = draw(st.lists(SCALARS, min_size=1, max_size=3))
    elif op in {"gt", "lte"}:
        value = draw(st.one_of(st.integers(-2, 2), st.sampled_from(["a", "1"])))
    elif op == "exists":
        value = draw(st.sampled_from([None, True, False]))
    else:
        value = draw(SCALARS)
    return Condition(field=draw(FIELDS), op=op, value=value)


payloads = st.fixed_dictionaries(
    {},
    optional={"a": SCALARS, "b": SCALARS, "n": st.fixed_dictionaries({}, optional={"x": SCALARS})},
)


@given(conditions(), payloads)
def test_compiled_condition_agrees(condition: Condition, payload: dict[str, Any]) -> None:
    assert compile_condition(condition)(payload) == condition_holds(condition, payload)


@given(st.lists(conditions(), max_size=3), payloads, st.sampled_from([None, "t.a", "t.b"]))
def test_compiled_filter_agrees(
    where: list[Condition], payload: dict[str, Any], ce_type: str | None
) -> None:
    flt = Filter(ce_type=ce_type, where=tuple(where))
    event = EventView("e", "t", 0, 0, "t.a", datetime.now(UTC), "s", payload)
    assert compile_filter(flt)(event) == matches(flt, event)

"""Evaluating the declarative KPI filters against an event."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from ioc_collector.domain.definitions import Condition, Filter, JsonScalar
from ioc_collector.domain.events import MISSING, EventView, resolve_field


def same_value(left: Any, right: JsonScalar) -> bool:
    """Tell whether two JSON values are equal, keeping JSON's types apart."""
    # JSON types are distinct: true is not 1 and "1" is not 1 (Python would say True == 1).
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    return type(left) is type(right) and bool(left == right)


_ORDER: dict[str, Callable[[Any, Any], Any]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _ordered(actual: Any, op: str, expected: JsonScalar) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        return False
    numbers = isinstance(actual, int | float) and isinstance(expected, int | float)
    strings = isinstance(actual, str) and isinstance(expected, str)
    # A number is never greater or smaller than a string: the condition just fails.
    return (numbers or strings) and bool(_ORDER[op](actual, expected))


def condition_holds(condition: Condition, payload: Mapping[str, Any]) -> bool:
    """Tell whether one condition holds; a missing field only satisfies ne, not_in, exists:false."""
    actual = resolve_field(payload, condition.field)
    op, expected = condition.op, condition.value
    if op == "exists":
        return (actual is not MISSING) == (expected is None or bool(expected))
    if actual is MISSING:
        return op in {"ne", "not_in"}
    if isinstance(expected, list):
        hit = any(same_value(actual, v) for v in expected)
        return hit if op == "in" else not hit
    if op in {"eq", "ne"}:
        return same_value(actual, expected) == (op == "eq")
    return _ordered(actual, op, expected)


def matches(flt: Filter, event: EventView) -> bool:
    """Tell whether an event passes a filter (its CloudEvent type and every condition)."""
    if flt.ce_type is not None and event.ce_type != flt.ce_type:
        return False
    return all(condition_holds(c, event.payload) for c in flt.where)


Predicate = Callable[[EventView], bool]
PayloadCheck = Callable[[Mapping[str, Any]], bool]


def _always(event: EventView) -> bool:
    return True


def compile_condition(condition: Condition) -> PayloadCheck:
    """Return a function equivalent to `condition_holds(condition, payload)`, faster for the
    common case (eq / ne on a top-level field with a string or boolean value)."""
    field, op, expected = condition.field, condition.op, condition.value
    simple = not field.startswith("/") and op in {"eq", "ne"}
    if not simple or not isinstance(expected, str | bool):
        return lambda payload: condition_holds(condition, payload)
    wanted = op == "eq"
    kind = type(expected)  # JSON types stay apart: true is not "true", 1 is not true

    def check(payload: Mapping[str, Any]) -> bool:
        actual = payload.get(field, MISSING)
        if actual is MISSING:
            return not wanted
        return (type(actual) is kind and actual == expected) == wanted

    return check


def compile_filter(flt: Filter) -> Predicate:
    """Return a function equivalent to `matches(flt, event)`, built once per definition."""
    checks = tuple(compile_condition(c) for c in flt.where)
    ce_type = flt.ce_type
    if not checks and ce_type is None:
        return _always

    def predicate(event: EventView) -> bool:
        if ce_type is not None and event.ce_type != ce_type:
            return False
        payload = event.payload
        return all(check(payload) for check in checks)

    return predicate

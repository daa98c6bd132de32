"""Comparisons of keywords that hold no subschema: type, enum/const, string and number limits.

Each function receives the old and the new schema object (already resolved) and returns the
findings of its keywords. A change that lets fewer values through breaks BACKWARD; one that lets
more through breaks FORWARD; one that does both (or cannot be ordered) breaks both.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from lgsp_registry.domain.diff_model import (
    BACKWARD_ONLY,
    BOTH,
    FORWARD_ONLY,
    Finding,
    Location,
)
from lgsp_registry.domain.schema_facts import (
    Bound,
    as_fraction,
    describe_types,
    lower_bound,
    type_set,
    upper_bound,
    value_set,
)

Schema = Mapping[str, Any]
_MAX_LISTED_VALUES = 6


def _num(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else repr(float(value))


def _values(values: frozenset[str]) -> str:
    listed = sorted(values)
    shown = ", ".join(listed[:_MAX_LISTED_VALUES])
    return shown + (", ..." if len(listed) > _MAX_LISTED_VALUES else "")


def compare_types(old: Schema, new: Schema, loc: Location) -> list[Finding]:
    """Compare the accepted types (integer is a subset of number)."""
    if value_set(old) is not None and value_set(new) is not None:
        return []  # both are value lists: compare_values sees every difference exactly
    before, after = type_set(old), type_set(new)
    if before == after:
        return []
    change = f"type changed from {describe_types(before)} to {describe_types(after)}"
    at = loc.keyword("type")
    if after > before:
        return [Finding("TYPE_EXTENDED", at, change, FORWARD_ONLY)]
    if after < before:
        return [Finding("TYPE_NARROWED", at, change, BACKWARD_ONLY)]
    return [Finding("TYPE_CHANGED", at, change, BOTH)]


def _value_keyword(node: Schema) -> str:
    return "const" if "const" in node and "enum" not in node else "enum"


def compare_values(old: Schema, new: Schema, loc: Location) -> list[Finding]:
    """Compare the value lists that `enum` and `const` allow."""
    before, after = value_set(old), value_set(new)
    if before == after:
        return []
    if before is None and after is not None:
        keyword = _value_keyword(new)
        detail = f"values are now restricted to {_values(after)}"
        return [Finding(f"{keyword.upper()}_ADDED", loc.keyword(keyword), detail, BACKWARD_ONLY)]
    if after is None and before is not None:
        keyword = _value_keyword(old)
        detail = f"the restriction to {_values(before)} was removed"
        return [Finding(f"{keyword.upper()}_REMOVED", loc.keyword(keyword), detail, FORWARD_ONLY)]
    assert before is not None
    assert after is not None
    at = loc.keyword(_value_keyword(new))
    if after < before:
        detail = f"values {_values(before - after)} are no longer allowed"
        return [Finding("ENUM_ARRAY_NARROWED", at, detail, BACKWARD_ONLY)]
    if after > before:
        detail = f"values {_values(after - before)} are now allowed"
        return [Finding("ENUM_ARRAY_EXTENDED", at, detail, FORWARD_ONLY)]
    rule = "CONST_CHANGED" if len(before) == len(after) == 1 else "ENUM_ARRAY_CHANGED"
    detail = f"allowed values changed from {_values(before)} to {_values(after)}"
    return [Finding(rule, at, detail, BOTH)]


def _count(node: Schema, keyword: str) -> int | None:
    value = node.get(keyword)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


def compare_max_count(old: Schema, new: Schema, loc: Location, keyword: str) -> list[Finding]:
    """Compare an upper count limit such as `maxLength`, `maxItems` or `maxProperties`."""
    return _compare_count(old, new, loc, keyword, tighter_when_larger=False)


def compare_min_count(old: Schema, new: Schema, loc: Location, keyword: str) -> list[Finding]:
    """Compare a lower count limit such as `minLength`, `minItems` or `minProperties`."""
    return _compare_count(old, new, loc, keyword, tighter_when_larger=True)


def _rule_name(keyword: str) -> str:
    snake = "".join("_" + c if c.isupper() else c for c in keyword)
    return snake.upper()


def _compare_count(
    old: Schema, new: Schema, loc: Location, keyword: str, *, tighter_when_larger: bool
) -> list[Finding]:
    before, after = _count(old, keyword), _count(new, keyword)
    if before == after:
        return []
    name, at = _rule_name(keyword), loc.keyword(keyword)
    if before is None:
        return [Finding(f"{name}_ADDED", at, f"{keyword} {after} was added", BACKWARD_ONLY)]
    if after is None:
        return [Finding(f"{name}_REMOVED", at, f"{keyword} {before} was removed", FORWARD_ONLY)]
    grew = after > before
    verb = "INCREASED" if grew else "DECREASED"
    breaks = BACKWARD_ONLY if grew == tighter_when_larger else FORWARD_ONLY
    detail = f"{keyword} changed from {before} to {after}"
    return [Finding(f"{name}_{verb}", at, detail, breaks)]


def _describe(bound: Bound, lower: bool) -> str:
    sign = (">" if lower else "<") + ("" if bound.exclusive else "=")
    return f"{sign} {_num(bound.value)}"


def _compare_bound(
    before: Bound | None, after: Bound | None, loc: Location, *, lower: bool
) -> list[Finding]:
    if before == after:
        return []
    name = "MINIMUM" if lower else "MAXIMUM"
    if before is None:
        assert after is not None
        detail = f"a bound {_describe(after, lower)} was added"
        return [Finding(f"{name}_ADDED", loc.keyword(after.keyword), detail, BACKWARD_ONLY)]
    if after is None:
        detail = f"the bound {_describe(before, lower)} was removed"
        return [Finding(f"{name}_REMOVED", loc.keyword(before.keyword), detail, FORWARD_ONLY)]
    if (after.value, after.exclusive) == (before.value, before.exclusive):
        return []
    # A lower bound is tighter when larger (exclusive beats inclusive at the same value); an
    # upper bound is tighter when smaller.
    if lower:
        tighter = (after.value, after.exclusive) > (before.value, before.exclusive)
    else:
        tighter = (after.value, not after.exclusive) < (before.value, not before.exclusive)
    verb = (
        ("INCREASED" if lower else "DECREASED")
        if tighter
        else ("DECREASED" if lower else "INCREASED")
    )
    detail = f"the bound changed from {_describe(before, lower)} to {_describe(after, lower)}"
    breaks = BACKWARD_ONLY if tighter else FORWARD_ONLY
    return [Finding(f"{name}_{verb}", loc.keyword(after.keyword), detail, breaks)]


def _multiple_of(node: Schema) -> Fraction | None:
    value = node.get("multipleOf")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    return as_fraction(value)


def compare_numeric(old: Schema, new: Schema, loc: Location) -> list[Finding]:
    """Compare numeric bounds (inclusive and exclusive folded together) and `multipleOf`."""
    findings = _compare_bound(lower_bound(old), lower_bound(new), loc, lower=True)
    findings += _compare_bound(upper_bound(old), upper_bound(new), loc, lower=False)
    before, after = _multiple_of(old), _multiple_of(new)
    if before == after:
        return findings
    at = loc.keyword("multipleOf")
    if before is None:
        assert after is not None
        detail = f"multipleOf {_num(after)} was added"
        return [*findings, Finding("MULTIPLE_OF_ADDED", at, detail, BACKWARD_ONLY)]
    if after is None:
        detail = f"multipleOf {_num(before)} was removed"
        return [*findings, Finding("MULTIPLE_OF_REMOVED", at, detail, FORWARD_ONLY)]
    detail = f"multipleOf changed from {_num(before)} to {_num(after)}"
    if (after / before).denominator == 1:
        return [*findings, Finding("MULTIPLE_OF_EXPANDED", at, detail, BACKWARD_ONLY)]
    if (before / after).denominator == 1:
        return [*findings, Finding("MULTIPLE_OF_REDUCED", at, detail, FORWARD_ONLY)]
    return [*findings, Finding("MULTIPLE_OF_CHANGED", at, detail, BOTH)]


def _compare_text_keyword(old: Schema, new: Schema, loc: Location, keyword: str) -> list[Finding]:
    before, after = old.get(keyword), new.get(keyword)
    if before == after:
        return []
    name, at = _rule_name(keyword), loc.keyword(keyword)
    if before is None:
        return [Finding(f"{name}_ADDED", at, f"{keyword} {after!r} was added", BACKWARD_ONLY)]
    if after is None:
        return [Finding(f"{name}_REMOVED", at, f"{keyword} {before!r} was removed", FORWARD_ONLY)]
    # Whether one regular expression or format includes another is not decidable here.
    detail = f"{keyword} changed from {before!r} to {after!r}"
    return [Finding(f"{name}_CHANGED", at, detail, BOTH)]


def compare_string(old: Schema, new: Schema, loc: Location) -> list[Finding]:
    """Compare string length limits, `pattern` and `format`."""
    return [
        *compare_min_count(old, new, loc, "minLength"),
        *compare_max_count(old, new, loc, "maxLength"),
        *_compare_text_keyword(old, new, loc, "pattern"),
        *_compare_text_keyword(old, new, loc, "format"),
    ]

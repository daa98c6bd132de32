"""Verdicts for changes of scalar keywords: type, enum/const, string and number limits."""

from __future__ import annotations

from typing import Any

import pytest

from lgsp_registry.domain.compatibility import (
    CompatibilityMode,
    Direction,
    check,
)

Schema = dict[str, Any]


def closed(props: Schema, required: tuple[str, ...] = ()) -> Schema:
    return {
        "type": "object",
        "properties": props,
        "required": list(required),
        "additionalProperties": False,
    }


def field(schema: Schema) -> Schema:
    """Wrap a field schema as the `amount_vnd` property of a closed, required-field object."""
    return closed({"amount_vnd": schema}, ("amount_vnd",))


STR = {"type": "string"}
INT = {"type": "integer"}
AMOUNT = "/properties/amount_vnd"

# (id, old, new, backward ok, forward ok, {(rule, pointer)} reported under FULL)
CASES: list[tuple[str, Schema, Schema, bool, bool, set[tuple[str, str]]]] = [
    (
        "integer widened to number",
        field(INT),
        field({"type": "number"}),
        True,
        False,
        {("TYPE_EXTENDED", f"{AMOUNT}/type")},
    ),
    (
        "number narrowed to integer",
        field({"type": "number"}),
        field(INT),
        False,
        True,
        {("TYPE_NARROWED", f"{AMOUNT}/type")},
    ),
    (
        "string changed to integer",
        field(STR),
        field(INT),
        False,
        False,
        {("TYPE_CHANGED", f"{AMOUNT}/type")},
    ),
    (
        "type array gains null",
        field(INT),
        field({"type": ["integer", "null"]}),
        True,
        False,
        {("TYPE_EXTENDED", f"{AMOUNT}/type")},
    ),
    (
        "integer and string merged into number",
        field({"type": ["integer", "string"]}),
        field({"type": "number"}),
        False,
        False,
        {("TYPE_CHANGED", f"{AMOUNT}/type")},
    ),
    (
        "enum narrowed",
        field({"enum": ["oil_gas", "import_export", "domestic", "other"]}),
        field({"enum": ["oil_gas", "import_export", "domestic"]}),
        False,
        True,
        {("ENUM_ARRAY_NARROWED", f"{AMOUNT}/enum")},
    ),
    (
        "enum extended",
        field({"enum": ["oil_gas", "domestic"]}),
        field({"enum": ["oil_gas", "domestic", "other"]}),
        True,
        False,
        {("ENUM_ARRAY_EXTENDED", f"{AMOUNT}/enum")},
    ),
    (
        "enum of integers narrowed (Karapace crashes on non-strings)",
        field({"enum": [1, 2, 3]}),
        field({"enum": [1, 2]}),
        False,
        True,
        {("ENUM_ARRAY_NARROWED", f"{AMOUNT}/enum")},
    ),
    (
        "enum changed",
        field({"enum": ["a", "b"]}),
        field({"enum": ["a", "c"]}),
        False,
        False,
        {("ENUM_ARRAY_CHANGED", f"{AMOUNT}/enum")},
    ),
    (
        "enum added",
        field(STR),
        field({**STR, "enum": ["a"]}),
        False,
        True,
        {("ENUM_ADDED", f"{AMOUNT}/enum")},
    ),
    (
        "const changed",
        field({"const": 1}),
        field({"const": 2}),
        False,
        False,
        {("CONST_CHANGED", f"{AMOUNT}/const")},
    ),
    (
        "const relaxed to an enum that contains it",
        field({"const": "a"}),
        field({"enum": ["a", "b"]}),
        True,
        False,
        {("ENUM_ARRAY_EXTENDED", f"{AMOUNT}/enum")},
    ),
    (
        "1.0 and 1 are the same enum value",
        field({"enum": [1, 2]}),
        field({"enum": [1.0, 2]}),
        True,
        True,
        set(),
    ),
    (
        "maxLength added",
        field(STR),
        field({**STR, "maxLength": 64}),
        False,
        True,
        {("MAX_LENGTH_ADDED", f"{AMOUNT}/maxLength")},
    ),
    (
        "maxLength increased",
        field({**STR, "maxLength": 32}),
        field({**STR, "maxLength": 64}),
        True,
        False,
        {("MAX_LENGTH_INCREASED", f"{AMOUNT}/maxLength")},
    ),
    (
        "minLength removed",
        field({**STR, "minLength": 1}),
        field(STR),
        True,
        False,
        {("MIN_LENGTH_REMOVED", f"{AMOUNT}/minLength")},
    ),
    (
        "pattern added",
        field(STR),
        field({**STR, "pattern": "^[0-9]{3}$"}),
        False,
        True,
        {("PATTERN_ADDED", f"{AMOUNT}/pattern")},
    ),
    (
        "pattern changed",
        field({**STR, "pattern": "^[0-9]{3}$"}),
        field({**STR, "pattern": "^[0-9]{5}$"}),
        False,
        False,
        {("PATTERN_CHANGED", f"{AMOUNT}/pattern")},
    ),
    (
        "format removed",
        field({**STR, "format": "date"}),
        field(STR),
        True,
        False,
        {("FORMAT_REMOVED", f"{AMOUNT}/format")},
    ),
    (
        "format changed",
        field({**STR, "format": "date"}),
        field({**STR, "format": "date-time"}),
        False,
        False,
        {("FORMAT_CHANGED", f"{AMOUNT}/format")},
    ),
    (
        "minimum increased",
        field({**INT, "minimum": 0}),
        field({**INT, "minimum": 1}),
        False,
        True,
        {("MINIMUM_INCREASED", f"{AMOUNT}/minimum")},
    ),
    (
        "minimum made exclusive",
        field({**INT, "minimum": 0}),
        field({**INT, "exclusiveMinimum": 0}),
        False,
        True,
        {("MINIMUM_INCREASED", f"{AMOUNT}/exclusiveMinimum")},
    ),
    (
        "maximum removed",
        field({**INT, "maximum": 10}),
        field(INT),
        True,
        False,
        {("MAXIMUM_REMOVED", f"{AMOUNT}/maximum")},
    ),
    (
        "exclusive maximum decreased",
        field({**INT, "exclusiveMaximum": 10}),
        field({**INT, "exclusiveMaximum": 5}),
        False,
        True,
        {("MAXIMUM_DECREASED", f"{AMOUNT}/exclusiveMaximum")},
    ),
    (
        "multipleOf expanded (Karapace misses this)",
        field({**INT, "multipleOf": 2}),
        field({**INT, "multipleOf": 4}),
        False,
        True,
        {("MULTIPLE_OF_EXPANDED", f"{AMOUNT}/multipleOf")},
    ),
    (
        "multipleOf reduced",
        field({"type": "number", "multipleOf": 0.5}),
        field({"type": "number", "multipleOf": 0.25}),
        True,
        False,
        {("MULTIPLE_OF_REDUCED", f"{AMOUNT}/multipleOf")},
    ),
    (
        "multipleOf changed",
        field({**INT, "multipleOf": 2}),
        field({**INT, "multipleOf": 3}),
        False,
        False,
        {("MULTIPLE_OF_CHANGED", f"{AMOUNT}/multipleOf")},
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "backward", "forward", "rules"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_verdict_per_mode(
    old: Schema, new: Schema, backward: bool, forward: bool, rules: set[tuple[str, str]]
) -> None:
    previous = [(1, old)]
    verdicts = {mode: check(new, previous, mode).compatible for mode in CompatibilityMode}
    assert verdicts[CompatibilityMode.NONE] is True
    assert verdicts[CompatibilityMode.BACKWARD] is backward
    assert verdicts[CompatibilityMode.BACKWARD_TRANSITIVE] is backward
    assert verdicts[CompatibilityMode.FORWARD] is forward
    assert verdicts[CompatibilityMode.FORWARD_TRANSITIVE] is forward
    assert verdicts[CompatibilityMode.FULL] is (backward and forward)
    full = check(new, previous, CompatibilityMode.FULL)
    assert {(reason.rule, reason.pointer) for reason in full.reasons} == rules


@pytest.mark.parametrize(
    ("old", "new", "backward", "forward", "rules"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_reasons_name_the_direction_and_version(
    old: Schema, new: Schema, backward: bool, forward: bool, rules: set[tuple[str, str]]
) -> None:
    full = check(new, [(7, old)], CompatibilityMode.FULL)
    directions = {reason.direction for reason in full.reasons}
    assert (Direction.BACKWARD in directions) is not backward
    assert (Direction.FORWARD in directions) is not forward
    for reason in full.reasons:
        assert reason.version == 7
        assert reason.message.endswith(".")
        assert "version 7" in reason.message

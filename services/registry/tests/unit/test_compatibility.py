"""Verdicts for object changes, policies and transitivity, per compatibility mode."""

from __future__ import annotations

from typing import Any

import pytest

from lgsp_registry.domain.compatibility import (
    CompatibilityMode,
    CompatibilityPolicy,
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


def opened(props: Schema, required: tuple[str, ...] = ()) -> Schema:
    return {"type": "object", "properties": props, "required": list(required)}


def field(schema: Schema) -> Schema:
    """Wrap a field schema as the `amount_vnd` property of a closed, required-field object."""
    return closed({"amount_vnd": schema}, ("amount_vnd",))


STR = {"type": "string"}
INT = {"type": "integer"}
AMOUNT = "/properties/amount_vnd"

# (id, old, new, backward ok, forward ok, {(rule, pointer)} reported under FULL)
CASES: list[tuple[str, Schema, Schema, bool, bool, set[tuple[str, str]]]] = [
    ("identical", closed({"a": STR}), closed({"a": STR}), True, True, set()),
    (
        "description only",
        closed({"a": STR}),
        closed({"a": {**STR, "description": "Mã hồ sơ (dossier id)"}}),
        True,
        True,
        set(),
    ),
    (
        "optional property added to closed model",
        closed({"a": STR}),
        closed({"a": STR, "b": INT}),
        True,
        False,
        {("PROPERTY_ADDED_TO_CLOSED_CONTENT_MODEL", "/properties/b")},
    ),
    (
        "optional property removed from closed model",
        closed({"a": STR, "b": INT}),
        closed({"a": STR}),
        False,
        True,
        {("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", "/properties/b")},
    ),
    (
        "required property added to closed model",
        closed({"a": STR}),
        closed({"a": STR, "b": INT}, ("b",)),
        False,
        False,
        {
            ("REQUIRED_PROPERTY_ADDED", "/required"),
            ("PROPERTY_ADDED_TO_CLOSED_CONTENT_MODEL", "/properties/b"),
        },
    ),
    (
        "existing property became required (Karapace misses this)",
        closed({"a": STR, "b": INT}),
        closed({"a": STR, "b": INT}, ("b",)),
        False,
        True,
        {("PROPERTY_BECAME_REQUIRED", "/required")},
    ),
    (
        "required with a default is still required",
        closed({"b": INT}),
        closed({"b": {**INT, "default": 0}}, ("b",)),
        False,
        True,
        {("PROPERTY_BECAME_REQUIRED", "/required")},
    ),
    (
        "required property became optional",
        closed({"a": STR}, ("a",)),
        closed({"a": STR}),
        True,
        False,
        {("PROPERTY_BECAME_OPTIONAL", "/required")},
    ),
    (
        "constrained property added to open model",
        opened({"a": STR}),
        opened({"a": STR, "b": INT}),
        False,
        True,
        {("PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", "/properties/b")},
    ),
    (
        "unconstrained property added to open model",
        opened({"a": STR}),
        opened({"a": STR, "b": {"description": "anything"}}),
        True,
        True,
        set(),
    ),
    (
        "optional property removed from open model",
        opened({"a": STR, "b": INT}),
        opened({"a": STR}),
        True,
        False,
        {("PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL", "/properties/b")},
    ),
    (
        "additionalProperties closed",
        opened({"a": STR}),
        {**opened({"a": STR}), "additionalProperties": False},
        False,
        True,
        {("ADDITIONAL_PROPERTIES_REMOVED", "/additionalProperties")},
    ),
    (
        "additionalProperties opened",
        closed({"a": STR}),
        {**closed({"a": STR}), "additionalProperties": True},
        True,
        False,
        {("ADDITIONAL_PROPERTIES_ADDED", "/additionalProperties")},
    ),
    (
        "additionalProperties schema narrowed",
        {**opened({}), "additionalProperties": STR},
        {**opened({}), "additionalProperties": {**STR, "maxLength": 3}},
        False,
        True,
        {("MAX_LENGTH_ADDED", "/additionalProperties/maxLength")},
    ),
    (
        "property added that the partially open model already covered",
        {**opened({}), "additionalProperties": STR},
        {**opened({"note": STR}), "additionalProperties": STR},
        True,
        True,
        set(),
    ),
    (
        "property added that the partially open model did not cover",
        {**opened({}), "additionalProperties": STR},
        {**opened({"note": INT}), "additionalProperties": STR},
        False,
        False,
        {("PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", "/properties/note")},
    ),
    (
        "dependentRequired extended",
        {**opened({"a": STR, "b": STR}), "dependentRequired": {"a": []}},
        {**opened({"a": STR, "b": STR}), "dependentRequired": {"a": ["b"]}},
        False,
        True,
        {("DEPENDENT_REQUIRED_EXTENDED", "/dependentRequired/a")},
    ),
    (
        "dependentRequired removed",
        {**opened({"a": STR, "b": STR}), "dependentRequired": {"a": ["b"]}},
        opened({"a": STR, "b": STR}),
        True,
        False,
        {("DEPENDENT_REQUIRED_NARROWED", "/dependentRequired/a")},
    ),
    (
        "not widened",
        field({"not": {"type": "null"}}),
        field({"not": {"type": ["null", "string"]}}),
        False,
        True,
        {("NOT_TYPE_EXTENDED", f"{AMOUNT}/not")},
    ),
    (
        "not added",
        field(STR),
        field({**STR, "not": {"const": ""}}),
        False,
        True,
        {("NOT_ADDED", f"{AMOUNT}/not")},
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


def test_property_path_points_at_data() -> None:
    result = check(
        field({**INT, "minimum": 1}),
        [(1, field({**INT, "minimum": 0}))],
        CompatibilityMode.BACKWARD,
    )
    assert [(r.pointer, r.data_path) for r in result.reasons] == [
        (f"{AMOUNT}/minimum", "/amount_vnd")
    ]


def test_every_incompatibility_is_reported() -> None:
    old = closed({"a": STR, "b": INT, "c": {"enum": ["x", "y"]}}, ("a",))
    new = closed({"a": INT, "c": {"enum": ["x"]}, "d": STR}, ("a", "c"))
    result = check(new, [(1, old)], CompatibilityMode.BACKWARD)
    assert not result.compatible
    assert {(r.rule, r.data_path) for r in result.reasons} == {
        ("TYPE_CHANGED", "/a"),
        ("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", "/b"),
        ("ENUM_ARRAY_NARROWED", "/c"),
        ("PROPERTY_BECAME_REQUIRED", "/c"),
    }


def test_lenient_allows_optional_property_on_open_model() -> None:
    old, new = opened({"a": STR}), opened({"a": STR, "b": INT})
    strict = check(new, [(1, old)], CompatibilityMode.FULL, CompatibilityPolicy.STRICT)
    lenient = check(new, [(1, old)], CompatibilityMode.FULL, CompatibilityPolicy.LENIENT)
    assert [r.rule for r in strict.reasons] == ["PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"]
    assert lenient.compatible
    assert lenient.reasons == []


def test_lenient_allows_removing_optional_property_from_open_model() -> None:
    old, new = opened({"a": STR, "b": INT}), opened({"a": STR})
    assert not check(new, [(1, old)], CompatibilityMode.FORWARD).compatible
    assert check(new, [(1, old)], CompatibilityMode.FULL, CompatibilityPolicy.LENIENT).compatible


def test_lenient_still_rejects_required_property_on_open_model() -> None:
    old, new = opened({"a": STR}), opened({"a": STR, "b": INT}, ("b",))
    result = check(new, [(1, old)], CompatibilityMode.BACKWARD, CompatibilityPolicy.LENIENT)
    assert [r.rule for r in result.reasons] == ["REQUIRED_PROPERTY_ADDED"]


def test_lenient_changes_nothing_for_closed_models() -> None:
    old, new = closed({"a": STR}), closed({"a": STR, "b": INT})
    result = check(new, [(1, old)], CompatibilityMode.FORWARD, CompatibilityPolicy.LENIENT)
    assert [r.rule for r in result.reasons] == ["PROPERTY_ADDED_TO_CLOSED_CONTENT_MODEL"]


@pytest.mark.parametrize("mode", ["BACKWARD", "FORWARD", "FULL"])
def test_transitive_catches_a_field_readded_with_another_type(mode: str) -> None:
    v1 = opened({"id": STR, "note": STR})
    v2 = opened({"id": STR})
    v3 = opened({"id": STR, "note": INT})
    lenient = CompatibilityPolicy.LENIENT
    assert check(v2, [(1, v1)], CompatibilityMode(mode), lenient).compatible
    history = [(1, v1), (2, v2)]
    assert check(v3, history, CompatibilityMode(mode), lenient).compatible
    transitive = check(v3, history, CompatibilityMode(f"{mode}_TRANSITIVE"), lenient)
    assert not transitive.compatible
    assert {(r.version, r.rule, r.data_path) for r in transitive.reasons} == {
        (1, "TYPE_CHANGED", "/note")
    }


def test_transitive_catches_a_version_registered_under_none() -> None:
    v1, v2 = field(STR), field(INT)
    v3 = field({**INT, "description": "Số tiền (amount)"})
    history = [(1, v1), (2, v2)]
    assert check(v3, history, CompatibilityMode.FULL).compatible
    result = check(v3, history, CompatibilityMode.FULL_TRANSITIVE)
    assert {(r.version, r.direction) for r in result.reasons} == {
        (1, Direction.BACKWARD),
        (1, Direction.FORWARD),
    }


def test_non_transitive_checks_the_highest_version() -> None:
    history = [(2, field(INT)), (1, field(STR))]
    assert check(field(INT), history, CompatibilityMode.FULL).compatible


def test_no_previous_version_is_compatible() -> None:
    assert check(field(INT), [], CompatibilityMode.FULL_TRANSITIVE).compatible


def test_none_mode_checks_nothing() -> None:
    result = check(field(INT), [(1, field(STR))], CompatibilityMode.NONE)
    assert result.compatible
    assert result.reasons == []

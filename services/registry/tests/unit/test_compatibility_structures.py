"""Compatibility across structure: nesting, $ref and cycles, combinators, arrays, conditionals."""

from __future__ import annotations

from typing import Any

import pytest

from lgsp_registry.domain.compatibility import CompatibilityMode, Direction, check

Schema = dict[str, Any]
STR = {"type": "string"}
INT = {"type": "integer"}


def closed(props: Schema, required: tuple[str, ...] = ()) -> Schema:
    return {
        "type": "object",
        "properties": props,
        "required": list(required),
        "additionalProperties": False,
    }


def found(old: Any, new: Any, mode: str = "FULL") -> set[tuple[str, str, str, Direction | None]]:
    result = check(new, [(1, old)], CompatibilityMode(mode))
    assert result.compatible is (not result.reasons)
    return {(r.rule, r.pointer, r.data_path, r.direction) for r in result.reasons}


def with_address(commune: Schema, required: tuple[str, ...] = ("address",)) -> Schema:
    address = closed({"commune_code": commune, "street": STR}, ("commune_code",))
    return closed({"id": STR, "address": address}, ("id", *required))


def test_nested_change_has_schema_and_data_paths() -> None:
    old = with_address({**STR, "pattern": "^[0-9]{5}$"})
    new = with_address({**STR, "pattern": "^[0-9]{6}$"})
    pointer = "/properties/address/properties/commune_code/pattern"
    assert found(old, new, "BACKWARD") == {
        ("PATTERN_CHANGED", pointer, "/address/commune_code", Direction.BACKWARD)
    }


def test_nested_property_added_to_closed_object() -> None:
    old = with_address(STR)
    new = closed(
        {
            "id": STR,
            "address": closed({"commune_code": STR, "street": STR, "ward": STR}, ("commune_code",)),
        },
        ("id", "address"),
    )
    assert found(old, new) == {
        (
            "PROPERTY_ADDED_TO_CLOSED_CONTENT_MODEL",
            "/properties/address/properties/ward",
            "/address/ward",
            Direction.FORWARD,
        )
    }


def as_ref(schema: Schema, name: str = "Address") -> Schema:
    """Move `properties.address` of a schema into `$defs` and refer to it."""
    address = schema["properties"]["address"]
    props = {**schema["properties"], "address": {"$ref": f"#/$defs/{name}"}}
    return {**schema, "properties": props, "$defs": {name: address}}


def test_ref_and_inline_forms_are_equivalent() -> None:
    inline = with_address(STR)
    assert found(inline, as_ref(inline)) == set()
    assert found(as_ref(inline), inline) == set()
    assert found(as_ref(inline, "Address"), as_ref(inline, "DiaChi")) == set()


def test_change_behind_a_ref_is_found_with_the_ref_in_the_pointer() -> None:
    old, new = as_ref(with_address(STR)), as_ref(with_address(INT))
    assert found(old, new, "FORWARD") == {
        (
            "TYPE_CHANGED",
            "/properties/address/$ref/properties/commune_code/type",
            "/address/commune_code",
            Direction.FORWARD,
        )
    }


def tree(leaf: Schema) -> Schema:
    node = {
        "type": "object",
        "properties": {
            "name": leaf,
            "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
        },
        "additionalProperties": False,
    }
    return {"$defs": {"node": node}, "$ref": "#/$defs/node"}


def test_recursive_schema_is_compatible_with_itself() -> None:
    assert found(tree(STR), tree(STR)) == set()


def test_change_inside_a_recursive_schema_is_found() -> None:
    rules = found(tree(STR), tree({**STR, "maxLength": 50}), "BACKWARD")
    assert (
        "MAX_LENGTH_ADDED",
        "/$ref/properties/name/maxLength",
        "/name",
        Direction.BACKWARD,
    ) in rules
    assert all(rule == "MAX_LENGTH_ADDED" for rule, *_ in rules)


def test_ref_cycle_without_constraint_is_never_compatible() -> None:
    looping = {
        "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
        "$ref": "#/$defs/a",
    }
    assert {rule for rule, *_ in found(STR, looping)} == {"REF_UNRESOLVABLE"}


def test_dangling_ref_is_never_compatible() -> None:
    new = closed({"a": {"$ref": "#/$defs/missing"}})
    assert found(closed({"a": STR}), new) == {
        ("REF_UNRESOLVABLE", "/properties/a", "/a", Direction.BACKWARD),
        ("REF_UNRESOLVABLE", "/properties/a", "/a", Direction.FORWARD),
    }


def test_remote_refs_compare_by_text() -> None:
    remote = closed({"a": {"$ref": "https://example.org/a.json"}})
    other = closed({"a": {"$ref": "https://example.org/b.json"}})
    assert found(remote, remote) == set()
    assert {rule for rule, *_ in found(remote, other)} == {"REF_CHANGED"}


def test_all_of_extension_equals_the_flat_schema() -> None:
    base = {"type": "object", "properties": {"id": STR}, "required": ["id"]}
    extended = {
        "$defs": {"base": base},
        "allOf": [{"$ref": "#/$defs/base"}, {"properties": {"note": STR}}],
    }
    flat = {"type": "object", "properties": {"id": STR, "note": STR}, "required": ["id"]}
    assert found(flat, extended) == set()
    assert found(extended, flat) == set()


def test_all_of_bounds_merge_to_the_tighter_ones() -> None:
    parts = {
        "allOf": [
            {"type": "string", "minLength": 1, "maxLength": 9},
            {"minLength": 3, "maxLength": 5},
            {"type": ["string", "null"]},
        ]
    }
    flat = {"type": "string", "minLength": 3, "maxLength": 5}
    assert found(flat, parts) == set()
    assert found(parts, {**flat, "minLength": 2}) == {
        ("MIN_LENGTH_DECREASED", "/minLength", "", Direction.FORWARD)
    }


def test_all_of_part_that_cannot_be_merged_is_reported() -> None:
    new = {"type": "string", "allOf": [{"pattern": "^a"}, {"pattern": "b$"}]}
    assert found(STR, new) == {
        ("PRODUCT_TYPE_EXTENDED", "/allOf/0", "", Direction.BACKWARD),
        ("PRODUCT_TYPE_EXTENDED", "/allOf/1", "", Direction.BACKWARD),
    }


def test_nullable_through_any_of_only_breaks_forward() -> None:
    new = {"anyOf": [STR, {"type": "null"}]}
    assert found(STR, new) == {("SUM_TYPE_EXTENDED", "/anyOf/1", "", Direction.FORWARD)}


def test_type_array_equals_any_of_by_type() -> None:
    as_array = {"type": ["string", "null"]}
    as_union = {"anyOf": [STR, {"type": "null"}]}
    assert found(as_array, as_union) == set()
    assert found(as_union, as_array) == set()


def test_any_of_branch_removed_breaks_backward() -> None:
    old = {"anyOf": [STR, INT, {"type": "null"}]}
    new = {"anyOf": [STR, {"type": "null"}]}
    assert found(old, new) == {("SUM_TYPE_NARROWED", "/anyOf/1", "", Direction.BACKWARD)}


def test_any_of_reordered_is_compatible() -> None:
    old = {"anyOf": [STR, INT]}
    assert found(old, {"anyOf": [INT, STR]}) == set()
    assert found({"oneOf": [STR, INT]}, {"anyOf": [INT, STR]}) == set()


def test_change_inside_a_branch_is_reported_in_detail() -> None:
    old = {"anyOf": [{**STR, "maxLength": 10}, {"type": "null"}]}
    new = {"anyOf": [{**STR, "maxLength": 5}, {"type": "null"}]}
    assert found(old, new) == {
        ("MAX_LENGTH_DECREASED", "/anyOf/0/maxLength", "", Direction.BACKWARD)
    }


def test_one_of_branches_get_sibling_keywords() -> None:
    old = {
        "type": "object",
        "properties": {"a": STR, "b": STR},
        "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
    }
    new = {"type": "object", "properties": {"a": STR, "b": STR}, "oneOf": [{"required": ["a"]}]}
    assert found(old, new) == {("SUM_TYPE_NARROWED", "/oneOf/1", "", Direction.BACKWARD)}


def test_unchanged_condition_compares_branches() -> None:
    def conditional(then: Schema) -> Schema:
        return {
            "type": "object",
            "properties": {"status": STR, "returned_at": STR},
            "if": {"properties": {"status": {"const": "returned"}}},
            "then": then,
        }

    old, new = conditional({"required": []}), conditional({"required": ["returned_at"]})
    assert found(old, new) == {
        ("REQUIRED_PROPERTY_ADDED", "/then/required", "/returned_at", Direction.BACKWARD)
    }


def test_changed_condition_breaks_both_ways() -> None:
    old = {"if": {"const": 1}, "then": {"type": "integer"}}
    new = {"if": {"const": 2}, "then": {"type": "integer"}}
    assert {(rule, d) for rule, _, _, d in found(old, new)} == {
        ("CONDITIONAL_CHANGED", Direction.BACKWARD),
        ("CONDITIONAL_CHANGED", Direction.FORWARD),
    }


def test_pattern_properties_are_compared_per_pattern() -> None:
    old = {"type": "object", "patternProperties": {"^x_": STR}}
    new = {"type": "object", "patternProperties": {"^x_": {**STR, "maxLength": 8}}}
    assert found(old, new) == {
        ("MAX_LENGTH_ADDED", "/patternProperties/^x_/maxLength", "/*", Direction.BACKWARD)
    }


def test_dependent_schemas_added_breaks_backward() -> None:
    old = {"type": "object", "properties": {"a": STR, "b": STR}}
    new = {**old, "dependentSchemas": {"a": {"required": ["b"]}}}
    assert found(old, new) == {
        ("REQUIRED_PROPERTY_ADDED", "/dependentSchemas/a/required", "/b", Direction.BACKWARD)
    }


def test_array_of_objects_reports_item_paths() -> None:
    old = {"type": "array", "items": closed({"code": STR, "name": STR})}
    new = {"type": "array", "items": closed({"code": STR})}
    assert found(old, new) == {
        (
            "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
            "/items/properties/name",
            "/*/name",
            Direction.BACKWARD,
        )
    }


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            {"type": "array", "prefixItems": [STR], "items": False},
            {"type": "array", "prefixItems": [STR, INT], "items": False},
            {("ITEM_ADDED_TO_CLOSED_CONTENT_MODEL", "/prefixItems/1", "/1", Direction.FORWARD)},
        ),
        (
            {"type": "array", "prefixItems": [STR]},
            {"type": "array", "prefixItems": [STR, INT]},
            {("ITEM_ADDED_TO_OPEN_CONTENT_MODEL", "/prefixItems/1", "/1", Direction.BACKWARD)},
        ),
        (
            {"type": "array", "prefixItems": [STR, INT], "items": False},
            {"type": "array", "prefixItems": [STR], "items": False},
            {("ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL", "/items", "/1", Direction.BACKWARD)},
        ),
        (
            {"type": "array", "prefixItems": [STR], "items": INT},
            {"type": "array", "prefixItems": [STR, INT], "items": INT},
            set(),
        ),
        (
            {"type": "array", "items": STR},
            {"type": "array", "items": STR, "uniqueItems": True, "minItems": 1},
            {
                ("UNIQUE_ITEMS_ADDED", "/uniqueItems", "", Direction.BACKWARD),
                ("MIN_ITEMS_ADDED", "/minItems", "", Direction.BACKWARD),
            },
        ),
        (
            {"type": "array", "maxItems": 3},
            {"type": "array", "maxItems": 5},
            {("MAX_ITEMS_INCREASED", "/maxItems", "", Direction.FORWARD)},
        ),
        (
            {"type": "array"},
            {"type": "array", "contains": STR},
            {("CONTAINS_ADDED", "/contains", "/*", Direction.BACKWARD)},
        ),
    ],
    ids=[
        "item added to closed tuple",
        "item added to open tuple",
        "item removed from closed tuple",
        "item added, covered by items",
        "unique and min items added",
        "max items increased",
        "contains added",
    ],
)
def test_arrays(old: Schema, new: Schema, expected: set[tuple[str, str, str, Direction]]) -> None:
    assert found(old, new) == expected


def test_boolean_schemas() -> None:
    assert found(True, {"type": "object"}) == {("TYPE_NARROWED", "/type", "", Direction.BACKWARD)}
    assert found(STR, False) == {("FALSE_SCHEMA_ADDED", "", "", Direction.BACKWARD)}
    assert found(False, STR) == {("FALSE_SCHEMA_REMOVED", "", "", Direction.FORWARD)}
    assert found(True, {}) == set()

"""Canonical form, fingerprint and meta-validation of contract schemas."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from lgsp_registry.domain.normalize import canonical_json, canonicalize, check_schema, fingerprint

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Hồ sơ thủ tục hành chính (administrative dossier)",
    "type": "object",
    "properties": {
        "dossier_id": {"type": "string", "minLength": 1},
        "channel": {"enum": ["online", "paper"]},
        "paid_online": {"type": "boolean"},
    },
    "required": ["dossier_id", "channel", "paid_online"],
    "additionalProperties": False,
}


def test_canonical_json_sorts_keys_and_drops_whitespace() -> None:
    assert (
        canonical_json({"b": [1, {"d": 1, "c": 2}], "a": "x"}) == '{"a":"x","b":[1,{"c":2,"d":1}]}'
    )


def test_canonical_json_keeps_vietnamese_text_unescaped() -> None:
    assert canonical_json({"title": "Sở Tài chính"}) == '{"title":"Sở Tài chính"}'


def test_integral_floats_are_spelled_as_integers() -> None:
    assert canonicalize({"minimum": 1.0, "maximum": -0.0, "multipleOf": 0.5}) == {
        "maximum": 0,
        "minimum": 1,
        "multipleOf": 0.5,
    }
    assert fingerprint({"minimum": 1.0}) == fingerprint({"minimum": 1})


def test_booleans_are_not_numbers() -> None:
    assert fingerprint({"const": True}) != fingerprint({"const": 1})


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_rejected(value: float) -> None:
    with pytest.raises(ValueError, match="not a JSON number"):
        canonical_json({"maximum": value})


def test_fingerprint_ignores_formatting_and_key_order() -> None:
    reordered = json.loads(json.dumps(dict(reversed(list(SCHEMA.items()))), indent=4))
    assert fingerprint(reordered) == fingerprint(SCHEMA)
    assert len(fingerprint(SCHEMA)) == 64
    int(fingerprint(SCHEMA), 16)


def test_fingerprint_keeps_descriptions() -> None:
    edited = {**SCHEMA, "title": "Dossier"}
    assert fingerprint(edited) != fingerprint(SCHEMA)


def test_fingerprint_sees_list_order() -> None:
    assert fingerprint({"enum": ["a", "b"]}) != fingerprint({"enum": ["b", "a"]})


def test_valid_contract_has_no_problem() -> None:
    assert check_schema(SCHEMA) == []
    assert check_schema(True) == []


def problems(schema: Any) -> set[tuple[str, str]]:
    return {(problem.pointer, problem.message) for problem in check_schema(schema)}


def test_meta_validation_reports_every_problem_with_its_pointer() -> None:
    bad = {
        "type": "object",
        "properties": {"a": {"type": "strin"}, "b": {"minLength": -1}},
        "required": "a",
    }
    pointers = {pointer for pointer, _ in problems(bad)}
    assert pointers == {"/properties/a/type", "/properties/b/minLength", "/required"}


def test_invalid_regex_is_reported() -> None:
    assert {pointer for pointer, _ in problems({"type": "string", "pattern": "(unclosed"})} == {
        "/pattern"
    }


def test_other_dialects_are_refused() -> None:
    found = problems({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"})
    assert [pointer for pointer, _ in found] == ["/$schema"]


def test_non_object_document_is_refused() -> None:
    assert problems([1, 2]) == {("", "a schema must be a JSON object or a boolean")}


def test_nan_is_refused() -> None:
    assert {pointer for pointer, _ in problems({"maximum": math.nan})} == {"/maximum"}


@pytest.mark.parametrize(
    ("schema", "pointer", "fragment"),
    [
        (
            {"properties": {"a": {"$ref": "#/$defs/missing"}}},
            "/properties/a/$ref",
            "does not resolve",
        ),
        ({"$ref": "https://example.org/other.json"}, "/$ref", "not local"),
        ({"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}, "/$ref", "cycle"),
        ({"$ref": "#nowhere"}, "/$ref", "anchor"),
        ({"$dynamicRef": "#meta"}, "/$dynamicRef", "not supported"),
    ],
    ids=["dangling", "remote", "cycle", "unknown anchor", "dynamic"],
)
def test_reference_problems(schema: dict[str, Any], pointer: str, fragment: str) -> None:
    found = problems(schema)
    assert any(p == pointer and fragment in message for p, message in found), found


def test_local_references_resolve() -> None:
    schema = {
        "$id": "https://lgsp.example/contracts/tthc.dossier/1",
        "$defs": {"code": {"$anchor": "code", "type": "string"}, "a~b/c": {"type": "integer"}},
        "properties": {
            "x": {"$ref": "#/$defs/code"},
            "y": {"$ref": "#code"},
            "z": {"$ref": "#/$defs/a~0b~1c"},
            "w": {"$ref": "https://lgsp.example/contracts/tthc.dossier/1#/$defs/code"},
        },
    }
    assert check_schema(schema) == []

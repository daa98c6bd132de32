"""Property tests: reflexivity, duality, stability of the fingerprint and soundness on real data.

Soundness is checked against an actual validator: whenever a value is valid under the old schema
and invalid under the new one, the engine must have reported a BACKWARD break (and the mirror
for FORWARD). Generated schemas use the keywords whose comparison is exact or conservative
(not `oneOf`, whose exclusivity is not checked, nor `patternProperties`, `pattern` or `format`).
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from lgsp_registry.domain.compatibility import (
    CompatibilityMode,
    CompatibilityPolicy,
    Direction,
    check,
)
from lgsp_registry.domain.normalize import canonical_json, canonicalize, fingerprint
from lgsp_registry.domain.schema_diff import diff_schemas
from lgsp_registry.domain.schema_walk import iter_subschemas

NAMES = ["a", "b", "c"]
TYPE_NAMES = ["null", "boolean", "object", "array", "string", "integer", "number"]
SMALL_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.text("ab", max_size=2))

LEAVES = st.one_of(
    st.booleans(),
    st.just({}),
    st.fixed_dictionaries(
        {"type": st.just("string")},
        optional={"minLength": st.integers(0, 2), "maxLength": st.integers(0, 3)},
    ),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["integer", "number"])},
        optional={
            "minimum": st.integers(-2, 2),
            "exclusiveMinimum": st.integers(-2, 2),
            "maximum": st.sampled_from([-1, 0, 1.5, 3]),
            "exclusiveMaximum": st.integers(-1, 3),
            "multipleOf": st.sampled_from([1, 2, 3, 0.5]),
        },
    ),
    st.fixed_dictionaries(
        {"enum": st.lists(SMALL_VALUES, min_size=1, max_size=3, unique_by=canonical_json)}
    ),
    st.fixed_dictionaries({"const": SMALL_VALUES}),
    st.fixed_dictionaries(
        {"type": st.lists(st.sampled_from(TYPE_NAMES), min_size=1, max_size=3, unique=True)}
    ),
)


def _compound(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.fixed_dictionaries(
            {
                "type": st.just("object"),
                "properties": st.dictionaries(st.sampled_from(NAMES), children, max_size=3),
            },
            optional={
                "required": st.lists(st.sampled_from(NAMES), max_size=2, unique=True),
                "additionalProperties": st.one_of(st.booleans(), children),
                "dependentRequired": st.dictionaries(
                    st.sampled_from(NAMES),
                    st.lists(st.sampled_from(NAMES), max_size=2, unique=True),
                    max_size=1,
                ),
            },
        ),
        st.fixed_dictionaries(
            {"type": st.just("array")},
            optional={
                "items": children,
                "prefixItems": st.lists(children, min_size=1, max_size=2),
                "minItems": st.integers(0, 2),
                "maxItems": st.integers(1, 3),
                "uniqueItems": st.booleans(),
            },
        ),
        st.fixed_dictionaries({"anyOf": st.lists(children, min_size=1, max_size=3)}),
        st.fixed_dictionaries({"not": children}),
        st.fixed_dictionaries({"allOf": st.lists(children, min_size=1, max_size=2)}),
    )


SCHEMAS = st.recursive(LEAVES, _compound, max_leaves=8)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.5, -1.5, 2.0]),
    st.text("ab", max_size=3),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from([*NAMES, "d"]), children, max_size=3),
    ),
    max_leaves=6,
)
PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def shuffled(value: Any, rng: random.Random) -> Any:
    """Return a copy with every object's keys in a random order."""
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {key: shuffled(value[key], rng) for key in keys}
    if isinstance(value, list):
        return [shuffled(item, rng) for item in value]
    return value


def replaced(schema: Any, path: tuple[str, ...], new: Any) -> Any:
    """Return a copy of a schema with the subschema at `path` replaced."""
    if not path:
        return new
    result = copy.deepcopy(schema)
    node = result
    for token in path[:-1]:
        node = node[int(token)] if isinstance(node, list) else node[token]
    if isinstance(node, list):
        node[int(path[-1])] = new
    else:
        node[path[-1]] = new
    return result


TWEAKS: dict[str, st.SearchStrategy[Any]] = {
    "type": st.sampled_from(TYPE_NAMES),
    "enum": st.lists(SMALL_VALUES, min_size=1, max_size=3, unique_by=canonical_json),
    "minLength": st.integers(0, 3),
    "maxLength": st.integers(0, 3),
    "minimum": st.integers(-2, 2),
    "maximum": st.integers(-2, 2),
    "exclusiveMinimum": st.integers(-2, 2),
    "exclusiveMaximum": st.integers(-2, 2),
    "multipleOf": st.sampled_from([1, 2, 3, 0.5]),
    "minItems": st.integers(0, 2),
    "maxItems": st.integers(0, 2),
    "uniqueItems": st.booleans(),
    "required": st.lists(st.sampled_from(NAMES), max_size=2, unique=True),
    "additionalProperties": st.booleans(),
}


@st.composite
def replaced_pairs(draw: st.DrawFn) -> tuple[Any, Any]:
    """Draw an old schema and a new one with one subschema replaced by another."""
    old = draw(SCHEMAS)
    path = draw(st.sampled_from([path for path, _ in iter_subschemas(old)]))
    return old, replaced(old, path, draw(SCHEMAS))


@st.composite
def tweaked_pairs(draw: st.DrawFn, schemas: st.SearchStrategy[Any] = SCHEMAS) -> tuple[Any, Any]:
    """Draw an old schema and a new one with one keyword of one subschema set or removed."""
    old = draw(schemas)
    objects = [(path, node) for path, node in iter_subschemas(old) if isinstance(node, dict)]
    if not objects:
        objects = [((), {})]
    path, node = draw(st.sampled_from(objects))
    tweaked = dict(node)
    present = sorted(TWEAKS.keys() & tweaked.keys())
    # Changing a keyword the schema already has is what exercises "increased"/"decreased".
    prefer_present = bool(present) and draw(st.booleans())
    keyword = draw(st.sampled_from(present if prefer_present else sorted(TWEAKS)))
    if keyword in tweaked and draw(st.integers(0, 3)) == 0:
        del tweaked[keyword]
    else:
        tweaked[keyword] = draw(TWEAKS[keyword])
    return (old if path else node), replaced(old, path, tweaked)


schema_pairs = st.one_of(replaced_pairs(), tweaked_pairs())


@PROPERTY_SETTINGS
@given(SCHEMAS, st.sampled_from(list(CompatibilityPolicy)))
def test_every_schema_is_compatible_with_itself(schema: Any, policy: CompatibilityPolicy) -> None:
    assert diff_schemas(schema, schema, policy) == []


@PROPERTY_SETTINGS
@given(SCHEMAS, st.randoms(use_true_random=False))
def test_every_schema_is_fully_compatible_with_its_normal_form(
    schema: Any, rng: random.Random
) -> None:
    normal = canonicalize(shuffled(schema, rng))
    assert check(normal, [(1, schema)], CompatibilityMode.FULL_TRANSITIVE).compatible
    assert check(schema, [(1, normal)], CompatibilityMode.FULL_TRANSITIVE).compatible


@PROPERTY_SETTINGS
@given(SCHEMAS, st.randoms(use_true_random=False))
def test_fingerprint_is_stable_under_key_order_and_formatting(
    schema: Any, rng: random.Random
) -> None:
    reordered = json.loads(json.dumps(shuffled(schema, rng), indent=2))
    assert fingerprint(reordered) == fingerprint(schema)
    assert fingerprint(canonicalize(schema)) == fingerprint(schema)


@PROPERTY_SETTINGS
@given(schema_pairs, st.sampled_from(list(CompatibilityPolicy)))
def test_backward_one_way_is_forward_the_other_way(
    pair: tuple[Any, Any], policy: CompatibilityPolicy
) -> None:
    old, new = pair
    there = diff_schemas(old, new, policy)
    back = diff_schemas(new, old, policy)
    assert any(Direction.BACKWARD in f.breaks for f in there) == any(
        Direction.FORWARD in f.breaks for f in back
    )
    assert any(Direction.FORWARD in f.breaks for f in there) == any(
        Direction.BACKWARD in f.breaks for f in back
    )


@PROPERTY_SETTINGS
@given(schema_pairs, st.lists(VALUES, min_size=1, max_size=12))
def test_verdicts_are_sound_on_real_data(pair: tuple[Any, Any], values: list[Any]) -> None:
    old, new = pair
    findings = diff_schemas(old, new, CompatibilityPolicy.STRICT)
    backward_ok = not any(Direction.BACKWARD in f.breaks for f in findings)
    forward_ok = not any(Direction.FORWARD in f.breaks for f in findings)
    old_validator, new_validator = Draft202012Validator(old), Draft202012Validator(new)
    for value in values:
        old_valid, new_valid = old_validator.is_valid(value), new_validator.is_valid(value)
        if backward_ok:
            assert new_valid or not old_valid, f"{value!r} passed the old schema, not the new one"
        if forward_ok:
            assert old_valid or not new_valid, f"{value!r} passed the new schema, not the old one"


@PROPERTY_SETTINGS
@given(tweaked_pairs(LEAVES), st.lists(SCALARS, min_size=1, max_size=12))
def test_scalar_keyword_verdicts_are_sound_on_real_data(
    pair: tuple[Any, Any], values: list[Any]
) -> None:
    test_verdicts_are_sound_on_real_data.hypothesis.inner_test(pair, values)  # type: ignore[attr-defined]

"""Facts read off one schema object: accepted types, allowed values, bounds, content model.

Types are tracked as sets over ``null``, ``boolean``, ``object``, ``array``, ``string``,
``integer`` and ``fraction`` (a number that is not an integer), so that ``number`` is
``{integer, fraction}`` and "integer is a subset of number" falls out of plain set inclusion.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from lgsp_registry.domain.normalize import canonical_json
from lgsp_registry.domain.schema_walk import VALIDATION_KEYWORDS

NUMERIC: frozenset[str] = frozenset({"integer", "fraction"})
ALL_TYPES: frozenset[str] = frozenset(
    {"null", "boolean", "object", "array", "string", "integer", "fraction"}
)
_TYPE_NAMES: dict[str, frozenset[str]] = {
    "null": frozenset({"null"}),
    "boolean": frozenset({"boolean"}),
    "object": frozenset({"object"}),
    "array": frozenset({"array"}),
    "string": frozenset({"string"}),
    "integer": frozenset({"integer"}),
    "number": NUMERIC,
}


def json_type(value: Any) -> str:
    """Return the JSON type of a value, telling integers from fractions."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "fraction"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def declared_types(node: Mapping[str, Any]) -> frozenset[str]:
    """Return the types the `type` keyword allows (all types when absent)."""
    declared = node.get("type")
    if declared is None:
        return ALL_TYPES
    names = [declared] if isinstance(declared, str) else list(declared)
    result: frozenset[str] = frozenset()
    for name in names:
        result |= _TYPE_NAMES.get(str(name), frozenset())
    return result


def value_set(node: Mapping[str, Any]) -> frozenset[str] | None:
    """Return the canonical JSON of every value `enum`/`const` allow, or None if unrestricted."""
    allowed: frozenset[str] | None = None
    types = declared_types(node)
    if "enum" in node and isinstance(node["enum"], list):
        allowed = frozenset(canonical_json(v) for v in node["enum"] if json_type(v) in types)
    if "const" in node:
        const = node["const"]
        single = frozenset({canonical_json(const)} if json_type(const) in types else set())
        allowed = single if allowed is None else allowed & single
    return allowed


def type_set(node: Mapping[str, Any]) -> frozenset[str]:
    """Return the types a schema object can accept, narrowed by `enum`/`const` if present."""
    types = declared_types(node)
    values = value_set(node)
    if values is None:
        return types
    return types & frozenset(json_type(json.loads(value)) for value in values)


def describe_types(types: frozenset[str]) -> str:
    """Render a type set for a message, e.g. `integer`, `number or null`, `any type`."""
    if types == ALL_TYPES:
        return "any type"
    if not types:
        return "no type"
    names = sorted(types - NUMERIC)
    if types >= NUMERIC:
        names.append("number")
    elif "integer" in types:
        names.append("integer")
    elif "fraction" in types:
        names.append("non-integer number")
    return " or ".join(sorted(names))


def is_trivially_true(node: Any) -> bool:
    """Tell whether a raw schema accepts every value on its face (`true`, `{}`, `not: false`)."""
    if isinstance(node, bool):
        return node
    if not isinstance(node, Mapping):
        return False
    keys = [key for key in node if key in VALIDATION_KEYWORDS]
    return not keys or (keys == ["not"] and is_false(node["not"]))


def is_false(node: Any) -> bool:
    """Tell whether a raw schema rejects every value on its face (`false`, `{"not": {}}`)."""
    if isinstance(node, bool):
        return not node
    if not isinstance(node, Mapping):
        return False
    keys = [key for key in node if key in VALIDATION_KEYWORDS]
    return keys == ["not"] and is_trivially_true(node["not"])


def as_fraction(number: Any) -> Fraction:
    """Return a JSON number as an exact fraction (0.1 stays one tenth)."""
    if isinstance(number, float):
        return Fraction(repr(number))
    return Fraction(int(number))


@dataclass(frozen=True)
class Bound:
    """One effective numeric bound: its value, whether it is exclusive, and its keyword."""

    value: Fraction
    exclusive: bool
    keyword: str


def _number(node: Mapping[str, Any], key: str) -> Fraction | None:
    value = node.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return as_fraction(value)


def lower_bound(node: Mapping[str, Any]) -> Bound | None:
    """Return the tighter of `minimum` and `exclusiveMinimum`, if any."""
    inclusive, exclusive = _number(node, "minimum"), _number(node, "exclusiveMinimum")
    if exclusive is not None and (inclusive is None or exclusive >= inclusive):
        return Bound(exclusive, True, "exclusiveMinimum")
    return None if inclusive is None else Bound(inclusive, False, "minimum")


def upper_bound(node: Mapping[str, Any]) -> Bound | None:
    """Return the tighter of `maximum` and `exclusiveMaximum`, if any."""
    inclusive, exclusive = _number(node, "maximum"), _number(node, "exclusiveMaximum")
    if exclusive is not None and (inclusive is None or exclusive <= inclusive):
        return Bound(exclusive, True, "exclusiveMaximum")
    return None if inclusive is None else Bound(inclusive, False, "maximum")


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def pattern_matches(pattern: str, name: str) -> bool:
    """Tell whether a JSON Schema pattern (unanchored, as in ECMA-262) matches a name."""
    compiled = _compiled(pattern)
    return compiled is not None and compiled.search(name) is not None


def fallback_for_name(node: Mapping[str, Any], name: str) -> Any:
    """Return the raw schema an object applies to a property it does not list in `properties`."""
    patterns = node.get("patternProperties")
    if isinstance(patterns, Mapping):
        matched = [schema for pattern, schema in patterns.items() if pattern_matches(pattern, name)]
        if len(matched) == 1:
            return matched[0]
        if matched:
            return {"allOf": matched}
    return node.get("additionalProperties", True)


def required_names(node: Mapping[str, Any]) -> list[str]:
    """Return the names in `required`, in order, without duplicates."""
    required = node.get("required")
    if not isinstance(required, list):
        return []
    return list(dict.fromkeys(str(name) for name in required))


def properties_of(node: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return the `properties` map of a schema object (empty when absent)."""
    properties = node.get("properties")
    return properties if isinstance(properties, Mapping) else {}

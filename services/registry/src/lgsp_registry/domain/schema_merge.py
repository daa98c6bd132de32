"""Bring a subschema to a comparable shape: follow `$ref`, inline `allOf`, expand unions.

Inlining `allOf` is what lets ``{"allOf": [{"$ref": "#/$defs/base"}, {"properties": ...}]}`` be
compared keyword by keyword with a flat schema. It is done only where it cannot change meaning:
parts are merged when their keywords do not clash, except that `properties` merge by name (a name
in two parts gets both schemas), `required` is the union, `type` the intersection and numeric
bounds the tighter one. Parts that each describe object or array structure while one of them also
closes it (`additionalProperties`, `patternProperties`, `unevaluated*`, tuples) are never merged,
because those keywords only see their own schema object's `properties`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lgsp_registry.domain.normalize import canonical_json
from lgsp_registry.domain.schema_facts import NUMERIC, declared_types, is_false, is_trivially_true
from lgsp_registry.domain.schema_refs import RefError, SchemaDocument
from lgsp_registry.domain.schema_walk import validation_part

Resolved = bool | Mapping[str, Any]

_OBJECT_STRUCT = frozenset(
    {"properties", "patternProperties", "additionalProperties", "unevaluatedProperties"}
)
_OBJECT_CLOSERS = frozenset({"patternProperties", "additionalProperties", "unevaluatedProperties"})
_ARRAY_STRUCT = frozenset({"prefixItems", "items", "unevaluatedItems"})
_TIGHTER_IS_MAX = frozenset(
    {"minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains"}
)
_TIGHTER_IS_MIN = frozenset(
    {"maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains"}
)


class _ConflictError(Exception):
    """Two parts constrain the same keyword in a way this module does not combine."""


def _render_types(types: frozenset[str]) -> list[str]:
    names = sorted(types - NUMERIC)
    if types >= NUMERIC:
        names.append("number")
    elif "integer" in types:
        names.append("integer")
    elif "fraction" in types:
        raise _ConflictError("non-integer numbers only cannot be spelled with `type`")
    if not names:
        raise _ConflictError("no type left")
    return sorted(names)


def _combine(key: str, first: Any, second: Any) -> Any:
    if canonical_json(first) == canonical_json(second):
        return first
    if key == "properties" and isinstance(first, Mapping) and isinstance(second, Mapping):
        merged = dict(first)
        for name, schema in second.items():
            merged[name] = {"allOf": [merged[name], schema]} if name in merged else schema
        return merged
    if key == "required" and isinstance(first, list) and isinstance(second, list):
        return list(dict.fromkeys([*first, *second]))
    if key == "allOf" and isinstance(first, list) and isinstance(second, list):
        return [*first, *second]
    if key == "type":
        return _render_types(declared_types({"type": first}) & declared_types({"type": second}))
    numbers = (int, float)
    if isinstance(first, numbers) and isinstance(second, numbers):
        if key in _TIGHTER_IS_MAX:
            return max(first, second)
        if key in _TIGHTER_IS_MIN:
            return min(first, second)
    if key == "enum" and isinstance(first, list) and isinstance(second, list):
        allowed = {canonical_json(value) for value in second}
        return [value for value in first if canonical_json(value) in allowed]
    raise _ConflictError(key)


def _structure_clash(
    parts: list[dict[str, Any]], struct: frozenset[str], closers: frozenset[str]
) -> bool:
    holders = [part for part in parts if struct & part.keys()]
    return len(holders) > 1 and any(closers & part.keys() for part in holders)


def merge_conjunction(parts: list[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Merge schema objects that must all hold into one, or return None if unsafe."""
    cleaned = [validation_part(part) for part in parts]
    cleaned = [part for part in cleaned if part]
    if len(cleaned) <= 1:
        return cleaned[0] if cleaned else {}
    if _structure_clash(cleaned, _OBJECT_STRUCT, _OBJECT_CLOSERS):
        return None
    if _structure_clash(cleaned, _ARRAY_STRUCT, _ARRAY_STRUCT):
        return None
    merged: dict[str, Any] = {}
    try:
        for part in cleaned:
            for key, value in part.items():
                merged[key] = _combine(key, merged[key], value) if key in merged else value
    except _ConflictError:
        return None
    return merged


def content_kind(resolver: Resolver, raw: Any) -> str:
    """Classify a schema for undeclared names or positions as open, closed or partial."""
    try:
        resolved = resolver.resolve(raw)
    except RefError:
        return "partial"  # comparing it recursively reports the broken reference
    if resolved is True:
        return "open"
    return "closed" if resolved is False else "partial"


class Resolver:
    """Resolve raw subschemas of one document into a comparable shape."""

    def __init__(self, doc: SchemaDocument) -> None:
        self.doc = doc
        self._active: set[int] = set()

    def resolve(self, node: Any) -> Resolved:
        """Follow references, inline `allOf` where safe and reduce trivial schemas to booleans."""
        followed = self.doc.follow_refs(node)
        if isinstance(followed, bool):
            return followed
        if not isinstance(followed, Mapping):
            raise RefError("a subschema must be a JSON object or a boolean")
        if is_false(followed):
            return False
        if is_trivially_true(followed):
            return True
        if not isinstance(followed.get("allOf"), list):
            return followed
        if id(node) in self._active:
            raise RefError("allOf/$ref loop that never reaches a constraint")
        self._active.add(id(node))
        try:
            return self._inline_all_of(followed)
        finally:
            self._active.discard(id(node))

    def _inline_all_of(self, node: Mapping[str, Any]) -> Resolved:
        parts = [self.resolve(member) for member in node["allOf"]]
        if any(part is False for part in parts):
            return False
        rest = {k: v for k, v in validation_part(node).items() if k != "allOf"}
        objects = [part for part in parts if isinstance(part, Mapping)]
        merged = merge_conjunction([rest, *objects])
        if merged is None:
            return {**rest, "allOf": objects}
        if is_trivially_true(merged):
            return True
        return merged

    def alternatives(
        self, node: Mapping[str, Any]
    ) -> tuple[str, list[tuple[int, Resolved]]] | None:
        """Expand `anyOf`/`oneOf` into whole alternatives (siblings merged in), if safe."""
        keywords = [key for key in ("anyOf", "oneOf") if isinstance(node.get(key), list)]
        if len(keywords) != 1:
            return None
        keyword = keywords[0]
        rest = {k: v for k, v in validation_part(node).items() if k != keyword}
        result: list[tuple[int, Resolved]] = []
        for index, branch in enumerate(node[keyword]):
            resolved = self.resolve(branch)
            if resolved is False:
                continue  # a branch that accepts nothing adds nothing to the union
            merged = merge_conjunction([rest] if resolved is True else [rest, resolved])
            if merged is None:
                return None
            result.append((index, True if is_trivially_true(merged) else merged))
        return keyword, result

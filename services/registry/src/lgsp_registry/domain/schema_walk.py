"""Keyword tables of JSON Schema 2020-12 and a walk over every subschema of a document."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

# Keywords whose value is one subschema.
SINGLE_SCHEMA_KEYWORDS: frozenset[str] = frozenset(
    {
        "additionalProperties",
        "unevaluatedProperties",
        "propertyNames",
        "items",
        "contains",
        "unevaluatedItems",
        "not",
        "if",
        "then",
        "else",
        "contentSchema",
    }
)
# Keywords whose value is a list of subschemas.
LIST_SCHEMA_KEYWORDS: frozenset[str] = frozenset({"prefixItems", "allOf", "anyOf", "oneOf"})
# Keywords whose value maps names to subschemas.
MAP_SCHEMA_KEYWORDS: frozenset[str] = frozenset(
    {"properties", "patternProperties", "dependentSchemas", "$defs", "definitions"}
)

# Keywords that can make a value invalid. Everything else (title, description, default,
# examples, $comment, $id, $schema, $anchor, $defs, content*, deprecated, readOnly, writeOnly,
# unknown x-* keys) is an annotation or a container and never changes what validates.
# `format` is listed because the platform validates formats as assertions.
VALIDATION_KEYWORDS: frozenset[str] = frozenset(
    {
        "type",
        "enum",
        "const",
        "multipleOf",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "format",
        "maxItems",
        "minItems",
        "uniqueItems",
        "maxContains",
        "minContains",
        "contains",
        "prefixItems",
        "items",
        "unevaluatedItems",
        "maxProperties",
        "minProperties",
        "required",
        "dependentRequired",
        "properties",
        "patternProperties",
        "additionalProperties",
        "unevaluatedProperties",
        "propertyNames",
        "dependentSchemas",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "if",
        "then",
        "else",
        "$ref",
        "$dynamicRef",
    }
)


def validation_part(node: Mapping[str, Any]) -> dict[str, Any]:
    """Return only the keywords of a schema object that take part in validation."""
    return {key: value for key, value in node.items() if key in VALIDATION_KEYWORDS}


def iter_subschemas(
    node: Any, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Mapping[str, Any] | bool]]:
    """Yield (path tokens, schema) for a schema and every subschema nested in it."""
    if isinstance(node, bool):
        yield path, node
        return
    if not isinstance(node, Mapping):
        return
    yield path, node
    for key, value in node.items():
        if key in SINGLE_SCHEMA_KEYWORDS:
            yield from iter_subschemas(value, (*path, key))
        elif key in LIST_SCHEMA_KEYWORDS and isinstance(value, list):
            for index, item in enumerate(value):
                yield from iter_subschemas(item, (*path, key, str(index)))
        elif key in MAP_SCHEMA_KEYWORDS and isinstance(value, Mapping):
            for name, item in value.items():
                yield from iter_subschemas(item, (*path, key, str(name)))

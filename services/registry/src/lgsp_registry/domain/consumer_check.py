"""Consumer-aware check: does a new schema break a field some registered consumer reads?

A consumer declares the fields it reads as JSON Pointers into the event payload (``/amount_vnd``,
``/address/commune_code``; ``*`` or an index for array items). Against the latest previous
version, a field is broken for that consumer when the new schema:

- no longer declares it, or no longer allows it at all (``CONSUMER_FIELD_REMOVED``);
- lets it carry a type it could not carry before, e.g. integer to number or adding null
  (``CONSUMER_FIELD_RETYPED``); narrowing the type is harmless to a reader;
- no longer guarantees it: it was present in every event (required at every level of its path)
  and now may be missing (``CONSUMER_FIELD_OPTIONAL``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from lgsp_registry.domain.json_pointer import parse_pointer, to_pointer
from lgsp_registry.domain.reasons import Reason
from lgsp_registry.domain.schema_facts import (
    ALL_TYPES,
    describe_types,
    fallback_for_name,
    properties_of,
    required_names,
    type_set,
)
from lgsp_registry.domain.schema_merge import Resolver, content_kind
from lgsp_registry.domain.schema_refs import RefError, SchemaDocument

Schema = Mapping[str, Any] | bool
Presence = Literal["declared", "undeclared", "forbidden"]


class ConsumerFields(BaseModel):
    """A registered consumer and the payload fields it reads."""

    model_config = ConfigDict(frozen=True)

    consumer_id: str
    name: str
    fields: list[str]

    @field_validator("fields")
    @classmethod
    def _pointers(cls, fields: list[str]) -> list[str]:
        for field in fields:
            if field and not field.startswith("/"):
                raise ValueError(f"field {field!r} is not a JSON Pointer (it must start with '/')")
        return fields


@dataclass(frozen=True)
class FieldView:
    """What a schema says about one payload field."""

    presence: Presence
    always_present: bool
    types: frozenset[str]
    schema_path: tuple[str, ...]


def _forbidden(path: tuple[str, ...]) -> FieldView:
    return FieldView("forbidden", False, frozenset(), path)


def _union(views: list[FieldView], path: tuple[str, ...]) -> FieldView:
    """Combine the views of alternatives: the field is where any alternative puts it."""
    present = [view for view in views if view.presence != "forbidden"]
    if not present:
        return _forbidden(path)
    declared = [view for view in present if view.presence == "declared"]
    types: frozenset[str] = frozenset()
    for view in present:
        types |= view.types
    always = len(present) == len(views) and all(view.always_present for view in views)
    chosen = declared[0] if declared else present[0]
    return FieldView(chosen.presence, always, types, chosen.schema_path)


def _conjunction(views: list[FieldView], path: tuple[str, ...]) -> FieldView:
    """Combine the views of allOf parts: every part must allow the field."""
    if any(view.presence == "forbidden" for view in views):
        return _forbidden(path)
    declared = [view for view in views if view.presence == "declared"]
    if not declared:
        return FieldView("undeclared", False, ALL_TYPES, path)
    types = ALL_TYPES
    for view in declared:
        types &= view.types
    always = any(view.always_present for view in views)
    return FieldView("declared", always, types, declared[0].schema_path)


class _Locator:
    def __init__(self, resolver: Resolver) -> None:
        self._resolver = resolver

    def locate(
        self, node: Any, tokens: Sequence[str], path: tuple[str, ...], always: bool
    ) -> FieldView:
        try:
            resolved = self._resolver.resolve(node)
        except RefError:
            return FieldView("undeclared", False, ALL_TYPES, path)
        if resolved is False:
            return _forbidden(path)
        if resolved is True:
            if not tokens:
                return FieldView("declared", always, ALL_TYPES, path)
            return FieldView("undeclared", False, ALL_TYPES, path)
        combined = self._combinators(resolved, tokens, path, always)
        if combined is not None:
            return combined
        if not tokens:
            return FieldView("declared", always, type_set(resolved), path)
        return self._step(resolved, tokens, path, always)

    def _combinators(
        self, node: Mapping[str, Any], tokens: Sequence[str], path: tuple[str, ...], always: bool
    ) -> FieldView | None:
        if isinstance(node.get("anyOf"), list) or isinstance(node.get("oneOf"), list):
            expansion = self._resolver.alternatives(node)
            if expansion is not None:
                keyword, items = expansion
                views = [
                    self.locate(alt, tokens, (*path, keyword, str(i)), always) for i, alt in items
                ]
                return _union(views, path)
        if isinstance(node.get("allOf"), list):
            rest = {key: value for key, value in node.items() if key != "allOf"}
            parts = [self.locate(rest, tokens, path, always)]
            for index, member in enumerate(node["allOf"]):
                parts.append(self.locate(member, tokens, (*path, "allOf", str(index)), always))
            return _conjunction(parts, path)
        return None

    def _step(
        self, node: Mapping[str, Any], tokens: Sequence[str], path: tuple[str, ...], always: bool
    ) -> FieldView:
        token, rest = tokens[0], tokens[1:]
        types = type_set(node)
        if "array" in types and (token.isdigit() or token in ("*", "-")):
            prefix = node.get("prefixItems") if isinstance(node.get("prefixItems"), list) else []
            assert isinstance(prefix, list)
            if token.isdigit() and int(token) < len(prefix):
                child, child_path = prefix[int(token)], (*path, "prefixItems", token)
            else:
                child, child_path = node.get("items", True), (*path, "items")
            min_items = node.get("minItems", 0)
            guaranteed = token.isdigit() and isinstance(min_items, int) and min_items > int(token)
            return self.locate(
                child, rest, child_path, always and guaranteed and types == {"array"}
            )
        if "object" not in types:
            return _forbidden(path)
        required = always and token in required_names(node) and types == {"object"}
        properties = properties_of(node)
        if token in properties:
            return self.locate(properties[token], rest, (*path, "properties", token), required)
        fallback = fallback_for_name(node, token)
        kind = content_kind(self._resolver, fallback)
        if kind == "closed":
            return _forbidden((*path, "additionalProperties"))
        if kind == "open":
            return FieldView("undeclared", False, ALL_TYPES, (*path, "additionalProperties"))
        return self.locate(fallback, rest, (*path, "additionalProperties"), required)


def locate_field(schema: Schema, pointer: str) -> FieldView:
    """Describe what a schema says about the payload field at a JSON Pointer."""
    locator = _Locator(Resolver(SchemaDocument(schema)))
    return locator.locate(schema, parse_pointer(pointer), (), True)


def _field_reasons(
    consumer: ConsumerFields,
    field: str,
    before: FieldView | None,
    after: FieldView,
    version: int | None,
) -> list[Reason]:
    who = f"Consumer {consumer.name!r} ({consumer.consumer_id}) reads {field!r}"

    def reason(rule: str, message: str) -> Reason:
        return Reason(
            pointer=to_pointer(after.schema_path),
            data_path=field,
            rule=rule,
            message=message,
            version=version,
            consumer_id=consumer.consumer_id,
        )

    if after.presence != "declared":
        if after.presence == "forbidden":
            what = "no longer allows"
        else:
            was_declared = before is not None and before.presence == "declared"
            what = "no longer declares" if was_declared else "does not declare"
        return [reason("CONSUMER_FIELD_REMOVED", f"{who}, which the new schema {what}.")]
    if before is None or before.presence != "declared":
        return []
    reasons: list[Reason] = []
    if after.types - before.types:
        change = f"from {describe_types(before.types)} to {describe_types(after.types)}"
        reasons.append(reason("CONSUMER_FIELD_RETYPED", f"{who}, whose type changes {change}."))
    if before.always_present and not after.always_present:
        message = f"{who}, which every event carried and which the new schema makes optional."
        reasons.append(reason("CONSUMER_FIELD_OPTIONAL", message))
    return reasons


def check_consumers(
    new_schema: Schema,
    consumers: Sequence[ConsumerFields],
    *,
    previous: tuple[int, Schema] | None,
) -> list[Reason]:
    """List the fields of registered consumers that a new schema breaks (vs the latest version)."""
    reasons: list[Reason] = []
    for consumer in consumers:
        for field in consumer.fields:
            after = locate_field(new_schema, field)
            before = locate_field(previous[1], field) if previous is not None else None
            version = previous[0] if previous is not None else None
            reasons += _field_reasons(consumer, field, before, after, version)
    return reasons

"""Comparison of array keywords: prefixItems, items, counts, uniqueness and contains.

Positions are compared one by one: at position ``i`` a schema applies ``prefixItems[i]`` if it has
one and ``items`` (default ``true``) otherwise. A tuple position added or removed is judged, like a
property, against the other side's tail: open (`items` absent or `true`), closed (`items: false`)
or partially open (`items: {...}`, compared recursively).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lgsp_registry.domain.diff_keywords import compare_max_count, compare_min_count
from lgsp_registry.domain.diff_model import (
    BACKWARD_ONLY,
    FORWARD_ONLY,
    Comparator,
    Finding,
    Location,
)
from lgsp_registry.domain.schema_merge import content_kind

Schema = Mapping[str, Any]


def _prefix(node: Schema) -> list[Any]:
    prefix = node.get("prefixItems")
    return list(prefix) if isinstance(prefix, list) else []


def _item_added(
    cmp: Comparator, old: Schema, new: Schema, index: int, at: Location
) -> list[Finding]:
    raw, tail = _prefix(new)[index], old.get("items", True)
    kind = content_kind(cmp.old, tail)
    if kind == "open":
        if content_kind(cmp.new, raw) == "open":
            return []
        detail = (
            f"tuple item {index} was added with constraints, but the old schema let any value "
            "through at that position (open content model)"
        )
        return [Finding("ITEM_ADDED_TO_OPEN_CONTENT_MODEL", at, detail, BACKWARD_ONLY)]
    if kind == "closed":
        if content_kind(cmp.new, raw) == "closed":
            return []
        detail = f"tuple item {index} was added, but the old schema's closed tuple rejects it"
        return [Finding("ITEM_ADDED_TO_CLOSED_CONTENT_MODEL", at, detail, FORWARD_ONLY)]
    return cmp.compare(tail, raw, at)


def _item_removed(
    cmp: Comparator, old: Schema, new: Schema, index: int, at: Location
) -> list[Finding]:
    raw, tail = _prefix(old)[index], new.get("items", True)
    kind = content_kind(cmp.new, tail)
    if kind == "open":
        if content_kind(cmp.old, raw) == "open":
            return []
        detail = (
            f"tuple item {index} was removed, so the new schema lets any value through at that "
            "position where the old one constrained it"
        )
        return [Finding("ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL", at, detail, FORWARD_ONLY)]
    if kind == "closed":
        if content_kind(cmp.old, raw) == "closed":
            return []
        detail = f"tuple item {index} was removed and the new schema's closed tuple rejects it"
        return [Finding("ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL", at, detail, BACKWARD_ONLY)]
    return cmp.compare(raw, tail, at)


def _compare_items(cmp: Comparator, old: Schema, new: Schema, loc: Location) -> list[Finding]:
    findings: list[Finding] = []
    old_length, new_length = len(_prefix(old)), len(_prefix(new))
    for index in range(max(old_length, new_length)):
        keyword = ("prefixItems", str(index)) if index < new_length else ("items",)
        at = loc.child(keyword, str(index))
        if index >= old_length:
            findings += _item_added(cmp, old, new, index, at)
        elif index >= new_length:
            findings += _item_removed(cmp, old, new, index, at)
        else:
            findings += cmp.compare(_prefix(old)[index], _prefix(new)[index], at)
    if "items" in old or "items" in new:
        at = loc.child(("items",), "*")
        findings += cmp.compare(old.get("items", True), new.get("items", True), at)
    return findings


def _compare_unique(old: Schema, new: Schema, loc: Location) -> list[Finding]:
    before, after = old.get("uniqueItems") is True, new.get("uniqueItems") is True
    if before == after:
        return []
    at = loc.keyword("uniqueItems")
    if after:
        return [Finding("UNIQUE_ITEMS_ADDED", at, "items must now be unique", BACKWARD_ONLY)]
    return [Finding("UNIQUE_ITEMS_REMOVED", at, "items no longer need to be unique", FORWARD_ONLY)]


def _compare_contains(cmp: Comparator, old: Schema, new: Schema, loc: Location) -> list[Finding]:
    at = loc.child(("contains",), "*")
    if "contains" in old and "contains" in new:
        return [
            *cmp.compare(old["contains"], new["contains"], at),
            *compare_min_count(old, new, loc, "minContains"),
            *compare_max_count(old, new, loc, "maxContains"),
        ]
    if "contains" in new:
        detail = "arrays must now contain an item matching a schema"
        return [Finding("CONTAINS_ADDED", at, detail, BACKWARD_ONLY)]
    if "contains" in old:
        detail = "arrays no longer need to contain an item matching a schema"
        return [Finding("CONTAINS_REMOVED", at, detail, FORWARD_ONLY)]
    return []


def compare_array(cmp: Comparator, old: Schema, new: Schema, loc: Location) -> list[Finding]:
    """Compare every array keyword of two schema objects."""
    findings = [
        *_compare_items(cmp, old, new, loc),
        *compare_min_count(old, new, loc, "minItems"),
        *compare_max_count(old, new, loc, "maxItems"),
        *_compare_unique(old, new, loc),
        *_compare_contains(cmp, old, new, loc),
    ]
    if "unevaluatedItems" in old or "unevaluatedItems" in new:
        at = loc.child(("unevaluatedItems",), "*")
        findings += cmp.compare(
            old.get("unevaluatedItems", True), new.get("unevaluatedItems", True), at
        )
    return findings

"""Comparison of object keywords: properties, required, content models and dependencies.

Content models (Confluent's terms): an object is *open* when a name it does not declare may hold
any value (no `additionalProperties`, or `true`), *closed* when such a name is rejected
(`additionalProperties: false`) and *partially open* when such a name must match a schema
(`additionalProperties: {...}` or a matching `patternProperties`).

Adding a property is judged against what the *old* schema applied to that name, and removing
one against what the *new* schema applies to it. `required` is compared by name on its own, so
an existing optional property becoming required is caught (Karapace misses it). A `default` does
not excuse a new required property: in 2020-12 `default` is an annotation and a validating reader
still rejects data that lacks the property (Confluent treats it as compatible; we do not).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lgsp_registry.domain.diff_keywords import compare_max_count, compare_min_count
from lgsp_registry.domain.diff_model import (
    BACKWARD_ONLY,
    BOTH,
    FORWARD_ONLY,
    Comparator,
    CompatibilityPolicy,
    Direction,
    Finding,
    Location,
    breaks_of,
)
from lgsp_registry.domain.schema_facts import fallback_for_name, properties_of, required_names
from lgsp_registry.domain.schema_merge import content_kind

Schema = Mapping[str, Any]

_ADDITIONAL_CHANGES: dict[tuple[str, str], tuple[str, frozenset[Direction], str]] = {
    ("open", "closed"): (
        "ADDITIONAL_PROPERTIES_REMOVED",
        BACKWARD_ONLY,
        "undeclared properties are no longer allowed (additionalProperties: false)",
    ),
    ("open", "partial"): (
        "ADDITIONAL_PROPERTIES_NARROWED",
        BACKWARD_ONLY,
        "undeclared properties must now match a schema",
    ),
    ("closed", "open"): (
        "ADDITIONAL_PROPERTIES_ADDED",
        FORWARD_ONLY,
        "undeclared properties are now allowed",
    ),
    ("closed", "partial"): (
        "ADDITIONAL_PROPERTIES_ADDED",
        FORWARD_ONLY,
        "undeclared properties matching a schema are now allowed",
    ),
    ("partial", "open"): (
        "ADDITIONAL_PROPERTIES_EXTENDED",
        FORWARD_ONLY,
        "undeclared properties may now hold any value",
    ),
    ("partial", "closed"): (
        "ADDITIONAL_PROPERTIES_REMOVED",
        BACKWARD_ONLY,
        "undeclared properties are no longer allowed (additionalProperties: false)",
    ),
}


def _summarise(sub: list[Finding], rule: str, at: Location, detail: str) -> list[Finding]:
    breaks = breaks_of(sub)
    if not breaks:
        return []
    return [Finding(rule, at, f"{detail} ({sub[0].detail})", breaks)]


def _property_added(
    cmp: Comparator, old: Schema, new: Schema, name: str, loc: Location
) -> list[Finding]:
    raw = properties_of(new)[name]
    fallback = fallback_for_name(old, name)
    at = loc.child(("properties", name), name)
    kind = content_kind(cmp.old, fallback)
    if kind == "open":
        if content_kind(cmp.new, raw) == "open":
            return []
        if cmp.policy is CompatibilityPolicy.LENIENT:
            return []  # trusted: producers send no undeclared property; `required` is still checked
        detail = (
            f"property {name!r} was added with constraints, but the old schema let any value "
            "through under that name (open content model)"
        )
        return [Finding("PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", at, detail, BACKWARD_ONLY)]
    if kind == "closed":
        if content_kind(cmp.new, raw) == "closed":
            return []
        detail = (
            f"property {name!r} was added, but the old schema's closed content model rejects it"
        )
        return [Finding("PROPERTY_ADDED_TO_CLOSED_CONTENT_MODEL", at, detail, FORWARD_ONLY)]
    detail = f"property {name!r} was added with a schema unlike the old one for undeclared names"
    rule = "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
    return _summarise(cmp.compare(fallback, raw, at), rule, at, detail)


def _property_removed(
    cmp: Comparator, old: Schema, new: Schema, name: str, loc: Location
) -> list[Finding]:
    raw = properties_of(old)[name]
    fallback = fallback_for_name(new, name)
    at = loc.child(("properties", name), name)
    kind = content_kind(cmp.new, fallback)
    if kind == "open":
        if content_kind(cmp.old, raw) == "open":
            return []
        if cmp.policy is CompatibilityPolicy.LENIENT:
            return []
        detail = (
            f"property {name!r} was removed, so the new schema lets any value through under that "
            "name (open content model) where the old one constrained it"
        )
        return [Finding("PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL", at, detail, FORWARD_ONLY)]
    if kind == "closed":
        if content_kind(cmp.old, raw) == "closed":
            return []
        detail = (
            f"property {name!r} was removed and the new schema's closed content model rejects it"
        )
        return [Finding("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", at, detail, BACKWARD_ONLY)]
    detail = f"property {name!r} was removed and the new schema's rule for undeclared names differs"
    rule = "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
    return _summarise(cmp.compare(raw, fallback, at), rule, at, detail)


def _compare_properties(cmp: Comparator, old: Schema, new: Schema, loc: Location) -> list[Finding]:
    before, after = properties_of(old), properties_of(new)
    findings: list[Finding] = []
    for name in dict.fromkeys([*after, *before]):
        if name in before and name in after:
            at = loc.child(("properties", name), name)
            findings += cmp.compare(before[name], after[name], at)
        elif name in after:
            findings += _property_added(cmp, old, new, name, loc)
        else:
            findings += _property_removed(cmp, old, new, name, loc)
    return findings


def _compare_required(old: Schema, new: Schema, loc: Location) -> list[Finding]:
    before, after = required_names(old), required_names(new)
    findings: list[Finding] = []
    for name in after:
        if name in before:
            continue
        at = loc.child(("required",), name)
        if name in properties_of(old):
            detail = f"existing optional property {name!r} became required"
            findings.append(Finding("PROPERTY_BECAME_REQUIRED", at, detail, BACKWARD_ONLY))
        else:
            detail = f"new property {name!r} is required"
            findings.append(Finding("REQUIRED_PROPERTY_ADDED", at, detail, BACKWARD_ONLY))
    for name in before:
        if name in after:
            continue
        at = loc.child(("required",), name)
        if name in properties_of(new):
            detail = f"required property {name!r} became optional"
            findings.append(Finding("PROPERTY_BECAME_OPTIONAL", at, detail, FORWARD_ONLY))
        else:
            detail = f"required property {name!r} was removed"
            findings.append(Finding("REQUIRED_PROPERTY_REMOVED", at, detail, FORWARD_ONLY))
    return findings


def _compare_additional(cmp: Comparator, old: Schema, new: Schema, loc: Location) -> list[Finding]:
    before = old.get("additionalProperties", True)
    after = new.get("additionalProperties", True)
    kinds = (content_kind(cmp.old, before), content_kind(cmp.new, after))
    at = loc.child(("additionalProperties",), "*")
    if kinds == ("partial", "partial"):
        return cmp.compare(before, after, at)
    change = _ADDITIONAL_CHANGES.get(kinds)
    if change is None:
        return []
    rule, breaks, detail = change
    return [Finding(rule, at, detail, breaks)]


def _compare_pattern_properties(
    cmp: Comparator, old: Schema, new: Schema, loc: Location
) -> list[Finding]:
    before = old.get("patternProperties") or {}
    after = new.get("patternProperties") or {}
    findings: list[Finding] = []
    for pattern in dict.fromkeys([*after, *before]):
        # A pattern that one side lacks falls back to that side's additionalProperties.
        old_raw = before.get(pattern, old.get("additionalProperties", True))
        new_raw = after.get(pattern, new.get("additionalProperties", True))
        findings += cmp.compare(old_raw, new_raw, loc.child(("patternProperties", pattern), "*"))
    return findings


def _compare_dependent_required(old: Schema, new: Schema, loc: Location) -> list[Finding]:
    before = old.get("dependentRequired") or {}
    after = new.get("dependentRequired") or {}
    findings: list[Finding] = []
    for key in dict.fromkeys([*after, *before]):
        was, now = set(before.get(key, [])), set(after.get(key, []))
        if was == now:
            continue
        at = loc.keyword("dependentRequired", key)
        if now > was:
            detail = f"when {key!r} is present, {sorted(now - was)} must now be present too"
            findings.append(Finding("DEPENDENT_REQUIRED_EXTENDED", at, detail, BACKWARD_ONLY))
        elif now < was:
            detail = f"when {key!r} is present, {sorted(was - now)} are no longer required"
            findings.append(Finding("DEPENDENT_REQUIRED_NARROWED", at, detail, FORWARD_ONLY))
        else:
            detail = f"properties required with {key!r} changed from {sorted(was)} to {sorted(now)}"
            findings.append(Finding("DEPENDENT_REQUIRED_CHANGED", at, detail, BOTH))
    return findings


def _compare_schema_map(
    cmp: Comparator, old: Schema, new: Schema, loc: Location, keyword: str
) -> list[Finding]:
    before = old.get(keyword) or {}
    after = new.get(keyword) or {}
    findings: list[Finding] = []
    for key in dict.fromkeys([*after, *before]):
        at = loc.keyword(keyword, key)
        findings += cmp.compare(before.get(key, True), after.get(key, True), at)
    return findings


def _compare_applicator(
    cmp: Comparator, old: Schema, new: Schema, at: Location, keyword: str
) -> list[Finding]:
    if keyword not in old and keyword not in new:
        return []
    return cmp.compare(old.get(keyword, True), new.get(keyword, True), at)


def compare_object(cmp: Comparator, old: Schema, new: Schema, loc: Location) -> list[Finding]:
    """Compare every object keyword of two schema objects."""
    return [
        *_compare_properties(cmp, old, new, loc),
        *_compare_required(old, new, loc),
        *_compare_additional(cmp, old, new, loc),
        *_compare_pattern_properties(cmp, old, new, loc),
        *compare_min_count(old, new, loc, "minProperties"),
        *compare_max_count(old, new, loc, "maxProperties"),
        *_compare_dependent_required(old, new, loc),
        *_compare_schema_map(cmp, old, new, loc, "dependentSchemas"),
        *_compare_applicator(cmp, old, new, loc.keyword("propertyNames"), "propertyNames"),
        *_compare_applicator(
            cmp, old, new, loc.child(("unevaluatedProperties",), "*"), "unevaluatedProperties"
        ),
    ]

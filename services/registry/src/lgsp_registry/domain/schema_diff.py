"""The schema diff engine: walks an old and a new schema in parallel and lists breaking changes.

Local references are resolved on the way; when the same pair of subschemas is met again while it
is still being compared (a recursive schema on both sides), the pair is assumed compatible, which
is the usual co-inductive reading of recursive types. Remote references and `$dynamicRef` are
compared by their text only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lgsp_registry.domain.diff_array import compare_array
from lgsp_registry.domain.diff_combinators import (
    compare_all_of,
    compare_conditional,
    compare_not,
    compare_unions,
)
from lgsp_registry.domain.diff_keywords import (
    compare_numeric,
    compare_string,
    compare_types,
    compare_values,
)
from lgsp_registry.domain.diff_model import (
    BACKWARD_ONLY,
    BOTH,
    FORWARD_ONLY,
    Comparator,
    CompatibilityPolicy,
    Finding,
    Location,
)
from lgsp_registry.domain.diff_object import compare_object
from lgsp_registry.domain.normalize import canonical_json
from lgsp_registry.domain.schema_facts import NUMERIC, type_set
from lgsp_registry.domain.schema_merge import Resolved, Resolver
from lgsp_registry.domain.schema_refs import RefError, SchemaDocument
from lgsp_registry.domain.schema_walk import validation_part

MAX_DEPTH = 64


@dataclass
class _Walk:
    """State shared by an engine and its reversed twin during one comparison."""

    active: set[tuple[int, int, bool]] = field(default_factory=set)
    depth: int = 0


def _opaque_ref(resolver: Resolver, node: Mapping[str, Any]) -> str | None:
    dynamic = node.get("$dynamicRef")
    if isinstance(dynamic, str):
        return dynamic
    ref = node.get("$ref")
    if isinstance(ref, str) and not resolver.doc.is_local(ref):
        return ref
    return None


class _Engine:
    """Compare subschemas of an old and a new document; implements `Comparator`."""

    def __init__(
        self,
        old: Resolver,
        new: Resolver,
        policy: CompatibilityPolicy,
        walk: _Walk,
        *,
        flipped: bool = False,
    ) -> None:
        self._old, self._new, self._policy = old, new, policy
        self._walk, self._flipped = walk, flipped

    @property
    def policy(self) -> CompatibilityPolicy:
        """Return the policy in force."""
        return self._policy

    @property
    def old(self) -> Resolver:
        """Return the resolver of the old document."""
        return self._old

    @property
    def new(self) -> Resolver:
        """Return the resolver of the new document."""
        return self._new

    def reversed(self) -> Comparator:
        """Return an engine that reads the new document as the old one and vice versa."""
        return _Engine(self._new, self._old, self._policy, self._walk, flipped=not self._flipped)

    def compare(self, old: Any, new: Any, loc: Location) -> list[Finding]:
        """Compare an old subschema with a new one at the given location."""
        key = (id(old), id(new), self._flipped)
        if key in self._walk.active:
            return []
        if self._walk.depth >= MAX_DEPTH:
            detail = f"the schemas nest deeper than {MAX_DEPTH} levels, so no verdict is possible"
            return [Finding("SCHEMA_TOO_DEEP", loc, detail, BOTH)]
        self._walk.active.add(key)
        self._walk.depth += 1
        try:
            return self._compare(old, new, loc)
        finally:
            self._walk.depth -= 1
            self._walk.active.discard(key)

    def _resolve_pair(self, old: Any, new: Any) -> tuple[Resolved, Resolved]:
        return self._old.resolve(old), self._new.resolve(new)

    def _through_ref(self, new_raw: Any, loc: Location) -> Location:
        # Like JSON Schema's keywordLocation, a pointer shows the $ref it went through, unless
        # the $ref has sibling keywords (then the pointer stays on the schema that holds both).
        if not isinstance(new_raw, Mapping) or not isinstance(new_raw.get("$ref"), str):
            return loc
        if len(validation_part(new_raw)) > 1 or not self._new.doc.is_local(new_raw["$ref"]):
            return loc
        return loc.keyword("$ref")

    def _compare(self, old_raw: Any, new_raw: Any, loc: Location) -> list[Finding]:
        try:
            old, new = self._resolve_pair(old_raw, new_raw)
        except RefError as error:
            return [Finding("REF_UNRESOLVABLE", loc, str(error), BOTH)]
        loc = self._through_ref(new_raw, loc)
        if old is False:
            if new is False:
                return []
            detail = "the old schema rejected every value here and the new one accepts some"
            return [Finding("FALSE_SCHEMA_REMOVED", loc, detail, FORWARD_ONLY)]
        if new is False:
            detail = "the new schema rejects every value here (false schema)"
            return [Finding("FALSE_SCHEMA_ADDED", loc, detail, BACKWARD_ONLY)]
        if old is True and new is True:
            return []
        return self._compare_objects({} if old is True else old, {} if new is True else new, loc)

    def _compare_objects(
        self, old: Mapping[str, Any], new: Mapping[str, Any], loc: Location
    ) -> list[Finding]:
        opaque = (_opaque_ref(self._old, old), _opaque_ref(self._new, new))
        if opaque != (None, None):
            if opaque[0] == opaque[1] and canonical_json(validation_part(old)) == canonical_json(
                validation_part(new)
            ):
                return []
            detail = f"the external reference changed from {opaque[0]!r} to {opaque[1]!r}"
            return [Finding("REF_CHANGED", loc.keyword("$ref"), detail, BOTH)]
        findings, consumed = compare_unions(self, old, new, loc)
        if consumed:
            return findings
        findings += compare_all_of(self, old, new, loc)
        findings += compare_types(old, new, loc)
        findings += compare_values(old, new, loc)
        shared = type_set(old) & type_set(new)
        if "string" in shared:
            findings += compare_string(old, new, loc)
        if shared & NUMERIC:
            findings += compare_numeric(old, new, loc)
        if "object" in shared:
            findings += compare_object(self, old, new, loc)
        if "array" in shared:
            findings += compare_array(self, old, new, loc)
        findings += compare_not(self, old, new, loc)
        findings += compare_conditional(self, old, new, loc)
        return findings


def diff_schemas(
    old: Any, new: Any, policy: CompatibilityPolicy = CompatibilityPolicy.STRICT
) -> list[Finding]:
    """List every change from `old` to `new` that breaks backward or forward compatibility."""
    walk = _Walk()
    old_resolver = Resolver(SchemaDocument(old))
    new_resolver = Resolver(SchemaDocument(new))
    engine = _Engine(old_resolver, new_resolver, policy, walk)
    return list(dict.fromkeys(engine.compare(old, new, Location())))

"""Comparison of combinators: anyOf/oneOf (unions), allOf (leftover parts), not, if/then/else.

Unions are compared as sets of alternatives. Where it is safe, sibling keywords are merged into
every branch first, so ``{"type": "string"}`` and ``{"anyOf": [{"type": "string"},
{"type": "null"}]}`` are two alternatives lists (``[string]`` and ``[string, null]``) and the change
reads as "alternative added" (breaks FORWARD only). The rule is sufficient, not exact:

- BACKWARD holds when every old alternative is accepted by some new alternative;
- FORWARD holds when every new alternative is accepted by some old alternative.

Alternatives are first split by JSON type (exactly), so ``{"type": ["string", "null"]}`` is covered
by ``anyOf: [string, null]``. An uncovered alternative is reported through its differences to the
closest counterpart when it looks edited (same number of alternatives or more on the other side,
a shared type), and as ``SUM_TYPE_NARROWED`` / ``SUM_TYPE_EXTENDED`` when it looks dropped or new.

Limits: `oneOf` is treated like `anyOf` (its exclusivity is not checked, so a new branch that
overlaps an old one is not flagged); `allOf` parts that could not be merged are paired by best
match; `if` conditions are compared for equality only, and a changed condition breaks both ways.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lgsp_registry.domain.diff_model import (
    BACKWARD_ONLY,
    BOTH,
    FORWARD_ONLY,
    Comparator,
    Direction,
    Finding,
    Location,
    breaking,
)
from lgsp_registry.domain.schema_facts import (
    ALL_TYPES,
    NUMERIC,
    describe_types,
    type_set,
)
from lgsp_registry.domain.schema_merge import Resolver
from lgsp_registry.domain.schema_refs import RefError

Schema = Mapping[str, Any]


@dataclass(frozen=True)
class _Alternatives:
    keyword: str | None
    items: list[tuple[int | None, Any]]

    def at(self, loc: Location, position: int) -> Location:
        index = self.items[position][0]
        if self.keyword is None or index is None:
            return loc
        return loc.keyword(self.keyword, index)

    def label(self, position: int) -> str:
        index = self.items[position][0]
        return "the whole schema" if index is None else f"{self.keyword}/{index}"


_TYPE_GROUPS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"null"}), "null"),
    (frozenset({"boolean"}), "boolean"),
    (frozenset({"object"}), "object"),
    (frozenset({"array"}), "array"),
    (frozenset({"string"}), "string"),
    (NUMERIC, "number"),
)


def _slices(node: Any) -> list[Any]:
    """Split an alternative by JSON type; the union of the slices is exactly the alternative.

    This lets ``{"type": ["string", "null"]}`` be covered by ``anyOf: [string, null]``, which no
    single alternative covers on its own.
    """
    if node is False:
        return []
    types = ALL_TYPES if node is True else type_set(node)
    groups = [(group & types, name) for group, name in _TYPE_GROUPS if group & types]
    if len(groups) <= 1:
        return [node]
    base: dict[str, Any] = {} if node is True else dict(node)
    return [
        {**base, "type": "integer" if part == frozenset({"integer"}) else name}
        for part, name in groups
    ]


def _has_union(node: Schema) -> bool:
    return isinstance(node.get("anyOf"), list) or isinstance(node.get("oneOf"), list)


def _expanded(resolver: Resolver, node: Schema) -> _Alternatives | None:
    if not _has_union(node):
        return _Alternatives(None, [(None, part) for part in _slices(node)])
    try:
        expansion = resolver.alternatives(node)
    except RefError:
        return None
    if expansion is None:
        return None
    keyword, items = expansion
    return _Alternatives(
        keyword, [(index, part) for index, schema in items for part in _slices(schema)]
    )


def _raw(node: Schema, keyword: str) -> _Alternatives:
    branches = node.get(keyword)
    if not isinstance(branches, list):
        return _Alternatives(None, [(None, True)])
    return _Alternatives(keyword, list(enumerate(branches)))


def _types(resolver: Resolver, node: Any) -> frozenset[str]:
    try:
        resolved = resolver.resolve(node)
    except RefError:
        return ALL_TYPES
    if isinstance(resolved, bool):
        return ALL_TYPES if resolved else frozenset()
    return type_set(resolved)


def _closest(
    candidates: list[tuple[int, list[Finding]]], direction: Direction
) -> tuple[int, list[Finding]] | None:
    """Return the closest uncovered candidate, (-1, []) if there is none, None if covered."""
    if not candidates:
        return (-1, [])
    best = min(candidates, key=lambda c: (len(breaking(c[1], direction)), len(c[1]), c[0]))
    return None if not breaking(best[1], direction) else best


def _summary(
    side: _Alternatives, k: int, loc: Location, types: frozenset[str], direction: Direction
) -> Finding:
    described = describe_types(types)
    if direction is Direction.BACKWARD:
        detail = (
            f"no alternative of the new schema accepts the {described} values "
            f"that {side.label(k)} of the old schema accepted"
        )
        return Finding("SUM_TYPE_NARROWED", side.at(loc, k), detail, BACKWARD_ONLY)
    detail = (
        f"{side.label(k)} of the new schema accepts {described} values "
        "that no alternative of the old schema accepted"
    )
    return Finding("SUM_TYPE_EXTENDED", side.at(loc, k), detail, FORWARD_ONLY)


def _cover(
    cmp: Comparator,
    mine: _Alternatives,
    theirs: _Alternatives,
    pair: Callable[[int, int], list[Finding]],
    direction: Direction,
    loc: Location,
) -> list[Finding]:
    """Report each alternative on one side that no alternative on the other side covers."""
    backward = direction is Direction.BACKWARD
    own, other = (cmp.old, cmp.new) if backward else (cmp.new, cmp.old)
    findings: list[Finding] = []
    for k, (_, node) in enumerate(mine.items):
        closest = _closest([(m, pair(k, m)) for m in range(len(theirs.items))], direction)
        if closest is None:
            continue
        types = _types(own, node)
        m, sub = closest
        # Details help when an alternative was edited; when alternatives were dropped or added
        # the closest counterpart's differences would mislead, so a summary is given instead.
        edited = m >= 0 and len(mine.items) <= len(theirs.items)
        if edited and types & _types(other, theirs.items[m][1]):
            findings += breaking(sub, direction)
        else:
            findings.append(_summary(mine, k, loc, types, direction))
    return findings


def _match(
    cmp: Comparator, before: _Alternatives, after: _Alternatives, loc: Location
) -> list[Finding]:
    cache: dict[tuple[int, int], list[Finding]] = {}

    def pair(i: int, j: int) -> list[Finding]:
        if (i, j) not in cache:
            cache[(i, j)] = cmp.compare(before.items[i][1], after.items[j][1], after.at(loc, j))
        return cache[(i, j)]

    return [
        *_cover(cmp, before, after, pair, Direction.BACKWARD, loc),
        *_cover(cmp, after, before, lambda j, i: pair(i, j), Direction.FORWARD, loc),
    ]


def compare_unions(
    cmp: Comparator, old: Schema, new: Schema, loc: Location
) -> tuple[list[Finding], bool]:
    """Compare anyOf/oneOf; also say whether the sibling keywords were compared with them."""
    if not (_has_union(old) or _has_union(new)):
        return [], False
    before, after = _expanded(cmp.old, old), _expanded(cmp.new, new)
    if before is not None and after is not None:
        return _match(cmp, before, after, loc), True
    findings: list[Finding] = []
    for keyword in ("anyOf", "oneOf"):
        if keyword in old or keyword in new:
            findings += _match(cmp, _raw(old, keyword), _raw(new, keyword), loc)
    return findings, False


def compare_all_of(cmp: Comparator, old: Schema, new: Schema, loc: Location) -> list[Finding]:
    """Pair the allOf parts that could not be merged and report parts added or dropped."""
    before: list[Any] = old["allOf"] if isinstance(old.get("allOf"), list) else []
    after: list[Any] = new["allOf"] if isinstance(new.get("allOf"), list) else []
    pairs = {
        (i, j): cmp.compare(before[i], after[j], loc.keyword("allOf", j))
        for i in range(len(before))
        for j in range(len(after))
    }
    used_old: set[int] = set()
    used_new: set[int] = set()
    findings: list[Finding] = []
    for i, j in sorted(pairs, key=lambda key: (len(pairs[key]), key)):
        if i not in used_old and j not in used_new:
            used_old.add(i)
            used_new.add(j)
            findings += pairs[(i, j)]
    for j in range(len(after)):
        if j not in used_new:
            detail = f"allOf/{j} adds constraints that the old schema did not have"
            findings.append(
                Finding("PRODUCT_TYPE_EXTENDED", loc.keyword("allOf", j), detail, BACKWARD_ONLY)
            )
    for i in range(len(before)):
        if i not in used_old:
            detail = f"the constraints of allOf/{i} of the old schema were dropped"
            findings.append(
                Finding("PRODUCT_TYPE_NARROWED", loc.keyword("allOf", i), detail, FORWARD_ONLY)
            )
    return findings


def _negated(resolver: Resolver, node: Schema) -> Any | None:
    """Return the raw `not` schema, or None when absent or excluding nothing (`not: false`)."""
    if "not" not in node:
        return None
    try:
        excludes_nothing = resolver.resolve(node["not"]) is False
    except RefError:
        excludes_nothing = False  # comparing it reports the broken reference
    return None if excludes_nothing else node["not"]


def compare_not(cmp: Comparator, old: Schema, new: Schema, loc: Location) -> list[Finding]:
    """Compare `not`: a wider negated schema means a narrower schema."""
    at = loc.keyword("not")
    before, after = _negated(cmp.old, old), _negated(cmp.new, new)
    if before is None and after is None:
        return []
    if before is None:
        return [Finding("NOT_ADDED", at, "a `not` constraint was added", BACKWARD_ONLY)]
    if after is None:
        return [Finding("NOT_REMOVED", at, "the `not` constraint was removed", FORWARD_ONLY)]
    # Swapping the sides keeps the directions right: `not N` accepts more exactly when N shrinks.
    sub = cmp.reversed().compare(after, before, at)
    findings: list[Finding] = []
    if breaking(sub, Direction.BACKWARD):
        detail = "the `not` schema now rejects values the old schema accepted"
        findings.append(Finding("NOT_TYPE_EXTENDED", at, detail, BACKWARD_ONLY))
    if breaking(sub, Direction.FORWARD):
        detail = "the `not` schema now lets through values the old schema rejected"
        findings.append(Finding("NOT_TYPE_NARROWED", at, detail, FORWARD_ONLY))
    return findings


def _has_conditional(node: Schema) -> bool:
    return "if" in node and ("then" in node or "else" in node)


def compare_conditional(cmp: Comparator, old: Schema, new: Schema, loc: Location) -> list[Finding]:
    """Compare if/then/else: branches recursively when the condition is unchanged."""
    before, after = _has_conditional(old), _has_conditional(new)
    if not before and not after:
        return []
    at = loc.keyword("if")
    if not before:
        return [
            Finding("CONDITIONAL_ADDED", at, "an if/then/else constraint was added", BACKWARD_ONLY)
        ]
    if not after:
        return [
            Finding(
                "CONDITIONAL_REMOVED", at, "the if/then/else constraint was removed", FORWARD_ONLY
            )
        ]
    if cmp.compare(old["if"], new["if"], at):
        detail = "the `if` condition changed, so the then/else branches apply to other values"
        return [Finding("CONDITIONAL_CHANGED", at, detail, BOTH)]
    return [
        *cmp.compare(old.get("then", True), new.get("then", True), loc.keyword("then")),
        *cmp.compare(old.get("else", True), new.get("else", True), loc.keyword("else")),
    ]

"""Value types shared by the schema diff engine: directions, policies, locations and findings.

A *finding* is one change between an old and a new schema version that breaks at least one
direction of compatibility:

- ``BACKWARD``: a consumer using the new schema reads data written with the old one, so the new
  schema must accept every value the old one accepted.
- ``FORWARD``: a consumer still using the old schema reads data written with the new one, so the
  old schema must accept every value the new one accepts.

Rule codes always describe the change *from the old version to the new one* (for example
``MAX_LENGTH_DECREASED`` means the new schema has a smaller ``maxLength``), whichever direction is
being checked; the ``breaks`` set says which directions the change breaks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from lgsp_registry.domain.json_pointer import to_pointer

if TYPE_CHECKING:
    from lgsp_registry.domain.schema_merge import Resolver


class Direction(StrEnum):
    """Which reader/writer pairing a finding breaks."""

    BACKWARD = "BACKWARD"
    FORWARD = "FORWARD"


BOTH: frozenset[Direction] = frozenset({Direction.BACKWARD, Direction.FORWARD})
BACKWARD_ONLY: frozenset[Direction] = frozenset({Direction.BACKWARD})
FORWARD_ONLY: frozenset[Direction] = frozenset({Direction.FORWARD})


class CompatibilityPolicy(StrEnum):
    """How strictly open content models are judged.

    STRICT follows Confluent Schema Registry: a property added to (or removed from) an open
    content model is a break, because data written under the open model may already carry a value
    of any type under that name. LENIENT additionally accepts adding a property to an open content
    model and removing one from it, trusting producers not to send undeclared properties (the
    "optional-friendly" policy of some registries). `required` is still checked on its own, so
    under LENIENT adding an *optional* property to an open model passes FULL, while adding a
    required one still breaks BACKWARD (REQUIRED_PROPERTY_ADDED).
    """

    STRICT = "STRICT"
    LENIENT = "LENIENT"


@dataclass(frozen=True)
class Location:
    """Where a comparison stands: a schema evaluation path and the matching data path.

    ``schema`` follows the keywords walked through the *new* schema, including ``$ref`` hops, like
    the ``keywordLocation`` of JSON Schema output. ``data`` is the instance location; ``*`` stands
    for any array index or any property name not declared in ``properties``.
    """

    schema: tuple[str, ...] = ()
    data: tuple[str, ...] = ()

    def keyword(self, *tokens: str | int) -> Location:
        """Descend into schema keywords that do not move in the data."""
        return replace(self, schema=self.schema + tuple(str(token) for token in tokens))

    def child(self, schema_tokens: Sequence[str | int], data_token: str) -> Location:
        """Descend into a subschema that applies to a child of the current value."""
        return Location(
            schema=self.schema + tuple(str(token) for token in schema_tokens),
            data=(*self.data, data_token),
        )

    @property
    def schema_pointer(self) -> str:
        """Return the schema evaluation path as a JSON Pointer."""
        return to_pointer(self.schema)

    @property
    def data_pointer(self) -> str:
        """Return the data path as a JSON Pointer."""
        return to_pointer(self.data)


@dataclass(frozen=True)
class Finding:
    """One incompatible change between two schema versions."""

    rule: str
    location: Location
    detail: str
    breaks: frozenset[Direction] = field(default=BOTH)

    def only(self, direction: Direction) -> Finding:
        """Return a copy restricted to one direction."""
        return replace(self, breaks=frozenset({direction}))


def breaking(findings: Iterable[Finding], direction: Direction) -> list[Finding]:
    """Return the findings that break the given direction, restricted to it."""
    return [finding.only(direction) for finding in findings if direction in finding.breaks]


def breaks_of(findings: Iterable[Finding]) -> frozenset[Direction]:
    """Return the union of the directions the findings break."""
    result: frozenset[Direction] = frozenset()
    for finding in findings:
        result |= finding.breaks
    return result


class Comparator(Protocol):
    """What keyword comparers need from the engine: recursion, resolvers and the policy."""

    @property
    def policy(self) -> CompatibilityPolicy:
        """Return the policy in force."""
        ...

    @property
    def old(self) -> Resolver:
        """Return the resolver of the old schema document."""
        ...

    @property
    def new(self) -> Resolver:
        """Return the resolver of the new schema document."""
        ...

    def compare(self, old: Any, new: Any, loc: Location) -> list[Finding]:
        """Compare an old subschema with a new one at the given location."""
        ...

    def reversed(self) -> Comparator:
        """Return a comparator that treats the new document as the old one and vice versa."""
        ...

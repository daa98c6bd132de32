"""Contract compatibility: may a new schema version be registered after the previous ones?

Semantics follow Confluent Schema Registry:

- ``BACKWARD``: consumers using the new schema can read data written with the latest previous
  version; ``FORWARD``: consumers using the latest previous version can read data written with the
  new one; ``FULL``: both. The ``*_TRANSITIVE`` modes check against every previous version
  instead of only the latest. ``NONE`` checks nothing.
- The rules for JSON Schema are Confluent's (open/closed/partially open content models, type
  narrowing and widening with integer inside number, enum narrowing and widening, length, bound,
  pattern and item limits, ...) with three deliberate differences: an existing property becoming
  required is always caught, a `default` never excuses a new required property, and `format` is
  compared (added, removed, changed) because the gateway asserts formats.

Rule codes name the change from the old version to the new one (see `diff_model`), so the same
code appears whether BACKWARD or FORWARD is checked; each `Reason` says which direction it breaks
and against which version. The document must be a valid schema (see `normalize.check_schema`)
before it is checked here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from lgsp_registry.domain.consumer_check import ConsumerFields, check_consumers
from lgsp_registry.domain.diff_model import CompatibilityPolicy, Direction, Finding
from lgsp_registry.domain.reasons import Reason
from lgsp_registry.domain.schema_diff import diff_schemas

__all__ = [
    "CompatibilityMode",
    "CompatibilityPolicy",
    "CompatibilityResult",
    "ConsumerFields",
    "Direction",
    "Reason",
    "check",
    "check_consumers",
    "directions_of",
]

Schema = Mapping[str, Any] | bool


class CompatibilityMode(StrEnum):
    """Which previous versions a new version is checked against, and in which direction."""

    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"

    @property
    def transitive(self) -> bool:
        """Tell whether every previous version is checked rather than only the latest."""
        return self.value.endswith("_TRANSITIVE")


class CompatibilityResult(BaseModel):
    """The verdict of a compatibility check and every reason against it."""

    model_config = ConfigDict(frozen=True)

    compatible: bool
    reasons: list[Reason]


def directions_of(mode: CompatibilityMode) -> frozenset[Direction]:
    """Return the directions a mode requires."""
    base = mode.value.removesuffix("_TRANSITIVE")
    if base == "BACKWARD":
        return frozenset({Direction.BACKWARD})
    if base == "FORWARD":
        return frozenset({Direction.FORWARD})
    if base == "FULL":
        return frozenset({Direction.BACKWARD, Direction.FORWARD})
    return frozenset()


def _sentence(finding: Finding, direction: Direction, version: int) -> str:
    detail = finding.detail[:1].upper() + finding.detail[1:]
    if direction is Direction.BACKWARD:
        effect = f"consumers using the new schema cannot read data written with version {version}"
    else:
        effect = (
            f"consumers still using version {version} cannot read data written with the new schema"
        )
    return f"{detail}, so {effect}."


def _reasons(findings: list[Finding], wanted: frozenset[Direction], version: int) -> list[Reason]:
    reasons: list[Reason] = []
    for finding in findings:
        for direction in (Direction.BACKWARD, Direction.FORWARD):
            if direction in wanted and direction in finding.breaks:
                reasons.append(
                    Reason(
                        pointer=finding.location.schema_pointer,
                        data_path=finding.location.data_pointer,
                        rule=finding.rule,
                        message=_sentence(finding, direction, version),
                        version=version,
                        direction=direction,
                    )
                )
    return reasons


def check(
    new_schema: Schema,
    previous: Sequence[tuple[int, Schema]],
    mode: CompatibilityMode,
    policy: CompatibilityPolicy = CompatibilityPolicy.STRICT,
) -> CompatibilityResult:
    """Check a new schema against previous (version, schema) pairs, oldest first."""
    wanted = directions_of(mode)
    if not wanted or not previous:
        return CompatibilityResult(compatible=True, reasons=[])
    targets = list(previous) if mode.transitive else [max(previous, key=lambda item: item[0])]
    reasons: list[Reason] = []
    for version, old_schema in targets:
        reasons += _reasons(diff_schemas(old_schema, new_schema, policy), wanted, version)
    return CompatibilityResult(compatible=not reasons, reasons=reasons)

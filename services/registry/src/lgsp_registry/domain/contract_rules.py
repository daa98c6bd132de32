"""Checks a candidate contract version must pass before compatibility is even considered.

The schema must be a valid, self-contained JSON Schema 2020-12 (`normalize.check_schema`: no
remote `$ref`, nothing fetched), its `x-lgsp.topic`, when present, must name the subject, and its
examples must behave: every valid example passes, every invalid one fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lgsp_common.schemas import authoring_validator
from lgsp_registry.domain.entities import ContractExamples
from lgsp_registry.domain.normalize import check_schema


@dataclass(frozen=True)
class Violation:
    """One reason a candidate is refused, as a JSON Pointer into the request body."""

    pointer: str
    rule: str
    message: str


def schema_violations(schema: dict[str, Any], subject: str) -> list[Violation]:
    """List why a schema cannot be a contract of `subject`."""
    found = [
        Violation("/schema" + problem.pointer, _rule(problem.message), problem.message)
        for problem in check_schema(schema)
    ]
    extension = schema.get("x-lgsp")
    topic = extension.get("topic") if isinstance(extension, dict) else None
    if topic is not None and topic != subject:
        message = f"x-lgsp.topic is {topic!r} but the subject is {subject!r}"
        found.append(Violation("/schema/x-lgsp/topic", "subject", message))
    return found


def _rule(message: str) -> str:
    if "$ref" in message and "not local" in message:
        return "remote_ref"
    return "$ref" if "$ref" in message else "json_schema"


def example_violations(
    schema: dict[str, Any], examples: ContractExamples, *, required: bool
) -> list[Violation]:
    """List the examples that do not behave as labelled (and missing ones, if required)."""
    found: list[Violation] = []
    if required and (not examples.valid or not examples.invalid):
        message = "a contract version needs at least one valid and one invalid example"
        found.append(Violation("/examples", "examples_required", message))
    validator = authoring_validator(schema)
    for index, payload in enumerate(examples.valid):
        error = next(iter(validator.iter_errors(payload)), None)
        if error is not None:
            message = f"this valid example fails the schema: {error.message[:200]}"
            found.append(Violation(f"/examples/valid/{index}", "valid_example", message))
    for index, payload in enumerate(examples.invalid):
        if validator.is_valid(payload):
            message = "this invalid example passes the schema"
            found.append(Violation(f"/examples/invalid/{index}", "invalid_example", message))
    return found

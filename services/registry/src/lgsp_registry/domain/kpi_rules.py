"""Checks a pushed KPI definition must pass: its format, then its fields against the contract.

Every violation names its place by JSON Pointer into the KPI body (`/measure/field`,
`/filter/where/0/value`, `/dimensions/1`). Against the topic's latest contract, a KPI refuses:

- a field the contract does not declare (`kpi_unknown_field`), a filter, measure, dimension or
  time field alike (a misspelt name is the common case);
- a sum or average over a field that is not always a number (`kpi_field_not_numeric`);
- a condition whose value cannot be one the field carries (`kpi_value_mistyped`), e.g. `"yes"`
  on a boolean, or a non-integer on an integer field, or a value outside the field's `enum`
  (`kpi_value_not_allowed`: `status eq "submited"` would never match);
- a time field that is not a string (`kpi_time_field_mistyped`).

The payload fields a KPI reads (`read_fields`) make it a consumer of those fields for the
consumer-aware compatibility check of later contract versions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import ValidationError

from lgsp_common.schemas import authoring_validator
from lgsp_registry.domain.consumer_check import FieldView, locate_field
from lgsp_registry.domain.contract_rules import Violation
from lgsp_registry.domain.json_pointer import parse_pointer, to_pointer
from lgsp_registry.domain.kpi_format import KPI_DEFINITION_SCHEMA
from lgsp_registry.domain.normalize import canonical_json
from lgsp_registry.domain.schema_facts import NUMERIC, describe_types, json_type, value_set

_ORDERED_OPS = {"gt", "gte", "lt", "lte"}


@dataclass(frozen=True)
class FieldUse:
    """One place a KPI reads a payload field."""

    at: str  # JSON Pointer into the KPI body
    ref: str  # the field as written: a name or a JSON Pointer
    role: str  # filter, numeric, distinct, dimension, time
    op: str | None = None
    value: Any = None

    @property
    def payload_pointer(self) -> str:
        """Return the field as a JSON Pointer into the payload."""
        return self.ref if self.ref.startswith("/") else to_pointer((self.ref,))


def _error_pointers(error: ValidationError) -> list[str]:
    base = to_pointer(tuple(str(t) for t in error.absolute_path))
    instance = error.instance if isinstance(error.instance, dict) else {}
    if error.validator == "required":
        wanted = error.validator_value if isinstance(error.validator_value, list) else []
        names = [str(n) for n in wanted if n not in instance]
        return [f"{base}{to_pointer((n,))}" for n in names] or [base]
    if error.validator == "additionalProperties" and isinstance(error.schema, dict):
        declared = set(error.schema.get("properties", {}))
        return [f"{base}{to_pointer((str(n),))}" for n in instance if n not in declared] or [base]
    if error.validator == "not" and isinstance(error.validator_value, dict):
        names = error.validator_value.get("required", [])
        return [f"{base}{to_pointer((str(n),))}" for n in names] or [base]
    return [base]


def _leaves(error: ValidationError) -> Iterator[ValidationError]:
    """Yield the most specific errors (anyOf/if-then wrappers opened up)."""
    if error.context:
        for sub in error.context:
            yield from _leaves(sub)
    else:
        yield error


def format_violations(body: Any) -> list[Violation]:
    """List where a body breaks the KPI definition format (contracts/meta)."""
    validator = authoring_validator(KPI_DEFINITION_SCHEMA)
    found: dict[tuple[str, str], Violation] = {}
    for error in validator.iter_errors(body):
        for leaf in _leaves(error) if error.validator == "anyOf" else [error]:
            for pointer in _error_pointers(leaf):
                rule = f"kpi_{leaf.validator}"
                message = _message(leaf, pointer)
                found.setdefault((pointer, rule), Violation(pointer, rule, message))
    return sorted(found.values(), key=lambda v: (v.pointer, v.rule))


def _message(error: ValidationError, pointer: str) -> str:
    if error.validator == "additionalProperties":
        return f"unknown key {pointer.rsplit('/', 1)[-1]!r} (allowed: see the KPI format)"
    if error.validator == "required":
        return f"missing key {pointer.rsplit('/', 1)[-1]!r}"
    if error.validator == "not":
        return "'reference' is set but the measure's denominator does not use it"
    return error.message[:300]


def _conditions(filter_: Any, at: str) -> Iterator[FieldUse]:
    where = filter_.get("where", []) if isinstance(filter_, Mapping) else []
    for index, condition in enumerate(where):
        yield FieldUse(
            f"{at}/where/{index}/field",
            condition["field"],
            "filter",
            condition["op"],
            condition.get("value"),
        )


def _term(term: Mapping[str, Any], at: str) -> Iterator[FieldUse]:
    kind = term["kind"]
    if kind in ("sum", "average"):
        yield FieldUse(f"{at}/field", term["field"], "numeric")
    elif kind == "distinct_count":
        yield FieldUse(f"{at}/field", term["field"], "distinct")
    yield from _conditions(term.get("filter"), f"{at}/filter")


def field_uses(body: Mapping[str, Any]) -> list[FieldUse]:
    """List every payload field a (format-valid) KPI reads, with where it says so."""
    uses = list(_conditions(body.get("filter"), "/filter"))
    measure = body["measure"]
    if measure["kind"] == "ratio":
        uses += _term(measure["numerator"], "/measure/numerator")
        uses += _term(measure["denominator"], "/measure/denominator")
    else:
        uses += _term(measure, "/measure")
    uses += [
        FieldUse(f"/dimensions/{i}", ref, "dimension")
        for i, ref in enumerate(body.get("dimensions", []))
    ]
    if body.get("time_field"):
        uses.append(FieldUse("/time_field", body["time_field"], "time"))
    return uses


def read_fields(body: Mapping[str, Any]) -> list[str]:
    """Return the payload pointers a KPI reads, sorted, each once."""
    return sorted({use.payload_pointer for use in field_uses(body)})


def _value_types(value: Any) -> set[str]:
    values = value if isinstance(value, list) else [value]
    return {json_type(v) for v in values}


def _declared_values(schema: Mapping[str, Any] | bool, pointer: str) -> frozenset[str] | None:
    """Return the canonical values a field's `enum`/`const` allows, following `properties` only."""
    node: Any = schema
    for token in parse_pointer(pointer):
        properties = node.get("properties") if isinstance(node, Mapping) else None
        if not isinstance(properties, Mapping) or token not in properties:
            return None
        node = properties[token]
    return value_set(node) if isinstance(node, Mapping) else None


def _enum_violations(use: FieldUse, schema: Mapping[str, Any] | bool) -> list[Violation]:
    if use.role != "filter" or use.op not in ("eq", "ne", "in", "not_in"):
        return []
    allowed = _declared_values(schema, use.payload_pointer)
    if allowed is None:
        return []
    values = use.value if isinstance(use.value, list) else [use.value]
    outside = [v for v in values if canonical_json(v) not in allowed]
    if not outside:
        return []
    at = use.at.removesuffix("/field") + "/value"
    message = f"field {use.ref!r} never carries {outside!r}; it allows only its enum values"
    return [Violation(at, "kpi_value_not_allowed", message)]


def _use_violations(use: FieldUse, view: FieldView, topic: str) -> list[Violation]:
    if view.presence != "declared":
        message = f"field {use.ref!r} is not in the contract of {topic}"
        return [Violation(use.at, "kpi_unknown_field", message)]
    types = view.types
    if use.role == "numeric" and not (types - {"null"} and types <= NUMERIC | {"null"}):
        message = f"field {use.ref!r} is {describe_types(types)}: it cannot be summed or averaged"
        return [Violation(use.at, "kpi_field_not_numeric", message)]
    if use.role == "time" and "string" not in types:
        message = f"time field {use.ref!r} is {describe_types(types)}, not a timestamp string"
        return [Violation(use.at, "kpi_time_field_mistyped", message)]
    if use.role == "filter" and use.op != "exists":
        wrong = _value_types(use.value) - types
        if use.op in _ORDERED_OPS and not wrong and not types & (NUMERIC | {"string"}):
            wrong = _value_types(use.value)
        if wrong:
            at = use.at.removesuffix("/field") + "/value"
            message = (
                f"field {use.ref!r} is {describe_types(types)}; "
                f"the value {use.value!r} can never match it"
            )
            return [Violation(at, "kpi_value_mistyped", message)]
    return []


def contract_violations(
    body: Mapping[str, Any], schema: Mapping[str, Any] | bool
) -> list[Violation]:
    """List the KPI's field uses that the topic's contract cannot satisfy."""
    topic = str(body["topic"])
    found: list[Violation] = []
    for use in field_uses(body):
        problems = _use_violations(use, locate_field(schema, use.payload_pointer), topic)
        found += problems or _enum_violations(use, schema)
    return found

"""Contracts the gateway enforces: compiled validators per topic, errors as JSON Pointers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jsonschema_rs

from lgsp_common.problems import FieldError
from lgsp_common.schemas import runtime_validator


def _escape(token: object) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def _pointer(path: list[Any], *extra: object) -> str:
    tokens = [*path, *extra]
    return "".join("/" + _escape(t) for t in tokens)


def _field_error(error: jsonschema_rs.ValidationError) -> FieldError:
    kind = error.kind
    name = type(kind).__name__
    path = list(error.instance_path)
    if name == "Required":
        pointer = _pointer(path, getattr(kind, "property", ""))
    elif name == "AdditionalProperties":
        unexpected = kind.as_dict().get("unexpected") or []
        pointer = _pointer(path, unexpected[0]) if len(unexpected) == 1 else _pointer(path)
    else:
        pointer = _pointer(path)
    keyword = error.schema_path[-1] if error.schema_path else name
    return FieldError(pointer=pointer, rule=str(keyword), message=error.message)


@dataclass(frozen=True)
class Contract:
    """One contract version: where it lives, its entity key, and its compiled validator."""

    topic: str
    version: int
    schema_uri: str
    entity_key: str | None
    validator: Any

    @classmethod
    def compile(cls, topic: str, version: int, schema: dict[str, Any]) -> Contract:
        """Compile a JSON Schema 2020-12 contract, reading its `x-lgsp` extension."""
        extension = schema.get("x-lgsp") or {}
        return cls(
            topic=topic,
            version=version,
            schema_uri=str(schema.get("$id") or f"urn:lgsp:contract:{topic}:v{version}"),
            entity_key=extension.get("entityKey"),
            validator=runtime_validator(schema),
        )

    def violations(self, payload: Any) -> list[FieldError]:
        """Return every way the payload breaks the contract (empty when valid)."""
        if self.validator.is_valid(payload):
            return []
        return [_field_error(e) for e in self.validator.iter_errors(payload)]

    def key_of(self, payload: Any) -> str | None:
        """Return the record key: the payload's entity key value, when the contract names one."""
        if self.entity_key is None or not isinstance(payload, dict):
            return None
        value = payload.get(self.entity_key)
        return None if value is None else str(value)

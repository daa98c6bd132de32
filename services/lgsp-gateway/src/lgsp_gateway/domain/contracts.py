"""Contracts the gateway enforces: compiled validators per topic, errors as JSON Pointers.

A contract's `x-lgsp` extension also says which `ce-type` its events carry (`eventType`, a
template whose `{field}` is that payload field's value, the rule of `tests/contract`) and whether
payload text is put in Unicode NFC before validation (`unicodeNormalization`, default `NFC`;
`none` keeps the bytes as sent). Both are compiled once per contract version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import jsonschema_rs

from lgsp_common.problems import FieldError
from lgsp_common.schemas import runtime_validator
from lgsp_vn.text import KeyCollisionError, nfc_document

_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")


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


def ascii_json(sent: bytes) -> bool:
    """Say whether every string in this JSON is ASCII (so NFC): ASCII bytes, no `\\u` escape."""
    return sent.isascii() and b"\\u" not in sent


@dataclass(frozen=True)
class EventType:
    """A compiled `eventType` template: the literal parts between `{field}` placeholders."""

    template: str
    literals: tuple[str, ...]  # one more than fields: literal, field, literal, ...
    fields: tuple[str, ...]
    any_segment: re.Pattern[str]  # a placeholder whose field the payload lacks: any segment

    @classmethod
    def compile(cls, template: str) -> EventType:
        """Split the template once; the per-event check is then a join and a comparison."""
        parts = _PLACEHOLDER.split(template)
        literals, fields = tuple(parts[0::2]), tuple(parts[1::2])
        pattern = "[^.]+".join(re.escape(literal) for literal in literals)
        return cls(template, literals, fields, re.compile(pattern))

    def expected(self, payload: Any) -> str | None:
        """Return the type the payload calls for; None when a placeholder's field is missing."""
        if not self.fields:
            return self.template
        if not isinstance(payload, dict):
            return None
        if len(self.fields) == 1:  # the usual template, e.g. vn.gov.lgsp.tthc.dossier.{status}
            value = payload.get(self.fields[0])
            if type(value) is str:
                return self.literals[0] + value + self.literals[1]
        pieces = [self.literals[0]]
        for field, literal in zip(self.fields, self.literals[1:], strict=True):
            value = payload.get(field)
            if value is None or isinstance(value, dict | list):
                return None
            pieces += (str(value), literal)
        return "".join(pieces)

    def error(self, ce_type: str, payload: Any) -> FieldError | None:
        """Return why `ce_type` is not the contract's event type for this payload, or None."""
        if not self.fields:
            if ce_type == self.template:
                return None
            message = f"expected the contract's event type {self.template!r}, got {ce_type!r}"
        else:
            expected = self.expected(payload)
            if expected is None:
                if self.any_segment.fullmatch(ce_type):
                    return None  # the payload's own violations name the missing field
                message = f"expected an event type of the form {self.template!r}, got {ce_type!r}"
            elif ce_type == expected:
                return None
            else:
                message = f"expected {expected!r} (from {self.template!r}), got {ce_type!r}"
        return FieldError(pointer="/type", rule="eventType", message=message)


@dataclass(frozen=True)
class Contract:
    """One contract version: where it lives, its entity key, and its compiled validator."""

    topic: str
    version: int
    schema_uri: str
    entity_key: str | None
    validator: Any
    event_type: EventType | None = None  # None: the contract declares no eventType
    normalise_text: bool = True  # NFC before validation (x-lgsp unicodeNormalization)

    @classmethod
    def compile(cls, topic: str, version: int, schema: dict[str, Any]) -> Contract:
        """Compile a JSON Schema 2020-12 contract, reading its `x-lgsp` extension."""
        extension = schema.get("x-lgsp") or {}
        template = extension.get("eventType")
        return cls(
            topic=topic,
            version=version,
            schema_uri=str(schema.get("$id") or f"urn:lgsp:contract:{topic}:v{version}"),
            entity_key=extension.get("entityKey"),
            validator=runtime_validator(schema),
            event_type=EventType.compile(template) if isinstance(template, str) else None,
            normalise_text=extension.get("unicodeNormalization", "NFC") != "none",
        )

    def normalised(self, payload: Any, ascii_only: bool = False) -> Any:
        """Return the payload with its text in NFC (the same object when nothing changes).

        `ascii_only`: the JSON it came from is known to hold only ASCII text (`ascii_json`),
        so the payload is not walked at all. Raises TextCollisionError when two keys of an
        object are the same text in two encodings (keeping one would silently drop the other).
        """
        if not self.normalise_text or ascii_only:
            return payload
        try:
            return nfc_document(payload)
        except KeyCollisionError as exc:
            error = FieldError(
                pointer=_pointer(exc.path, exc.key),
                rule="unicodeNormalization",
                message=f"two keys are {exc.key!r} once in NFC",
            )
            raise TextCollisionError(error) from exc

    def type_error(self, ce_type: str, payload: Any) -> FieldError | None:
        """Return why the event's `type` is not this contract's event type, or None."""
        return None if self.event_type is None else self.event_type.error(ce_type, payload)

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


class TextCollisionError(ValueError):
    """Two keys of one payload object are the same text in different Unicode encodings."""

    def __init__(self, error: FieldError) -> None:
        super().__init__(error.message)
        self.error = error

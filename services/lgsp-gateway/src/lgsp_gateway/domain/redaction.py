"""What a dead-letter record keeps of a refused event: its shape, never personal data in clear.

An event is often refused *because* it carried personal data where the contract has no place for
it (a CCCD number in a free-text note, a patient's name in an undeclared field). The DLQ keeps
14 days of such records, so its copy of the payload is redacted before it is produced:

- every CCCD (12 digits) or CMND (9 digits) number standing alone, in any key or text, is masked
  by `lgsp_vn.masking.mask_identifiers` (province code and last two digits kept);
- with the contract known (`FieldPolicy`), the value of a property the contract marks
  `"x-lgsp-personal": true`, and of any property the contract does not declare (nobody vouched
  for what it holds), is replaced by `MASK`; booleans and nulls are kept, objects and arrays keep
  their structure and field names;
- every masked value is listed in `masked` (the first `MAX_MASKED`) with its JSON Pointer, JSON
  type, length and why, so the record still says what was sent where.

The reasons are redacted alike: their pointers and messages go through the identifier mask, and
a masked value quoted in a message (`'...'` or `"..."`) is replaced by `MASK`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from lgsp_common.problems import FieldError
from lgsp_vn.masking import mask_identifiers

MASK = "***"
MAX_MASKED = 256  # entries listed in `masked` (the first ones, in document order)
PERSONAL = "x-lgsp-personal"
ANY_ITEM = "*"
# Attributes of a structured CloudEvent (batch items): the contract's fields sit under /data.
ENVELOPE = frozenset(
    {"specversion", "id", "source", "type", "time", "subject", "dataschema", "datacontenttype"}
)
_KEPT, _PERSONAL, _UNDECLARED = "kept", "personal", "undeclared"


@dataclass(frozen=True)
class FieldPolicy:
    """The properties a topic's contracts declare, and those they mark as personal data."""

    declared: frozenset[str]  # schema pointers: "/a", "/a/b", "/list/*/b"
    personal: frozenset[str]

    @classmethod
    def of(cls, schemas: Iterable[Mapping[str, Any]]) -> FieldPolicy:
        """Read every version's properties (a field personal in one version is personal)."""
        declared: set[str] = set()
        personal: set[str] = set()
        for schema in schemas:
            _walk(schema, "", declared, personal)
        return cls(frozenset(declared), frozenset(personal))

    def status(self, pointer: str) -> str:
        """Say whether a value at this schema pointer is kept, personal or undeclared."""
        if pointer in self.personal:
            return _PERSONAL
        return _KEPT if pointer in self.declared else _UNDECLARED


def _walk(schema: Mapping[str, Any], prefix: str, declared: set[str], personal: set[str]) -> None:
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        for name, sub in properties.items():
            if not isinstance(sub, Mapping):
                continue
            pointer = f"{prefix}/{_escape(name)}"
            declared.add(pointer)
            if sub.get(PERSONAL) is True:
                personal.add(pointer)
            _walk(sub, pointer, declared, personal)
    items = schema.get("items")
    if isinstance(items, Mapping):
        pointer = f"{prefix}/{ANY_ITEM}"
        declared.add(pointer)
        if items.get(PERSONAL) is True:
            personal.add(pointer)
        _walk(items, pointer, declared, personal)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


@dataclass
class Redaction:
    """A redacted payload: the masked document and what was masked."""

    masked: list[dict[str, Any]] = field(default_factory=list)
    hidden: list[Any] = field(default_factory=list)  # original values replaced by MASK

    def note(self, pointer: str, value: Any, why: str) -> None:
        """Record one masked value: where, what JSON type, how long."""
        if len(self.masked) >= MAX_MASKED:
            return
        kind, length = _shape(value)
        self.masked.append({"pointer": pointer, "type": kind, "length": length, "why": why})

    def key(self, pointer: str, key: str) -> str:
        """Return an object key with its identifiers masked, recording it when they were."""
        name = mask_identifiers(key)
        if name != key and len(self.masked) < MAX_MASKED:
            entry = {"pointer": pointer + _escape(name), "type": "key", "length": len(key)}
            self.masked.append({**entry, "why": "identifier"})
        return name


def _shape(value: Any) -> tuple[str, int]:
    if isinstance(value, str):
        return "string", len(value)
    if isinstance(value, int):
        return "integer", len(str(value))
    return "number", len(orjson.dumps(value))


class Redactor:
    """Redacts one payload under a policy (None: the contract is unknown, identifiers only)."""

    def __init__(self, policy: FieldPolicy | None) -> None:
        self._policy = policy

    def document(self, document: Any) -> tuple[Any, Redaction]:
        """Return the redacted copy of a parsed JSON payload and what was masked."""
        found = Redaction()
        envelope = isinstance(document, dict) and "specversion" in document
        if envelope:
            copy = {}
            for key, value in document.items():
                name = found.key("/", key)
                if key == "data":
                    copy[name] = self._value(value, "/data", "", _KEPT, found)
                else:
                    status = _KEPT if key in ENVELOPE else self._unknown()
                    copy[name] = self._value(value, f"/{_escape(name)}", None, status, found)
            return copy, found
        return self._value(document, "", "", _KEPT, found), found

    def _unknown(self) -> str:
        return _KEPT if self._policy is None else _UNDECLARED

    def _child(self, schema: str | None, token: str, inherited: str) -> tuple[str | None, str]:
        if inherited != _KEPT or schema is None or self._policy is None:
            return None, inherited
        pointer = f"{schema}/{token}"
        return pointer, self._policy.status(pointer)

    def _value(
        self, value: Any, pointer: str, schema: str | None, status: str, found: Redaction
    ) -> Any:
        if isinstance(value, dict):
            copy = {}
            for key, item in value.items():
                name = found.key(f"{pointer}/", key)
                sub, sub_status = self._child(schema, _escape(key), status)
                copy[name] = self._value(item, f"{pointer}/{_escape(name)}", sub, sub_status, found)
            return copy
        if isinstance(value, list):
            sub, sub_status = self._child(schema, ANY_ITEM, status)
            return [
                self._value(item, f"{pointer}/{index}", sub, sub_status, found)
                for index, item in enumerate(value)
            ]
        if value is None or isinstance(value, bool) or not isinstance(value, str | int | float):
            return value
        if status != _KEPT:
            found.note(pointer, value, status)
            found.hidden.append(value)
            return MASK
        if isinstance(value, str):
            masked = mask_identifiers(value)
            if masked != value:
                found.note(pointer, value, "identifier")
            return masked
        return value


def redact_reasons(reasons: Iterable[FieldError], hidden: Iterable[Any]) -> list[dict[str, str]]:
    """Return the reasons with identifiers masked and every quoted hidden value replaced."""
    forms = _forms(hidden)
    redacted = []
    for reason in reasons:
        message = reason.message
        if forms:
            message = _LITERAL.sub(lambda m: MASK if _inner(m.group(0)) in forms else m.group(0),
                                   message)  # fmt: skip
        redacted.append(
            {
                "pointer": mask_identifiers(reason.pointer),
                "rule": reason.rule,
                "message": mask_identifiers(message),
            }
        )
    return redacted


# A quoted string ('...' or "...", backslash escapes) or a bare number, as messages print values.
_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")


def _inner(literal: str) -> str:
    return literal[1:-1] if literal[:1] in "'\"" else literal


def _forms(hidden: Iterable[Any]) -> set[str]:
    forms: set[str] = set()
    for value in hidden:
        if isinstance(value, str):
            forms |= {value, orjson.dumps(value).decode()[1:-1], repr(value)[1:-1]}
        else:
            forms.add(str(value))
    return forms

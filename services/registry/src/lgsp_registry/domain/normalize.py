"""Canonical form, fingerprint and meta-validation of contract schemas (JSON Schema 2020-12).

Canonical form: object keys sorted, no insignificant whitespace, UTF-8 without ``\\u`` escapes
for non-ASCII text, and numbers normalised so that values JSON Schema treats as equal are spelled
the same (``1.0`` becomes ``1``, ``-0.0`` becomes ``0``). NaN and infinities are not JSON and are
rejected. This follows the spirit of RFC 8785 (JCS) without its exact float spelling; only the
stability of the fingerprint across key order and formatting matters here.

Descriptive keywords (``title``, ``description``, ``examples``, ``$comment``, ...) are *kept*.
They do not change validation, but they are part of the contract an integrator publishes (the
Vietnamese labels live there), so a documentation-only edit is a new version with a new id, as in
Confluent Schema Registry; the compatibility engine ignores those keywords when it compares.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema import Draft202012Validator
from pydantic import BaseModel, ConfigDict

from lgsp_registry.domain.json_pointer import to_pointer
from lgsp_registry.domain.schema_refs import ref_problems

DIALECT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
_MAX_MESSAGE = 300


class Problem(BaseModel):
    """Why a document is not an acceptable JSON Schema 2020-12 contract."""

    model_config = ConfigDict(frozen=True)

    pointer: str
    message: str


def canonicalize(value: Any) -> Any:
    """Return a copy of a JSON value with sorted keys and normalised numbers."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a JSON number")
        # JSON Schema compares numbers by value, so 1.0 and 1 must share one spelling.
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(key): canonicalize(value[key]) for key in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [canonicalize(item) for item in value]
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def canonical_json(value: Any) -> str:
    """Serialise a JSON value in canonical form."""
    return json.dumps(
        canonicalize(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def fingerprint(schema: Any) -> str:
    """Return the sha256 hex digest of a schema's canonical form (its stable id)."""
    return hashlib.sha256(canonical_json(schema).encode("utf-8")).hexdigest()


def _non_finite(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(value, float) and not math.isfinite(value):
        yield path
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _non_finite(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _non_finite(item, (*path, str(index)))


def _shorten(message: str) -> str:
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."


def _meta_problems(schema: Mapping[str, Any]) -> list[Problem]:
    meta = Draft202012Validator(
        Draft202012Validator.META_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    errors = sorted(meta.iter_errors(schema), key=lambda e: [str(t) for t in e.absolute_path])
    return [
        Problem(
            pointer=to_pointer(str(token) for token in error.absolute_path),
            message=_shorten(error.message),
        )
        for error in errors
    ]


def check_schema(schema: Any) -> list[Problem]:
    """List every reason why a document is not a valid, self-contained 2020-12 schema."""
    if isinstance(schema, bool):
        return []
    if not isinstance(schema, Mapping):
        return [Problem(pointer="", message="a schema must be a JSON object or a boolean")]
    problems: list[Problem] = []
    dialect = schema.get("$schema")
    if dialect is not None and (
        not isinstance(dialect, str) or dialect.rstrip("#") != DIALECT_2020_12
    ):
        message = f"contracts use JSON Schema 2020-12 ({DIALECT_2020_12}), not {dialect!r}"
        problems.append(Problem(pointer="/$schema", message=message))
    problems.extend(
        Problem(pointer=to_pointer(path), message="NaN and Infinity are not JSON numbers")
        for path in _non_finite(schema)
    )
    if problems:
        return problems
    problems.extend(_meta_problems(schema))
    problems.extend(
        Problem(pointer=to_pointer(path), message=message) for path, message in ref_problems(schema)
    )
    return problems

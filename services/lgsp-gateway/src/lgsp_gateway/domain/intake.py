"""Turn an HTTP request (CloudEvents HTTP binding) into a CloudEvent, or say why not."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from lgsp_common.envelope import IMPORT_EXTENSION, IMPORT_RUN_PATTERN, CloudEvent, valid_import_run
from lgsp_common.problems import FieldError, ProblemError
from lgsp_vn.cccd import validate_cccd

STRUCTURED = "application/cloudevents+json"
BINARY = "application/json"
# The model defaults specversion to "1.0" for events the platform builds; an event that
# arrives must say it (CloudEvents 1.0: a required attribute).
_NO_SPECVERSION = (
    FieldError(
        pointer="/specversion",
        rule="required",
        message="specversion is required (ce-specversion header or attribute) and must be '1.0'",
    ),
)


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_json(body: bytes) -> Any:
    """Parse the body as JSON or raise a 400 problem."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ProblemError(
            400, "The body is not valid JSON", str(exc), problem_type="malformed-json"
        ) from exc


def invalid_event(exc: ValidationError | None, first: Sequence[FieldError] = ()) -> ProblemError:
    """Turn a CloudEvent validation error into a 422 problem naming each attribute."""
    errors = [*first] + [
        FieldError(
            pointer="".join(f"/{p}" for p in e["loc"]), rule=str(e["type"]), message=e["msg"]
        )
        for e in (exc.errors() if exc is not None else ())
    ]
    return ProblemError(
        422,
        "The CloudEvent attributes are not valid",
        f"{len(errors)} attribute(s) failed validation",
        problem_type="invalid-cloudevent",
        errors=errors,
    )


# A run of 12 digits standing alone (not inside a longer word or number), checked against the
# CCCD structure before it is called one. UUIDs are taken out first: one in a few thousand ends
# in a group of 12 decimal digits, and an event id must never be refused for being a UUID.
_DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z])[0-9]{12}(?![0-9A-Za-z])", re.ASCII)
_UUID = re.compile(
    r"(?<![0-9A-Za-z-])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
    r"(?![0-9A-Za-z-])",
    re.ASCII,
)


def carries_cccd(value: str) -> bool:
    """Tell whether a text holds a well-formed CCCD number with a known province code."""
    text = _UUID.sub(" ", value)
    return any(not validate_cccd(run.group()) for run in _DIGIT_RUN.finditer(text))


def _identifiers_in_attributes(attributes: Mapping[str, Any]) -> list[FieldError]:
    """Name each context attribute that carries a CCCD number (never the value itself).

    Attributes travel as Kafka headers and land in the audit trail; personal data belongs in
    `data`, where the contract governs and the platform masks it.
    """
    return [
        FieldError(
            pointer=f"/{name}",
            rule="personal-identifier",
            message="a context attribute must not carry a CCCD number: send it in data",
        )
        for name, value in attributes.items()
        if name != "data" and isinstance(value, str) and carries_cccd(value)
    ]


def import_run_error(value: object) -> FieldError | None:
    """Return the error of a malformed import run id (extension `lgspimport`), if it is."""
    if valid_import_run(value):
        return None
    return FieldError(
        pointer=f"/{IMPORT_EXTENSION}",
        rule="pattern",
        message=f"{IMPORT_EXTENSION} (the import run id) must match {IMPORT_RUN_PATTERN}",
    )


def event_from_attributes(attributes: dict[str, Any]) -> CloudEvent:
    """Validate an event's attributes and data; `specversion` must be there and be "1.0".

    `lgspimport`, when present, declares the event part of a historical import run (any
    source may import into its own topic): its value, the run id, must be well formed.
    """
    missing: Sequence[FieldError] = () if "specversion" in attributes else _NO_SPECVERSION
    if IMPORT_EXTENSION in attributes:
        error = import_run_error(attributes[IMPORT_EXTENSION])
        missing = [*missing, error] if error is not None else missing
    identifiers = _identifiers_in_attributes(attributes)
    if identifiers:
        raise invalid_event(None, [*missing, *identifiers])
    try:
        event = CloudEvent.model_validate(attributes)
    except ValidationError as exc:
        raise invalid_event(exc, missing) from exc
    if missing:
        raise invalid_event(None, missing)
    return event


def event_from_http(
    headers: Mapping[str, str], body: bytes, default_source: str | None = None
) -> CloudEvent:
    """Read a structured-mode or binary-mode CloudEvent; `source` defaults to the caller's."""
    media = _media_type(headers.get("content-type"))
    if media not in (STRUCTURED, BINARY):
        raise ProblemError(
            415,
            "Unsupported media type",
            f"send {STRUCTURED} (structured) or {BINARY} with ce-* headers (binary)",
            problem_type="unsupported-media-type",
        )
    document = parse_json(body)
    if media == STRUCTURED:
        if not isinstance(document, dict):
            raise ProblemError(
                422, "A structured CloudEvent must be a JSON object", problem_type="not-object"
            )
        attributes: dict[str, Any] = document
    else:
        attributes = {
            name[3:]: value for name, value in headers.items() if name.lower().startswith("ce-")
        }
        attributes["data"] = document
    attributes.setdefault("time", datetime.now(UTC).isoformat())
    if default_source:
        attributes.setdefault("source", default_source)
    return event_from_attributes(attributes)

"""Turning bad input and refusals into RFC 9457 answers that name the rule, never the value."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from lgsp_common.problems import FieldError, ProblemError
from lgsp_vn.cccd import is_well_formed, validate_cccd
from lgsp_vn.sex import Sex
from population_adapter.domain.purposes import FieldAuthorization, RefusalReason

M = TypeVar("M", bound=BaseModel)


def _pointer(loc: Sequence[int | str]) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in loc]
    return "/" + "/".join(parts) if parts else ""


def parse_body(model: type[M], body: bytes) -> M:
    """Parse a JSON body, or raise a 422 naming each failing field and rule."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = [
            FieldError(pointer=_pointer(e["loc"]), rule=e["type"], message=e["msg"])
            for e in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        raise ProblemError(
            422,
            "The request is not valid",
            f"{len(errors)} field(s) failed validation",
            problem_type="invalid-request",
            errors=errors,
        ) from None


def check_cccd(number: str, date_of_birth: date | None, sex: Sex | None) -> None:
    """Raise a 422 naming every CCCD rule the number breaks (format, province, century, year)."""
    violations = validate_cccd(number, date_of_birth, sex)
    if violations:
        raise ProblemError(
            422,
            "The citizen id is not valid",
            "broken rule(s): " + ", ".join(v.rule.value for v in violations),
            problem_type="invalid-cccd",
            errors=[
                FieldError(pointer="/cccd", rule=v.rule.value, message=v.message)
                for v in violations
            ],
        )


def loose_cccd(body: bytes) -> str | None:
    """Return the body's `cccd` if it is well formed, even when the rest of the body is not."""
    try:
        document: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    value = document.get("cccd") if isinstance(document, dict) else None
    return value if isinstance(value, str) and is_well_formed(value) else None


def access_denied(reason: str, message: str) -> ProblemError:
    """Build the 403 for a consumer that may not make this request, naming the rule."""
    return ProblemError(
        403,
        "Access denied",
        message,
        problem_type="access-denied",
        errors=[FieldError(pointer="", rule=str(reason), message=message)],
    )


def fields_refused(decision: FieldAuthorization, requested: Sequence[str] | None) -> ProblemError:
    """Build the 403 naming every refused field (unknown names are not echoed)."""
    if not decision.refused:
        message = (
            f"no field is both allowed for purpose '{decision.purpose.code}' and approved "
            "for this consumer"
        )
        return access_denied("NO_FIELD_GRANTED", message)
    positions = {name: index for index, name in enumerate(requested or ())}
    named = [r.field for r in decision.refused if r.reason is not RefusalReason.UNKNOWN_FIELD]
    unknown = len(decision.refused) - len(named)
    detail = "refused: " + ", ".join(named) if named else "refused"
    if unknown:
        detail += f" (+{unknown} unknown field name(s))"
    return ProblemError(
        403,
        "Fields refused",
        detail,
        problem_type="fields-refused",
        errors=[
            FieldError(
                pointer=f"/fields/{positions.get(r.field, 0)}",
                rule=r.reason.value,
                message=r.message,
            )
            for r in decision.refused
        ],
    )

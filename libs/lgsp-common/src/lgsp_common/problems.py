"""RFC 9457 problem details: one exception type and the FastAPI handlers that render it."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://lgsp.example.gov.vn/problems/"
log = logging.getLogger(__name__)


class FieldError(BaseModel):
    """One failing field, named by its JSON Pointer into the request body."""

    pointer: str
    rule: str
    message: str


class Problem(BaseModel):
    """The RFC 9457 body, with `errors` listing each failing field."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] = Field(default_factory=list)


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Document error answers as RFC 9457 problem+json for FastAPI's `responses=`."""
    return {
        code: {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}, "description": "Problem"}
        for code in codes
    }


class ProblemError(Exception):
    """Raise anywhere in a request to answer with a problem+json body."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        problem_type: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.problem = Problem(
            type=PROBLEM_BASE + problem_type if problem_type else "about:blank",
            title=title,
            status=status,
            detail=detail,
            errors=errors or [],
        )
        self.headers = headers or {}


def problem_response(
    problem: Problem, request: Request, headers: dict[str, str] | None = None
) -> JSONResponse:
    """Render a problem with its media type and the request path as `instance`."""
    body = problem.model_copy(update={"instance": problem.instance or request.url.path})
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _pointer(loc: tuple[Any, ...]) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in loc[1:]]
    return "/" + "/".join(parts) if parts else ""


_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _problem_schemas() -> dict[str, Any]:
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    return {**defs, "Problem": schema}


def _is_error(code: str) -> bool:
    return code == "default" or code[:1] in ("4", "5")


def _problem_schema(content: dict[str, Any]) -> dict[str, Any]:
    for media in (PROBLEM_MEDIA_TYPE, "application/json"):
        schema = (content.get(media) or {}).get("schema")
        if schema and not str(schema.get("$ref", "")).endswith(_VALIDATION_SCHEMAS):
            return dict(schema)
    return {"$ref": "#/components/schemas/Problem"}


def document_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Document every error answer as it is served: problem+json with the problem schema.

    FastAPI documents its own 422 as `application/json` with `HTTPValidationError`, and a
    `responses=` model under `application/json` too; the app serves problem+json for all of
    them (`setup_exception_handlers`). This rewrites each 4xx/5xx/default response to exactly
    one `application/problem+json` content (a route's own problem schema kept, e.g. a
    subclass), and drops FastAPI's validation schemas.
    """
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for code, response in operation.get("responses", {}).items():
                if _is_error(str(code)):
                    schema = _problem_schema(response.get("content") or {})
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": schema}}
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    for name, schema in _problem_schemas().items():
        schemas.setdefault(name, schema)
    return document


def _install_problem_openapi(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def setup_exception_handlers(app: FastAPI) -> None:
    """Make every error of the app an RFC 9457 problem+json answer, and document it so."""
    _install_problem_openapi(app)

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem_response(exc.problem, request, exc.headers)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        title = str(exc.detail) if exc.detail else "HTTP error"
        problem = Problem(title=title, status=exc.status_code)
        return problem_response(problem, request, dict(exc.headers or {}))

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            FieldError(pointer=_pointer(tuple(e["loc"])), rule=str(e["type"]), message=e["msg"])
            for e in exc.errors()
        ]
        problem = Problem(
            type=PROBLEM_BASE + "invalid-request",
            title="The request is not valid",
            status=422,
            detail=f"{len(errors)} field(s) failed validation",
            errors=errors,
        )
        return problem_response(problem, request)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        problem = Problem(title="Internal error", status=500, detail="The error was logged.")
        return problem_response(problem, request)

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_unexpected)

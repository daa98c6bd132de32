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


def setup_exception_handlers(app: FastAPI) -> None:
    """Make every error of the app an RFC 9457 problem+json answer."""

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

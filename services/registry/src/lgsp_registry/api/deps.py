"""Route dependencies: what the composition root started, and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from lgsp_common.problems import Problem, ProblemError
from lgsp_registry.adapters.store import set_actor
from lgsp_registry.bootstrap import Runtime
from lgsp_registry.domain.access import Principal, audit_actor
from lgsp_registry.metrics import RegistryMetrics
from lgsp_registry.service import keys
from lgsp_registry.service.context import Context
from lgsp_registry.service.errors import unauthorised


def get_runtime(request: Request) -> Runtime:
    """Return what `bootstrap()` started for this app; 503 before start-up finished."""
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    if runtime is None:
        raise ProblemError(503, "Starting up", "the registry is not ready yet")
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_context(runtime: RuntimeDep) -> Context:
    """Return the use cases' dependencies."""
    return runtime.ctx


def get_metrics(runtime: RuntimeDep) -> RegistryMetrics:
    """Return the registry's Prometheus series."""
    return runtime.metrics


ContextDep = Annotated[Context, Depends(get_context)]
MetricsDep = Annotated[RegistryMetrics, Depends(get_metrics)]
_bearer = HTTPBearer(auto_error=False, description="An API key or the operator token")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key")


async def caller(
    ctx: ContextDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    """Authenticate the caller of a write; 401 without a usable credential."""
    credential = bearer.credentials if bearer is not None else api_key
    if not credential:
        raise unauthorised("send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
    principal = await keys.authenticate(ctx, credential)
    if principal is None:
        raise unauthorised("the credential is unknown, revoked or expired")
    set_actor(audit_actor(principal))  # the changes of this request are audited as theirs
    return principal


CallerDep = Annotated[Principal, Depends(caller)]


def problems(*codes: int) -> dict[int | str, dict[str, object]]:
    """Document problem+json answers in the OpenAPI description."""
    return {code: {"model": Problem, "content": {"application/problem+json": {}}} for code in codes}


WRITE_PROBLEMS = problems(400, 401, 403, 404, 409, 413, 415, 422)

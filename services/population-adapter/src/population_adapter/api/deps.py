"""Route dependencies as `Annotated` aliases: the Runtime bootstrap built, the caller, the body."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from lgsp_common.problems import ProblemError
from population_adapter.bootstrap import Runtime
from population_adapter.service.access_record import CallerHeaders
from population_adapter.service.population_service import PopulationService

MAX_BODY_BYTES = 16 * 1024


async def get_runtime(request: Request) -> Runtime:
    """Return what `bootstrap()` started (async: no thread hop per request); 503 before."""
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    if runtime is None:
        raise ProblemError(503, "Starting up", "the adapter is not ready yet")
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def population_service(runtime: RuntimeDep) -> PopulationService:
    """Return the use cases."""
    return runtime.population


async def caller_headers(
    x_lgsp_gateway_token: Annotated[str | None, Header()] = None,
    x_lgsp_consumer: Annotated[str | None, Header()] = None,
    x_lgsp_purpose: Annotated[str | None, Header()] = None,
) -> CallerHeaders:
    """Collect what the gateway says about the caller."""
    return CallerHeaders(x_lgsp_gateway_token, x_lgsp_consumer, x_lgsp_purpose)


async def raw_body(request: Request) -> bytes:
    """Return the body unparsed (the use case parses it, so bad input is audited); 413 if big."""
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise ProblemError(413, "Body too large", f"the limit is {MAX_BODY_BYTES} bytes")
    return body


PopulationDep = Annotated[PopulationService, Depends(population_service)]
CallerDep = Annotated[CallerHeaders, Depends(caller_headers)]
RawBody = Annotated[bytes, Depends(raw_body)]

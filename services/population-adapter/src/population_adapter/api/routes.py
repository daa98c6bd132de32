"""POST /v1/verify and POST /v1/lookup: thin entrypoints over the population service.

Bodies are read raw and parsed by the service, so that an invalid body is audited like any
other access (FastAPI's own validation would answer before the service sees the request).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request

from lgsp_common.problems import Problem, ProblemError
from population_adapter.api.models import (
    LookupRequest,
    LookupResponse,
    VerifyRequest,
    VerifyResponse,
)
from population_adapter.service import CallerHeaders, PopulationService

MAX_BODY_BYTES = 16 * 1024
router = APIRouter(prefix="/v1", tags=["population"])
_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem} for code in (401, 403, 404, 413, 422, 503)
}


def _body_doc(model: type[VerifyRequest | LookupRequest]) -> dict[str, Any]:
    schema = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


async def population_service(request: Request) -> PopulationService:
    """Return the service the lifespan built (async: no thread hop per request)."""
    service: PopulationService = request.app.state.population
    return service


async def caller_headers(
    x_lgsp_gateway_token: Annotated[str | None, Header()] = None,
    x_lgsp_consumer: Annotated[str | None, Header()] = None,
    x_lgsp_purpose: Annotated[str | None, Header()] = None,
) -> CallerHeaders:
    """Collect what the gateway says about the caller."""
    return CallerHeaders(x_lgsp_gateway_token, x_lgsp_consumer, x_lgsp_purpose)


ServiceDep = Annotated[PopulationService, Depends(population_service)]
CallerDep = Annotated[CallerHeaders, Depends(caller_headers)]


async def _body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise ProblemError(413, "Body too large", f"the limit is {MAX_BODY_BYTES} bytes")
    return body


@router.post(
    "/verify",
    response_model=VerifyResponse,
    responses=_PROBLEMS,
    openapi_extra=_body_doc(VerifyRequest),
    summary="Xác thực thông tin công dân (verify an identity: match / no_match)",
)
async def verify(request: Request, caller: CallerDep, service: ServiceDep) -> VerifyResponse:
    """Answer whether a CCCD, full name and date of birth match; never return the record."""
    return await service.verify(caller, await _body(request))


@router.post(
    "/lookup",
    response_model=LookupResponse,
    responses=_PROBLEMS,
    openapi_extra=_body_doc(LookupRequest),
    summary="Tra cứu theo mục đích (purpose-bound lookup of a citizen's fields)",
)
async def lookup(request: Request, caller: CallerDep, service: ServiceDep) -> LookupResponse:
    """Return only the fields the declared purpose allows and the consumer was approved for."""
    return await service.lookup(caller, await _body(request))

"""POST /v1/verify and POST /v1/lookup: thin entrypoints over the population service.

Bodies are read raw and parsed by the use cases, so that an invalid body is audited like any
other access (FastAPI's own validation would answer before the service sees the request).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from lgsp_common.problems import Problem
from population_adapter.api.deps import CallerDep, PopulationDep, RawBody
from population_adapter.api.models import (
    LookupRequest,
    LookupResponse,
    VerifyRequest,
    VerifyResponse,
)

router = APIRouter(prefix="/v1", tags=["population"])
_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem} for code in (401, 403, 404, 413, 422, 503)
}


def _body_doc(model: type[VerifyRequest | LookupRequest]) -> dict[str, Any]:
    schema = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@router.post(
    "/verify",
    response_model=VerifyResponse,
    responses=_PROBLEMS,
    openapi_extra=_body_doc(VerifyRequest),
    summary="Xác thực thông tin công dân (verify an identity: match / no_match)",
)
async def verify(caller: CallerDep, body: RawBody, service: PopulationDep) -> VerifyResponse:
    """Answer whether a CCCD, full name and date of birth match; never return the record."""
    return await service.verify(caller, body)


@router.post(
    "/lookup",
    response_model=LookupResponse,
    responses=_PROBLEMS,
    openapi_extra=_body_doc(LookupRequest),
    summary="Tra cứu theo mục đích (purpose-bound lookup of a citizen's fields)",
)
async def lookup(caller: CallerDep, body: RawBody, service: PopulationDep) -> LookupResponse:
    """Return only the fields the declared purpose allows and the consumer was approved for."""
    return await service.lookup(caller, body)

"""Population reads through the gateway (connect once): verify an identity, purpose-bound lookup."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from lgsp_common.problems import problem_responses
from lgsp_gateway.api.deps import ReadBody, ReadsDep
from lgsp_gateway.service.population_reads import PopulationReads

router = APIRouter(prefix="/v1/population", tags=["population"])
ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "The adapter's answer (see the population adapter's OpenAPI)"},
    **problem_responses(401, 403, 413, 422, 503),
}
BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object", "description": "The population adapter's request body"}
            }
        },
    }
}


async def _relay(operation: str, request: Request, body: bytes, reads: PopulationReads) -> Response:
    relayed = await reads.relay(operation, request.headers, body)
    return Response(relayed.body, relayed.status, media_type=relayed.content_type)


@router.post(
    "/verify",
    responses=ANSWERS,
    openapi_extra=BODY,
    summary="Xác thực danh tính công dân (verify a citizen's identity: match / no_match)",
)
async def verify(request: Request, body: ReadBody, reads: ReadsDep) -> Response:
    """Relay a verification for an approved consumer; the record itself is never returned."""
    return await _relay("verify", request, body, reads)


@router.post(
    "/lookup",
    responses=ANSWERS,
    openapi_extra=BODY,
    summary="Tra cứu theo mục đích (purpose-bound lookup of a citizen's fields)",
)
async def lookup(request: Request, body: ReadBody, reads: ReadsDep) -> Response:
    """Relay a lookup; the adapter returns only the fields the consumer's purpose allows."""
    return await _relay("lookup", request, body, reads)

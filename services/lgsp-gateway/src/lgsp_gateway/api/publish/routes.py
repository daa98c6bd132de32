"""Publishing routes: one event, or a batch of CloudEvents."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from lgsp_common.problems import problem_responses
from lgsp_gateway.service.batch import BATCH_MEDIA_TYPE, publish_batch
from lgsp_gateway.state import GatewayState, gateway_state

router = APIRouter(prefix="/v1", tags=["events"])
StateDep = Annotated[GatewayState, Depends(gateway_state)]
PROBLEMS = problem_responses(400, 401, 403, 404, 413, 415, 422, 429, 503)
EVENT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"description": "the payload; attributes in ce-*"}},
            "application/cloudevents+json": {"schema": {"type": "object"}},
        },
    }
}


async def read_limited(request: Request, limit: int) -> bytes:
    """Read the body, stopping one byte past `limit` so an oversize body is never all in memory."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return b"".join(chunks)[: limit + 1]


class EventAccepted(BaseModel):
    """The broker stored the event here."""

    id: str
    topic: str
    partition: int
    offset: int


class BatchItem(BaseModel):
    """The fate of one event of a batch: placed (202) or refused (with its problem)."""

    index: int
    id: str | None
    status: int
    partition: int | None = None
    offset: int | None = None
    problem: dict[str, Any] | None = None


class BatchAccepted(BaseModel):
    """Per-event results of a batch."""

    items: list[BatchItem]


@router.post(
    "/topics/{topic}/events",
    status_code=202,
    response_model=EventAccepted,
    responses=PROBLEMS,
    openapi_extra=EVENT_BODY,
)
async def publish_event(topic: str, request: Request, state: StateDep) -> EventAccepted:
    """Publish one CloudEvent (binary: payload + ce-* headers; or structured); 202 once acked."""
    body = await read_limited(request, state.ingest.settings.max_body_bytes)
    accepted = await state.ingest.publish(topic, request.headers, body)
    return EventAccepted(
        id=accepted.id, topic=accepted.topic, partition=accepted.partition, offset=accepted.offset
    )


@router.post(
    "/topics/{topic}/batches",
    status_code=202,
    response_model=BatchAccepted,
    responses={
        207: {"model": BatchAccepted, "description": "Some events were refused"},
        **PROBLEMS,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {BATCH_MEDIA_TYPE: {"schema": {"type": "array", "items": {}}}},
        }
    },
)
async def publish_batch_route(topic: str, request: Request, state: StateDep) -> JSONResponse:
    """Publish up to the batch limit of structured CloudEvents; 202 if all acked, else 207."""
    body = await read_limited(request, state.ingest.settings.max_body_bytes)
    result = await publish_batch(state.ingest, topic, request.headers, body)
    items = [BatchItem.model_validate(item.__dict__) for item in result.items]
    content = BatchAccepted(items=items).model_dump(mode="json")
    return JSONResponse(content, status_code=result.status)

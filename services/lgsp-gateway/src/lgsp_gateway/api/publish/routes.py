"""Publishing routes (FastAPI): one event, or a batch of CloudEvents.

Single events normally never reach the route below: `fast_lane.py`, beside this module, answers
`POST /v1/topics/{topic}/events` before FastAPI's routing, calling the same use case
(`service/publish_after_ack.py`). The route stays as the OpenAPI description of that call and
serves it when the fast lane is off (`LGSP_GATEWAY_FAST_LANE=false`). Batches always come here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from lgsp_common.problems import problem_responses
from lgsp_gateway.api.deps import PublishBody, RuntimeDep
from lgsp_gateway.service.batch_after_ack import BATCH_MEDIA_TYPE

router = APIRouter(prefix="/v1", tags=["events"])
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
BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {BATCH_MEDIA_TYPE: {"schema": {"type": "array", "items": {}}}},
    }
}


class EventAccepted(BaseModel):
    """The broker stored the event here."""

    id: str
    topic: str
    partition: int
    offset: int


class BatchItem(BaseModel):
    """The fate of one event of a batch: placed (202) or refused (with its problem).

    `pointer` locates the item in the batch (`/2` is the third); the pointers of its problem's
    `errors` are relative to the item, and an item refused as a whole (not an object, another
    source) names `""`, the item itself, so every refused item says where it failed.
    """

    index: int
    pointer: str = Field(description="JSON Pointer of the item in the batch, e.g. /2")
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
async def publish_event(
    topic: str, request: Request, body: PublishBody, runtime: RuntimeDep
) -> EventAccepted:
    """Publish one CloudEvent (binary: payload + ce-* headers; or structured); 202 once acked."""
    accepted = await runtime.publish.publish(topic, request.headers, body)
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
    openapi_extra=BATCH_BODY,
)
async def publish_batch_route(
    topic: str,
    request: Request,
    body: PublishBody,
    runtime: RuntimeDep,
    import_run: Annotated[
        str | None,
        Header(
            alias="lgsp-import-run",
            description="Historical import: every event of the batch belongs to this import "
            "run (as if each carried the CloudEvents extension `lgspimport`); its events may "
            "fill KPI windows that were never live, once. 1-64 characters: letters, digits, "
            "`.`, `_`, `:`, `-`, starting with a letter or digit",
        ),
    ] = None,
) -> JSONResponse:
    """Publish up to the batch limit of structured CloudEvents; 202 if all acked, else 207."""
    del import_run  # read from the headers by the use case; declared here for the OpenAPI
    result = await runtime.batch.publish(topic, request.headers, body)
    items = [batch_item(item.__dict__) for item in result.items]
    content = BatchAccepted(items=items).model_dump(mode="json")
    return JSONResponse(content, status_code=result.status)


def batch_item(result: dict[str, Any]) -> BatchItem:
    """Render one item's result; a refused item's problem always names where it failed."""
    problem = result.get("problem")
    if problem is not None and not problem.get("errors") and 400 <= result["status"] < 500:
        rule = str(problem.get("type", "")).rsplit("/", 1)[-1] or "refused"
        message = str(problem.get("detail") or problem.get("title") or "refused")
        problem = {**problem, "errors": [{"pointer": "", "rule": rule, "message": message}]}
    pointer = f"/{result['index']}"
    return BatchItem.model_validate({**result, "problem": problem, "pointer": pointer})

"""POST /v1/topics/{topic}/events: accept one event, enforce its contract, produce it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from lgsp_common.problems import Problem, ProblemError
from lgsp_gateway.adapters.publisher import BrokerUnavailableError
from lgsp_gateway.domain.contracts import Contract
from lgsp_gateway.domain.intake import event_from_http
from lgsp_gateway.state import GatewayState, gateway_state

router = APIRouter(prefix="/v1", tags=["events"])
StateDep = Annotated[GatewayState, Depends(gateway_state)]


class EventAccepted(BaseModel):
    """The broker stored the event here."""

    id: str
    topic: str
    partition: int
    offset: int


def _contract(state: GatewayState, topic: str) -> Contract:
    contract = state.contracts.get(topic)
    if contract is None:
        raise ProblemError(
            404,
            "Unknown topic",
            f"no contract is registered for topic {topic!r}",
            problem_type="unknown-topic",
        )
    return contract


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ProblemError(
            413, "Body too large", f"the limit is {limit} bytes", problem_type="body-too-large"
        )
    body = await request.body()
    if len(body) > limit:
        raise ProblemError(
            413, "Body too large", f"the limit is {limit} bytes", problem_type="body-too-large"
        )
    return body


@router.post(
    "/topics/{topic}/events",
    status_code=202,
    response_model=EventAccepted,
    responses={code: {"model": Problem} for code in (400, 404, 413, 415, 422, 503)},
)
async def publish_event(topic: str, request: Request, state: StateDep) -> EventAccepted:
    """Validate one CloudEvent against its topic's contract; answer 202 once Kafka acked it."""
    contract = _contract(state, topic)
    body = await _read_body(request, state.settings.max_body_bytes)
    event = event_from_http(request.headers, body)
    errors = contract.violations(event.data)
    if errors:
        state.metrics.rejected.labels(topic, "contract").inc()
        raise ProblemError(
            422,
            "The event breaks its contract",
            f"{len(errors)} field(s) failed validation",
            problem_type="contract-violation",
            errors=errors,
        )
    key = contract.key_of(event.data)
    event = event.model_copy(
        update={"dataschema": event.dataschema or contract.schema_uri, "subject": key}
    )
    try:
        placement = await state.publisher.publish(topic, event, key)
    except BrokerUnavailableError as exc:
        state.metrics.rejected.labels(topic, "broker_unavailable").inc()
        retry = str(state.settings.retry_after_s)
        raise ProblemError(
            503,
            "Kafka did not acknowledge the event",
            f"{exc}; nothing was accepted",
            problem_type="broker-unavailable",
            headers={"Retry-After": retry},
        ) from exc
    state.metrics.accepted.labels(topic).inc()
    return EventAccepted(
        id=event.id, topic=topic, partition=placement.partition, offset=placement.offset
    )

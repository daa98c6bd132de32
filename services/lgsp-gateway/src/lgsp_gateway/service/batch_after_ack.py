"""The batch publish use case: up to N structured CloudEvents, each accepted or refused."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from lgsp_common.envelope import CloudEvent
from lgsp_common.problems import ProblemError
from lgsp_gateway.adapters.directory import Caller
from lgsp_gateway.adapters.publisher import BrokerUnavailableError
from lgsp_gateway.domain.intake import invalid_event, parse_json
from lgsp_gateway.service.ingest import Call, Ingest
from lgsp_gateway.service.rejections import Rejection, too_large

BATCH_MEDIA_TYPE = "application/cloudevents-batch+json"


@dataclass
class ItemResult:
    """The fate of one event of a batch."""

    index: int
    id: str | None
    status: int
    partition: int | None = None
    offset: int | None = None
    problem: dict[str, Any] | None = None


@dataclass
class BatchResult:
    """Per-event results; `status` is 202 when all were accepted, else 207."""

    items: list[ItemResult] = field(default_factory=list)

    @property
    def status(self) -> int:
        """Return 202 if every event was accepted, 207 (multi-status) otherwise."""
        return 202 if all(i.status == 202 for i in self.items) else 207


def _events(ingest: Ingest, call: Call) -> list[Any]:
    media = (call.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if media != BATCH_MEDIA_TYPE:
        problem = ProblemError(
            415, "Unsupported media type", f"send {BATCH_MEDIA_TYPE} (a JSON array of events)"
        )
        raise Rejection.wrap(problem, "media_type")
    try:
        document = parse_json(call.body)
    except ProblemError as problem:
        raise Rejection.wrap(problem, "malformed_json") from None
    if not isinstance(document, list) or not document:
        raise Rejection(422, "invalid_event", "A batch is a non-empty JSON array of CloudEvents")
    if len(document) > ingest.settings.max_batch_events:
        raise too_large(ingest.settings.max_batch_events, "batch")
    return document


def _check_item(ingest: Ingest, call: Call, caller: Caller, raw: Any) -> tuple[CloudEvent, Any]:
    if not isinstance(raw, dict):
        raise Rejection(422, "invalid_event", "Each batch item must be a CloudEvent object")
    raw.setdefault("time", call.received_at.isoformat())
    raw.setdefault("source", f"/sources/{caller.id}")
    try:
        event = CloudEvent.model_validate(raw)
    except ValidationError as exc:
        raise Rejection.wrap(invalid_event(exc), "invalid_event") from None
    if event.source != f"/sources/{caller.id}":
        raise Rejection(403, "forbidden", "Not allowed", "the event claims another source")
    return event, ingest.contract_for(call, event)


async def publish_batch(ingest: Ingest, topic: str, headers: Any, body: bytes) -> BatchResult:
    """Check every event, produce the valid ones together, report each one's fate."""
    call = Call(topic, headers, body, datetime.now(UTC))
    caller: Caller | None = None
    try:
        caller = ingest.authorise(call)
        if len(body) > ingest.settings.max_body_bytes:
            raise too_large(ingest.settings.max_body_bytes)
        documents = _events(ingest, call)
        ingest.limit(caller, len(documents))
    except Rejection as rejection:
        await ingest.refused(call, caller, rejection, [headers.get("ce-id") or "batch"])
        raise
    result = BatchResult()
    valid: list[tuple[int, CloudEvent, Any]] = []
    for index, raw in enumerate(documents):
        try:
            event, contract = _check_item(ingest, call, caller, raw)
            valid.append((index, event, contract))
        except Rejection as rejection:
            event_id = raw.get("id") if isinstance(raw, dict) else None
            item_call = Call(topic, headers, _item_bytes(raw), call.received_at)
            await ingest.refused(item_call, caller, rejection, [str(event_id or f"item-{index}")])
            result.items.append(
                ItemResult(
                    index,
                    event_id,
                    rejection.problem.status,
                    problem=rejection.problem.model_dump(exclude_none=True),
                )
            )
    await _produce(ingest, call, caller, valid, result)
    result.items.sort(key=lambda item: item.index)
    return result


async def _produce(
    ingest: Ingest,
    call: Call,
    caller: Caller,
    valid: list[tuple[int, CloudEvent, Any]],
    result: BatchResult,
) -> None:
    if not valid:
        return
    items = []
    for _, event, contract in valid:
        key = contract.key_of(event.data)
        items.append(
            (event.model_copy(update={"dataschema": contract.schema_uri, "subject": key}), key)
        )
    placements = await ingest.publisher.publish_many(call.topic, items)
    accepted: list[str] = []
    for (index, event, _), placement in zip(valid, placements, strict=True):
        if isinstance(placement, BrokerUnavailableError):
            problem = {"title": "Kafka did not acknowledge the event", "status": 503}
            result.items.append(ItemResult(index, event.id, 503, problem=problem))
            ingest.metrics.rejected.labels(caller.id, call.topic, "broker_unavailable").inc()
        else:
            result.items.append(
                ItemResult(index, event.id, 202, placement.partition, placement.offset)
            )
            accepted.append(event.id)
    ingest.metrics.accepted.labels(caller.id, call.topic).inc(len(accepted))
    status = 202 if len(accepted) == len(valid) else 503
    await ingest.audit(call, caller, "success" if accepted else "error", status, accepted)


def _item_bytes(raw: Any) -> bytes:
    try:
        return orjson.dumps(raw)
    except TypeError:
        return repr(raw).encode()

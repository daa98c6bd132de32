"""Publish a batch: up to N structured CloudEvents, each placed (202 after its ack) or refused.

The whole call is refused (one problem) when the caller, the body size, the media type, the JSON
or the batch size is wrong, or the source is over its rate. Otherwise each event gets its own
fate: refused with its problem (dead-lettered and audited), or produced together with the other
valid ones and reported 202 only once the broker acknowledged it (503 for those it did not).
The answer is 202 when every event was placed, 207 (multi-status) otherwise, and leaves only
once every audit record of the call (the produced events' and each refused item's) is
acknowledged; if one is not, the whole call is `503 audit_unavailable` with Retry-After, whose
detail says how many events were nevertheless written (resending the batch is safe, see
`outcomes.DUPLICATE_NOTE`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from lgsp_common.envelope import IMPORT_EXTENSION, CloudEvent
from lgsp_common.problems import ProblemError
from lgsp_gateway.adapters.acked_publisher import AckedPublisher, BrokerUnavailableError
from lgsp_gateway.adapters.audit_log import AuditUnavailableError
from lgsp_gateway.domain.callers import Caller
from lgsp_gateway.domain.contracts import Contract
from lgsp_gateway.domain.intake import event_from_attributes, import_run_error, parse_json
from lgsp_gateway.domain.rejections import Rejection, too_large
from lgsp_gateway.service.gatekeeper import Call, Gatekeeper
from lgsp_gateway.service.outcomes import DUPLICATE_NOTE, Outcomes, audit_unavailable
from lgsp_gateway.settings import GatewaySettings

BATCH_MEDIA_TYPE = "application/cloudevents-batch+json"
# A batch-level flag: every event of the batch is part of this historical import run (as if
# each carried the CloudEvents extension `lgspimport` with this value).
IMPORT_RUN_HEADER = "lgsp-import-run"
Valid = list[tuple[int, CloudEvent, Contract]]


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


class BatchAfterAck:
    """The batch use case: whole-call checks, per-event checks, one produce, per-event acks."""

    def __init__(
        self,
        settings: GatewaySettings,
        gate: Gatekeeper,
        publisher: AckedPublisher,
        outcomes: Outcomes,
    ) -> None:
        self.settings = settings
        self._gate = gate
        self._publisher = publisher
        self._outcomes = outcomes

    async def publish(self, topic: str, headers: Mapping[str, str], body: bytes) -> BatchResult:
        """Check every event, produce the valid ones together, report each one's fate."""
        call = Call(topic, headers, body, datetime.now(UTC))
        caller: Caller | None = None
        try:
            caller = self._gate.authorise(call)
            if len(body) > self.settings.max_body_bytes:
                raise too_large(self.settings.max_body_bytes)
            documents = self._events(call)
            self._gate.limit(caller, len(documents))
        except Rejection as rejection:
            await self._outcomes.refused(call, caller, rejection, [headers.get("ce-id") or "batch"])
            raise
        valid: Valid = []
        refusals: list[Awaitable[tuple[ItemResult, bool]]] = []
        for index, raw in enumerate(documents):
            try:
                event, contract = self._check_item(call, caller, raw)
                valid.append((index, event, contract))
            except Rejection as rejection:
                refusals.append(self._refuse_item(call, caller, index, raw, rejection))
        # The refusals are audited (in item order) while the valid events are produced.
        (placed, unaudited), refused = await asyncio.gather(
            self._produce(call, caller, valid), asyncio.gather(*refusals)
        )
        result = BatchResult(placed + [item for item, _ in refused])
        result.items.sort(key=lambda item: item.index)
        if unaudited is None and not all(recorded for _, recorded in refused):
            unaudited = AuditUnavailableError("refused", "a refused item's record was not taken")
        if unaudited is not None:
            raise self._unaudited(call, caller, result, unaudited)
        return result

    def _unaudited(
        self, call: Call, caller: Caller, result: BatchResult, error: AuditUnavailableError
    ) -> Rejection:
        """503 for the whole batch: no 2xx without every audit record; say what was written."""
        written = sum(1 for item in result.items if item.status == 202)
        self._outcomes.metrics.rejected.labels(caller.id, call.topic, "audit_unavailable").inc()
        outcome = (
            f"{written} of the batch's {len(result.items)} events were written to {call.topic} "
            "but none is accepted; " + DUPLICATE_NOTE
        )
        return audit_unavailable(error, self.settings.retry_after_s, outcome)

    def _events(self, call: Call) -> list[Any]:
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
            raise Rejection(
                422, "invalid_event", "A batch is a non-empty JSON array of CloudEvents"
            )
        if len(document) > self.settings.max_batch_events:
            raise too_large(self.settings.max_batch_events, "batch")
        run = call.headers.get(IMPORT_RUN_HEADER)
        error = import_run_error(run) if run is not None else None
        if error is not None:
            raise Rejection(
                422, "invalid_event", "The import run id is not valid",
                f"the {IMPORT_RUN_HEADER} header: {error.message}",
                errors=[error.model_copy(update={"pointer": ""})],
            )  # fmt: skip
        return document

    def _check_item(self, call: Call, caller: Caller, raw: Any) -> tuple[CloudEvent, Contract]:
        if not isinstance(raw, dict):
            raise Rejection(422, "invalid_event", "Each batch item must be a CloudEvent object")
        raw.setdefault("time", call.received_at.isoformat())
        raw.setdefault("source", f"/sources/{caller.id}")
        run = call.headers.get(IMPORT_RUN_HEADER)
        if run is not None and raw.setdefault(IMPORT_EXTENSION, run) != run:
            raise Rejection(
                422, "invalid_event", "The event names another import run",
                f"{IMPORT_EXTENSION} differs from the batch's {IMPORT_RUN_HEADER} header",
            )  # fmt: skip
        try:
            event = event_from_attributes(raw)
        except ProblemError as problem:
            raise Rejection.wrap(problem, "invalid_event") from None
        if event.source != f"/sources/{caller.id}":
            raise Rejection(403, "forbidden", "Not allowed", "the event claims another source")
        return self._gate.admit(call, event)

    async def _refuse_item(
        self, call: Call, caller: Caller, index: int, raw: Any, rejection: Rejection
    ) -> tuple[ItemResult, bool]:
        event_id = raw.get("id") if isinstance(raw, dict) else None
        item_call = Call(call.topic, call.headers, _item_bytes(raw), call.received_at)
        recorded = await self._outcomes.refused(
            item_call, caller, rejection, [str(event_id or f"item-{index}")]
        )
        problem = rejection.problem.model_dump(exclude_none=True)
        return ItemResult(index, event_id, rejection.problem.status, problem=problem), recorded

    async def _produce(
        self, call: Call, caller: Caller, valid: Valid
    ) -> tuple[list[ItemResult], AuditUnavailableError | None]:
        """Produce the valid events, then audit them; return their items and any audit error."""
        if not valid:
            return [], None
        items = []
        for _, event, contract in valid:
            key = contract.key_of(event.data)
            items.append(
                (event.model_copy(update={"dataschema": contract.schema_uri, "subject": key}), key)
            )
        placements = await self._publisher.publish_many(call.topic, items)
        results: list[ItemResult] = []
        accepted: list[str] = []
        for (index, event, _), placement in zip(valid, placements, strict=True):
            if isinstance(placement, BrokerUnavailableError):
                problem = {"title": "Kafka did not acknowledge the event", "status": 503}
                results.append(ItemResult(index, event.id, 503, problem=problem))
                self._outcomes.metrics.rejected.labels(
                    caller.id, call.topic, "broker_unavailable"
                ).inc()
            else:
                results.append(
                    ItemResult(index, event.id, 202, placement.partition, placement.offset)
                )
                accepted.append(event.id)
        status = 202 if len(accepted) == len(valid) else 503
        try:
            await self._outcomes.audit(
                call, caller, "success" if accepted else "error", status, accepted
            )
        except AuditUnavailableError as error:
            return results, error
        self._outcomes.accepted(caller, call.topic, len(accepted))
        return results, None


def _item_bytes(raw: Any) -> bytes:
    try:
        return orjson.dumps(raw)
    except TypeError:
        return repr(raw).encode()

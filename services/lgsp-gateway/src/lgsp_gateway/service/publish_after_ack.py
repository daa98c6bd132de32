"""Publish one event: check it, produce it, and accept it (202) only after the broker's ack.

The order is fixed: authorise, rate-limit, size, parse, select and enforce the contract, then
produce with the entity key and wait for the ack (`adapters/acked_publisher.py`). No ack in
time is a 503 with Retry-After, never a 202. Every refusal is counted, dead-lettered when the
input was at fault, and audited before it is raised (`service/outcomes.py`). The 202 itself
leaves only once the call's audit record is acknowledged too; if it is not, the answer is `503
audit_unavailable` with Retry-After, which says that the event is on the topic (`DUPLICATE_NOTE`:
the gateway does not deduplicate, so a retry writes a second copy with the same `ce-id`).

Both HTTP paths call `PublishAfterAck.publish`: the plain-ASGI fast lane
(`api/publish/fast_lane.py`, the default) and the documented FastAPI route
(`api/publish/routes.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from lgsp_common.envelope import CloudEvent
from lgsp_common.ids import new_id
from lgsp_gateway.adapters.acked_publisher import AckedPublisher, BrokerUnavailableError
from lgsp_gateway.adapters.audit_log import AuditUnavailableError
from lgsp_gateway.domain.callers import Caller
from lgsp_gateway.domain.contracts import Contract
from lgsp_gateway.domain.rejections import Rejection, too_large
from lgsp_gateway.service.gatekeeper import Call, Gatekeeper
from lgsp_gateway.service.outcomes import DUPLICATE_NOTE, Outcomes, audit_unavailable
from lgsp_gateway.settings import GatewaySettings


@dataclass(frozen=True)
class Accepted:
    """An event the broker acknowledged."""

    id: str
    topic: str
    partition: int
    offset: int


class PublishAfterAck:
    """The single-event use case; the HTTP layer only translates in and out."""

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

    async def publish(self, topic: str, headers: Mapping[str, str], body: bytes) -> Accepted:
        """Publish one event; raise a Rejection (already audited and dead-lettered) on refusal."""
        call = Call(topic, headers, body, datetime.now(UTC))
        caller: Caller | None = None
        event_id = headers.get("ce-id") or ""  # until the event is parsed
        gate = self._gate
        try:
            caller = gate.authorise(call)
            gate.limit(caller, 1)
            if len(body) > self.settings.max_body_bytes:
                raise too_large(self.settings.max_body_bytes)
            event = gate.parse(call, caller)
            event_id = event.id
            event, contract = gate.admit(call, event)
            accepted = await self._produce(call, event, contract)
        except Rejection as rejection:
            await self._outcomes.refused(call, caller, rejection, [event_id or new_id()])
            raise
        try:
            await self._outcomes.audit(call, caller, "success", 202, [accepted.id])
        except AuditUnavailableError as error:
            self._outcomes.metrics.rejected.labels(caller.id, topic, "audit_unavailable").inc()
            written = (
                f"the event {accepted.id} was written to {topic} (partition "
                f"{accepted.partition}, offset {accepted.offset}) but is not accepted; "
            )
            raise audit_unavailable(
                error, self.settings.retry_after_s, written + DUPLICATE_NOTE
            ) from error
        self._outcomes.accepted(caller, topic)
        return accepted

    async def _produce(self, call: Call, event: CloudEvent, contract: Contract) -> Accepted:
        """Produce with the entity key; 503 with Retry-After if the broker does not ack."""
        key = contract.key_of(event.data)
        event = event.model_copy(update={"dataschema": contract.schema_uri, "subject": key})
        try:
            placement = await self._publisher.publish(call.topic, event, key)
        except BrokerUnavailableError as exc:
            raise broker_unavailable(str(exc), self.settings.retry_after_s) from exc
        return Accepted(event.id, call.topic, placement.partition, placement.offset)


def broker_unavailable(cause: str, retry_after_s: int) -> Rejection:
    """The broker did not acknowledge: 503, send the event again after Retry-After."""
    return Rejection(
        503,
        "broker_unavailable",
        "Kafka did not acknowledge the event",
        f"{cause}; the event was not accepted, send it again",
        headers={"Retry-After": str(retry_after_s)},
    )

"""Rejected events go to `lgsp.dlq` with every reason, so nothing refused silently disappears.

The record's copy of the payload never holds personal data in clear (`domain.redaction`): CCCD
and CMND numbers are masked wherever they stand, and, once the topic's contracts are known
(`schemas`), so are the values of personal-data and undeclared properties. The record names
every masked value's pointer, type and length.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import orjson
from prometheus_client import Counter

from lgsp_common.problems import FieldError
from lgsp_gateway.adapters.producer import Producer
from lgsp_gateway.domain.redaction import FieldPolicy, Redaction, Redactor, redact_reasons
from lgsp_vn.masking import mask_identifiers

log = logging.getLogger(__name__)
PAYLOAD_LIMIT = 65_536
_BARE_NUMBER = re.compile(r"[0-9]{9}|[0-9]{12}")
# topic -> the JSON Schemas of its contract versions (empty when none is registered)
SchemaLookup = Callable[[str], Sequence[Mapping[str, Any]]]


class ContractEntries(Protocol):
    """The part of the registry copy that lists contract entries."""

    def items(self, kind: str) -> list[dict[str, Any]]: ...


def registry_schemas(registry: ContractEntries) -> SchemaLookup:
    """Return a lookup of a topic's contract schemas in the registry copy."""

    def schemas(topic: str) -> list[Mapping[str, Any]]:
        return [
            entry["schema"]
            for entry in registry.items("contract")
            if entry.get("subject") == topic and isinstance(entry.get("schema"), Mapping)
        ]

    return schemas


def masked_event_id(event_id: str) -> str:
    """Mask an id that is a bare CCCD or CMND number (never part of one: ids must stay joinable)."""
    # UUIDs and hex ids hold standalone digit runs often enough that masking those would break
    # the join of a DLQ record with its 4xx answer; an id that *is* a number is personal data.
    return mask_identifiers(event_id) if _BARE_NUMBER.fullmatch(event_id) else event_id


def redact_payload(payload: bytes, policy: FieldPolicy | None) -> tuple[str, Redaction]:
    """Return the payload's text with personal data masked, and what was masked."""
    text = payload.decode("utf-8", "replace")
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError:  # not JSON (or cut at the size limit): free text
        masked = mask_identifiers(text)
        found = Redaction()
        if masked != text:
            found.masked.append(
                {"pointer": "", "type": "text", "length": len(text), "why": "identifier"}
            )
        return masked, found
    redacted, found = Redactor(policy).document(document)
    if not found.masked:
        return text, found  # nothing to hide: keep the bytes as they were sent
    return orjson.dumps(redacted).decode(), found


class DeadLetters:
    """Produces one DLQ record per rejected event (not awaited: the answer is not delayed)."""

    def __init__(
        self,
        producer: Producer,
        topic: str,
        failures: Counter,
        schemas: SchemaLookup | None = None,
    ) -> None:
        self._producer = producer
        self._topic = topic
        self._failures = failures
        self._schemas = schemas

    def _policy(self, topic: str) -> FieldPolicy | None:
        if self._schemas is None:
            return None  # contracts unknown: identifiers are masked, values kept
        return FieldPolicy.of(self._schemas(topic))

    async def send(
        self,
        *,
        event_id: str,
        topic: str,
        source_id: str,
        received_at: datetime,
        reasons: list[FieldError],
        payload: bytes,
        dataschema: str | None = None,
        traceparent: str | None = None,
    ) -> None:
        """Queue the DLQ record; a failure to deliver it is logged and counted."""
        text, found = redact_payload(payload, self._policy(topic))
        event_id = masked_event_id(event_id)
        record: dict[str, object] = {
            "event_id": event_id,
            "original_topic": topic,
            "source": f"/sources/{source_id}",
            "received_at": received_at.isoformat(),
            "reasons": redact_reasons(reasons, found.hidden),
            "payload": text[:PAYLOAD_LIMIT],
            "payload_truncated": len(text) > PAYLOAD_LIMIT,
        }
        if found.masked:
            record["masked"] = found.masked
        if dataschema:
            record["dataschema"] = dataschema
        if traceparent:
            record["traceparent"] = traceparent
        headers = [("content-type", b"application/json")]
        if traceparent:
            headers.append(("traceparent", traceparent.encode()))
        future = await self._producer.send(
            self._topic, orjson.dumps(record), key=event_id.encode(), headers=headers
        )
        future.add_done_callback(self._on_delivery)

    def _on_delivery(self, future: object) -> None:
        exception = future.exception()  # type: ignore[attr-defined]
        if exception is not None:
            self._failures.labels("dlq").inc()
            log.error("DLQ record not delivered", extra={"error": repr(exception)})

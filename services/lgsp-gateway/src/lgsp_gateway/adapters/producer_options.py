"""The gateway's two producers, events and audit records, built from the platform's options.

Both start from `lgsp_common.kafka.producer_options` (idempotent, acks=all, 256 KiB batches);
the audit producer only lingers less (`AUDIT_LINGER_MS`). The benches build their raw baseline
from `gateway_producer_options`, so the baseline and the gateway share every option.
"""

from __future__ import annotations

from typing import Any, Literal

from lgsp_common.kafka import ResilientProducer, producer_options
from lgsp_gateway.settings import GatewaySettings

SERVICE = "lgsp-gateway"
ProducerRole = Literal["events", "audit"]


def producer_overrides(settings: GatewaySettings, role: ProducerRole) -> dict[str, Any]:
    """Return what a gateway producer changes in the platform's producer options."""
    return {"linger_ms": settings.audit_linger_ms} if role == "audit" else {}


def gateway_producer_options(settings: GatewaySettings, role: ProducerRole) -> dict[str, Any]:
    """Return the whole configuration of one of the gateway's producers."""
    return producer_options(settings.kafka, _client_id(role), **producer_overrides(settings, role))


def gateway_producer(settings: GatewaySettings, role: ProducerRole) -> ResilientProducer:
    """Build the events producer or the audit records' producer."""
    return ResilientProducer(settings.kafka, _client_id(role), **producer_overrides(settings, role))


def _client_id(role: ProducerRole) -> str:
    return SERVICE if role == "events" else f"{SERVICE}-{role}"

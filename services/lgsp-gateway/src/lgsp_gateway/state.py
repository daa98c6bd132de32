"""The gateway's runtime state, built in the lifespan and reached by routes through Depends."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from prometheus_client import CollectorRegistry, Counter

from lgsp_gateway.adapters.publisher import EventPublisher
from lgsp_gateway.domain.contracts import Contract
from lgsp_gateway.settings import GatewaySettings


@dataclass
class GatewayMetrics:
    """The gateway's own Prometheus series."""

    accepted: Counter
    rejected: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> GatewayMetrics:
        """Register the series on the app's registry."""
        return cls(
            accepted=Counter(
                "gateway_events_accepted",
                "Events acknowledged by Kafka",
                ["topic"],
                registry=registry,
            ),
            rejected=Counter(
                "gateway_events_rejected",
                "Events refused, by reason",
                ["topic", "reason"],
                registry=registry,
            ),
        )


@dataclass
class GatewayState:
    """What a request handler needs."""

    settings: GatewaySettings
    contracts: dict[str, Contract]
    publisher: EventPublisher
    metrics: GatewayMetrics


def gateway_state(request: Request) -> GatewayState:
    """Return the state the lifespan stored on the app."""
    state: GatewayState = request.app.state.gateway
    return state

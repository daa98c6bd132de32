"""The delivery worker's app: `create_app(settings)` (health, readiness, metrics) and entrypoint.

The worker's job runs in the lifespan (`bootstrap()`); the HTTP side only answers `/healthz`,
`/readyz` (Kafka reachable, registry copy caught up) and `/metrics`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from lgsp_common.entrypoint import ServiceEntrypoint
from lgsp_common.http import create_service_app
from lgsp_common.kafka import KafkaProbe
from lgsp_common.telemetry import setup_tracing
from lgsp_gateway.delivery.bootstrap import SERVICE, Parts, Runtime, bootstrap
from lgsp_gateway.delivery.metrics import DeliveryMetrics
from lgsp_gateway.delivery.settings import WebhookSettings


def create_app(settings: WebhookSettings | None = None, **fakes: Any) -> FastAPI:
    """Build the worker app; fakes (producer, registry, http, create_topics) go to bootstrap."""
    settings = settings or WebhookSettings()
    metrics_registry = CollectorRegistry()
    provider = setup_tracing(SERVICE)
    parts = Parts(
        metrics=DeliveryMetrics.create(metrics_registry),
        tracer=provider.get_tracer(SERVICE),
        probe=KafkaProbe(settings.kafka, SERVICE, settings.readiness_timeout_s),
        tracing=lambda: bool(getattr(provider, "exporting", True)),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with bootstrap(settings, parts, **fakes) as runtime:
            app.state.runtime = runtime
            yield

    async def registry_ready() -> tuple[bool, str]:
        runtime: Runtime | None = getattr(app.state, "runtime", None)
        caught_up = runtime is not None and runtime.registry.caught_up
        return caught_up, "caught up" if caught_up else "replaying lgsp.registry"

    app = create_service_app(
        title="LGSP webhook delivery",
        description="Đẩy dữ liệu qua webhook (webhook delivery): signed pushes to subscribers.",
        version="0.1.0",
        lifespan=lifespan,
        registry=metrics_registry,
        tracer_provider=provider,
        checks={"kafka": parts.probe.check, "registry": registry_ready},
    )
    return app


entrypoint = ServiceEntrypoint(SERVICE, WebhookSettings, create_app, f"{__name__}:app_factory")
app_factory = entrypoint.app_factory
run = entrypoint.run

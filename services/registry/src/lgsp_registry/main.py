"""The registry's app: `create_app(settings)` and the process entrypoint.

`create_app` builds only what /metrics and /readyz need before start-up; everything else is
opened by `bootstrap()` in the lifespan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from lgsp_common.entrypoint import ServiceEntrypoint
from lgsp_common.http import create_service_app
from lgsp_common.kafka import KafkaProbe
from lgsp_common.telemetry import setup_tracing
from lgsp_registry.adapters.outbox_publisher import TopicMaker
from lgsp_registry.api import (
    audit,
    catalogue,
    consumers,
    contracts,
    kpis,
    organisations,
    tokens,
    webhooks,
)
from lgsp_registry.api.guard import BodyGuard
from lgsp_registry.bootstrap import SERVICE, Parts, ProducerFactory, Runtime, bootstrap
from lgsp_registry.metrics import RegistryMetrics
from lgsp_registry.settings import RegistrySettings


def create_app(
    settings: RegistrySettings | None = None,
    *,
    producer_factory: ProducerFactory | None = None,
    make_topics: TopicMaker | None = None,
) -> FastAPI:
    """Build the registry app; database, credential and publisher open with the lifespan."""
    settings = settings or RegistrySettings()
    registry = CollectorRegistry()
    provider = setup_tracing(SERVICE)
    probe = KafkaProbe(settings.kafka, SERVICE, settings.readiness_timeout_s)
    parts = Parts(metrics=RegistryMetrics.create(registry), probe=probe)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with bootstrap(
            settings, parts, producer_factory=producer_factory, make_topics=make_topics
        ) as runtime:
            app.state.runtime = runtime
            yield

    async def database_ready() -> tuple[bool, str]:
        runtime: Runtime | None = getattr(app.state, "runtime", None)
        return await runtime.ctx.store.ping() if runtime is not None else (False, "not started")

    app = create_service_app(
        title="LGSP registry",
        description="Đăng ký nguồn dữ liệu (registry): organisations, sources, versioned "
        "contracts with compatibility checks, consumers and approvals, API keys.",
        version="0.1.0",
        lifespan=lifespan,
        registry=registry,
        tracer_provider=provider,
        checks={"kafka": probe.check, "database": database_ready},
    )
    app.add_middleware(
        BodyGuard, max_bytes=settings.max_body_bytes, max_depth=settings.max_json_depth
    )
    for router in (organisations.router, contracts.router, consumers.router, webhooks.router):
        app.include_router(router)
    for router in (kpis.router, catalogue.router, audit.router, tokens.router):
        app.include_router(router)
    return app


entrypoint = ServiceEntrypoint(SERVICE, RegistrySettings, create_app, f"{__name__}:app_factory")
app_factory = entrypoint.app_factory
run = entrypoint.run

"""The adapter's app: `create_app(settings)` and the process entrypoint.

`create_app` builds only what /metrics and /readyz need before start-up; everything else is
opened by `bootstrap()` in the lifespan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from opentelemetry.sdk.trace import SpanProcessor
from prometheus_client import CollectorRegistry

from lgsp_common.entrypoint import ServiceEntrypoint
from lgsp_common.gc_tuning import tune_gc
from lgsp_common.http import create_service_app
from lgsp_common.kafka import KafkaProbe
from lgsp_common.telemetry import setup_tracing
from population_adapter.adapters.registry import RegistryView
from population_adapter.api import routes
from population_adapter.api.fast_lane import FastLaneApp
from population_adapter.bootstrap import SERVICE, Parts, Producer, Runtime, bootstrap
from population_adapter.metrics import AdapterMetrics
from population_adapter.settings import AdapterSettings


def create_app(
    settings: AdapterSettings | None = None,
    *,
    registry: RegistryView | None = None,
    span_processor: SpanProcessor | None = None,
    producer: Producer | None = None,
    upstream_client: httpx.AsyncClient | None = None,
    create_topics: Callable[[], Awaitable[object]] | None = None,
) -> FastAPI:
    """Build the adapter app; its clients start with the lifespan (fakes are passed through)."""
    settings = settings or AdapterSettings()
    metrics_registry = CollectorRegistry()
    provider = setup_tracing(SERVICE, span_processor)
    parts = Parts(
        metrics=AdapterMetrics.create(metrics_registry),
        tracer=provider.get_tracer(SERVICE),
        probe=KafkaProbe(settings.kafka, SERVICE, settings.readiness_timeout_s),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with bootstrap(
            settings,
            parts,
            producer=producer,
            registry=registry,
            upstream_client=upstream_client,
            create_topics=create_topics,
        ) as runtime:
            app.state.runtime = runtime
            yield

    async def registry_ready() -> tuple[bool, str]:
        """Ready once the registry copy has caught up with the topic."""
        runtime: Runtime | None = getattr(app.state, "runtime", None)
        if runtime is None or not runtime.registry.caught_up:
            return False, "registry copy not caught up"
        return True, "caught up"

    app = create_service_app(
        title="Population adapter",
        description=(
            "Kết nối CSDL quốc gia về dân cư (population adapter): identity verification "
            "without disclosure and purpose-bound lookups, for the LGSP gateway only."
        ),
        version="0.1.0",
        lifespan=lifespan,
        registry=metrics_registry,
        tracer_provider=provider,
        checks={"kafka": parts.probe.check, "registry": registry_ready},
        app_class=FastLaneApp,
    )
    assert isinstance(app, FastLaneApp)
    app.fast_lane_tracer = parts.tracer
    app.include_router(routes.router)
    return app


entrypoint = ServiceEntrypoint(
    SERVICE, AdapterSettings, create_app, f"{__name__}:app_factory", prepare=tune_gc
)
app_factory = entrypoint.app_factory
run = entrypoint.run

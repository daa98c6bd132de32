"""The gateway app: `create_app(settings)`, its lifespan, and the service entrypoint."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from lgsp_common.entrypoint import ServiceEntrypoint
from lgsp_common.gc_tuning import tune_gc
from lgsp_common.http import create_service_app
from lgsp_common.kafka import KafkaProbe
from lgsp_common.telemetry import setup_tracing
from lgsp_common.workers import WorkerGroup
from lgsp_gateway.adapters.producer import Producer
from lgsp_gateway.api import population, records
from lgsp_gateway.api.publish import routes
from lgsp_gateway.api.publish.fast_lane import FastLaneApp
from lgsp_gateway.bootstrap import SERVICE, Parts, RegistryFeed, Runtime, bootstrap
from lgsp_gateway.metrics import GatewayMetrics
from lgsp_gateway.settings import GatewaySettings


def freeze_start_up() -> None:
    """Once per process, leave what start-up built out of the garbage collector's full passes,
    and collect young objects less often (`lgsp_common.gc_tuning`).

    Start-up's objects live as long as the process; pull reads promote enough records to the
    oldest generation that full collections come often, and each walked all of them. A
    request's garbage (headers, the event, its answer) now mostly dies young.
    """
    if not gc.get_freeze_count():
        tune_gc()


def create_app(
    settings: GatewaySettings | None = None,
    *,
    producer: Producer | None = None,
    registry: RegistryFeed | None = None,
    population_client: httpx.AsyncClient | None = None,
    create_topics: Callable[[], Awaitable[object]] | None = None,
    worker_group: WorkerGroup | None = None,
) -> FastAPI:
    """Build the gateway app; its clients start with the lifespan (fakes are passed through).

    `worker_group` (default: the one this process was started in) shares buckets and /metrics.
    """
    settings = settings or GatewaySettings()
    metrics_registry = CollectorRegistry()
    provider = setup_tracing(SERVICE)
    parts = Parts(
        metrics=GatewayMetrics.create(metrics_registry),
        tracer=provider.get_tracer(SERVICE),
        probe=KafkaProbe(settings.kafka, SERVICE, settings.readiness_timeout_s),
        worker_group=worker_group or WorkerGroup.from_env(),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with bootstrap(
            settings,
            parts,
            producer=producer,
            registry=registry,
            population_client=population_client,
            create_topics=create_topics,
        ) as runtime:
            app.state.runtime = runtime
            freeze_start_up()
            yield

    async def registry_ready() -> tuple[bool, str]:
        runtime: Runtime | None = getattr(app.state, "runtime", None)
        caught_up = runtime is not None and runtime.registry.caught_up
        return caught_up, "caught up" if caught_up else "replaying lgsp.registry"

    app = create_service_app(
        title="LGSP gateway",
        description="Cổng tích hợp LGSP (LGSP gateway): the only way in for department data.",
        version="0.1.0",
        lifespan=lifespan,
        registry=metrics_registry,
        tracer_provider=provider,
        checks={"kafka": parts.probe.check, "registry": registry_ready},
        app_class=FastLaneApp,
        worker_group=parts.worker_group,
    )
    assert isinstance(app, FastLaneApp)
    app.fast_lane_tracer = parts.tracer
    app.include_router(routes.router)
    app.include_router(population.router)
    app.include_router(records.router)
    return app


entrypoint = ServiceEntrypoint(SERVICE, GatewaySettings, create_app, f"{__name__}:app_factory")
app_factory = entrypoint.app_factory
run = entrypoint.run

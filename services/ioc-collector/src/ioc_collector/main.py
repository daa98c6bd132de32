"""Composition root of the IOC collector: `create_app(settings)` and its lifespan."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry

from ioc_collector.api import counts, dashboard, health, kpis, live
from ioc_collector.bootstrap import SERVICE, start_runtime
from ioc_collector.catalogue import load_kpis
from ioc_collector.settings import CollectorSettings
from lgsp_common.http import create_service_app, run_service
from lgsp_common.kafka import KafkaProbe
from lgsp_common.logs import configure_logging
from lgsp_common.telemetry import setup_tracing
from lgsp_common.topics import contract_topics

GC_YOUNG_THRESHOLD = 50_000


def create_app(settings: CollectorSettings | None = None) -> FastAPI:
    """Build the collector app; the KPI catalogue is validated here, before anything starts."""
    settings = settings or CollectorSettings()
    registry = CollectorRegistry()
    provider = setup_tracing(SERVICE)
    probe = KafkaProbe(settings.kafka, SERVICE, settings.readiness_timeout_s)
    topics = settings.topics or contract_topics(settings.contracts_dir)
    catalogue = load_kpis(
        settings.kpis_dir, settings.contracts_dir, topics, only_consumed=bool(settings.topics)
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await start_runtime(app, settings, catalogue, topics, registry)
        try:
            yield
        finally:
            await runtime.stack.aclose()
            await probe.close()

    app = create_service_app(
        title="IOC collector",
        description="Trung tâm giám sát, điều hành thông minh (IOC): KPIs from department "
        "streams, source health, live stream and dashboard.",
        version="0.2.0",
        lifespan=lifespan,
        registry=registry,
        tracer_provider=provider,
        checks={"kafka": probe.check},
    )
    for router in (kpis.router, health.router, live.router, counts.router, dashboard.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=dashboard.STATIC_DIR), name="static")
    return app


def app_factory() -> FastAPI:
    """Entry point for `uvicorn --factory`: settings from the environment, JSON logs."""
    settings = CollectorSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_json)
    app = create_app(settings)
    tune_gc()
    return app


def tune_gc() -> None:
    """Collect young objects less often, and never scan what start-up built (process-wide).

    The loop builds thousands of short-lived containers per batch (payloads, rows); with the
    default threshold (700) they outlive several young collections, get promoted, and then set
    off full collections, which walk every dedup set of the state: about a quarter of the CPU
    at full speed in the bench. With this threshold a batch's garbage mostly dies young.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)


def run() -> None:
    """Run the service with settings from the environment (console script and `python -m`)."""
    settings = CollectorSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_json)
    app = create_app(settings)
    tune_gc()
    run_service(app, settings.host, settings.port)

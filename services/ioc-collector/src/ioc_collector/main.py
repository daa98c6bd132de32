"""The IOC collector's app: `create_app(settings)` and the process entrypoint."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry

from ioc_collector.adapters.kpi_files import load_kpis
from ioc_collector.adapters.lag import LagProbe
from ioc_collector.api import counts, dashboard, health, kpis, live, login, reports
from ioc_collector.api.viewer_auth import require_viewer
from ioc_collector.bootstrap import Parts, ProvisionTopics, bootstrap
from ioc_collector.metrics import CollectorMetrics
from ioc_collector.settings import SERVICE, CollectorSettings
from lgsp_common.entrypoint import ServiceEntrypoint
from lgsp_common.gc_tuning import tune_gc
from lgsp_common.http import create_service_app
from lgsp_common.kafka import KafkaProbe
from lgsp_common.registry_copy import RegistryCopy
from lgsp_common.telemetry import setup_tracing


def _parts(settings: CollectorSettings, prometheus: CollectorRegistry) -> Parts:
    """Build what /readyz and /metrics need before start-up, and check the KPI seed."""
    topics = list(settings.topics)
    catalogue = load_kpis(
        settings.kpis_dir, settings.contracts_dir, topics, only_consumed=bool(settings.topics)
    )
    return Parts(
        catalogue=catalogue,
        data_topics=topics,
        metrics=CollectorMetrics(prometheus),
        tracer_provider=setup_tracing(SERVICE),
        probe=KafkaProbe(settings.kafka, SERVICE, settings.readiness_timeout_s),
    )


def create_app(
    settings: CollectorSettings | None = None,
    *,
    provision_topics: ProvisionTopics | None = None,
    registry: RegistryCopy | None = None,
    producer: AIOKafkaProducer | None = None,
    lag: LagProbe | None = None,
    consumer: AIOKafkaConsumer | None = None,
) -> FastAPI:
    """Build the collector app; the KPI catalogue is validated here, before anything starts.

    The keyword arguments replace the Kafka-facing clients (tests pass fakes; see bootstrap).
    """
    settings = settings or CollectorSettings()
    prometheus = CollectorRegistry()
    parts = _parts(settings, prometheus)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with bootstrap(
            settings,
            parts,
            provision_topics=provision_topics,
            registry=registry,
            producer=producer,
            lag=lag,
            consumer=consumer,
        ) as runtime:
            app.state.runtime = runtime
            yield

    app = create_service_app(
        title="IOC collector",
        description="Trung tâm giám sát, điều hành thông minh (IOC): KPIs from department "
        "streams, source health, live stream and dashboard.",
        version="0.2.0",
        lifespan=lifespan,
        registry=prometheus,
        tracer_provider=parts.tracer_provider,
        checks={"kafka": parts.probe.check},
    )
    # Every figure of the province is for signed-in viewers only (see api/viewer_auth.py).
    viewers_only = [Depends(require_viewer)]
    for router in (kpis.router, reports.router, health.router, live.router, counts.router):
        app.include_router(router, dependencies=viewers_only)
    app.include_router(dashboard.router)
    app.include_router(login.router)
    app.mount("/static", StaticFiles(directory=dashboard.STATIC_DIR), name="static")
    return app


entrypoint = ServiceEntrypoint(
    SERVICE, CollectorSettings, create_app, f"{__name__}:app_factory", prepare=tune_gc
)
app_factory = entrypoint.app_factory
run = entrypoint.run

"""Composition root of the gateway: `create_app(settings)` and its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from lgsp_common.audit import AuditTrail
from lgsp_common.http import create_service_app, run_service
from lgsp_common.kafka import KafkaProbe, ResilientProducer, start_with_retry
from lgsp_common.logs import configure_logging
from lgsp_common.registry_copy import RegistryCopy
from lgsp_common.telemetry import setup_tracing
from lgsp_common.topics import ensure_platform_topics
from lgsp_gateway.adapters.audit_log import BackgroundAudit
from lgsp_gateway.adapters.dead_letters import DeadLetters
from lgsp_gateway.adapters.directory import Directory
from lgsp_gateway.adapters.publisher import EventPublisher
from lgsp_gateway.api import events, population
from lgsp_gateway.api.fastlane import GatewayApp
from lgsp_gateway.service.ingest import Ingest
from lgsp_gateway.service.reads import PopulationReads
from lgsp_gateway.settings import GatewaySettings
from lgsp_gateway.state import GatewayMetrics, GatewayState

SERVICE = "lgsp-gateway"


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    """Build the gateway app; Kafka clients and the registry copy live with the lifespan."""
    settings = settings or GatewaySettings()
    registry = CollectorRegistry()
    metrics = GatewayMetrics.create(registry)
    provider = setup_tracing(SERVICE)
    probe = KafkaProbe(settings.kafka, SERVICE, settings.readiness_timeout_s)
    copy = RegistryCopy(settings.kafka, topic=settings.registry_topic, client_id=SERVICE)

    async def registry_ready() -> tuple[bool, str]:
        return copy.caught_up, "caught up" if copy.caught_up else "replaying lgsp.registry"

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await start_with_retry(
            lambda: ensure_platform_topics(settings.kafka, settings.contracts_dir),
            settings.kafka_startup_timeout_s,
            SERVICE,
        )
        producer = ResilientProducer(settings.kafka, SERVICE)
        await start_with_retry(producer.start, settings.kafka_startup_timeout_s, SERVICE)
        try:
            await copy.start(settings.registry_startup_timeout_s)
        except BaseException:
            await producer.stop()
            raise
        trail = AuditTrail(
            producer,
            settings.audit_topic,
            f"{SERVICE}/{settings.instance_id}",
            settings.audit_key_id,
            settings.audit_key.get_secret_value().encode(),
        )
        audit = BackgroundAudit(trail, metrics.failures)
        ingest = Ingest(
            settings,
            Directory(copy),
            EventPublisher(producer, provider.get_tracer(SERVICE), settings.produce_timeout_s),
            DeadLetters(producer, settings.dlq_topic, metrics.failures),
            audit,
            metrics,
        )
        app.state.gateway = GatewayState(ingest)
        adapter = httpx.AsyncClient(
            base_url=settings.population_adapter_url, timeout=settings.population_timeout_s
        )
        app.state.population_reads = PopulationReads(ingest, adapter)
        try:
            yield
        finally:
            await adapter.aclose()
            await copy.stop()
            await audit.drain(settings.produce_timeout_s)
            await producer.stop()
            await probe.close()

    app = create_service_app(
        title="LGSP gateway",
        description="Cổng tích hợp LGSP (LGSP gateway): the only way in for department data.",
        version="0.1.0",
        lifespan=lifespan,
        registry=registry,
        tracer_provider=provider,
        checks={"kafka": probe.check, "registry": registry_ready},
        app_class=GatewayApp,
    )
    assert isinstance(app, GatewayApp)
    app.fast_lane_tracer = provider.get_tracer(SERVICE)
    app.include_router(events.router)
    app.include_router(population.router)
    return app


def app_factory() -> FastAPI:
    """Entry point for `uvicorn --factory`: settings from the environment, JSON logs."""
    settings = GatewaySettings()
    configure_logging(SERVICE, settings.log_level, settings.log_json)
    return create_app(settings)


def run() -> None:
    """Run the service with settings from the environment (console script and `python -m`)."""
    settings = GatewaySettings()
    configure_logging(SERVICE, settings.log_level, settings.log_json)
    if settings.workers > 1:  # each worker process builds its own app, producer and audit chain
        run_service(f"{__name__}:app_factory", settings.host, settings.port, settings.workers)
    else:
        run_service(create_app(settings), settings.host, settings.port)

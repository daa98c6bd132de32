"""Composition root of the population adapter: `create_app(settings)` and its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from lgsp_common.http import create_service_app, run_service
from lgsp_common.kafka import KafkaProbe, create_producer, start_with_retry
from lgsp_common.logs import configure_logging
from lgsp_common.telemetry import setup_tracing
from lgsp_common.topics import ensure_platform_topics
from population_adapter.settings import AdapterSettings

SERVICE = "population-adapter"


def create_app(settings: AdapterSettings | None = None) -> FastAPI:
    """Build the adapter app; its audit producer opens and closes with the lifespan."""
    settings = settings or AdapterSettings()
    registry = CollectorRegistry()
    provider = setup_tracing(SERVICE)
    probe = KafkaProbe(settings.kafka, SERVICE, settings.readiness_timeout_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await start_with_retry(
            lambda: ensure_platform_topics(settings.kafka, settings.contracts_dir),
            settings.kafka_startup_timeout_s,
            SERVICE,
        )
        producer = create_producer(settings.kafka, SERVICE)
        await start_with_retry(producer.start, settings.kafka_startup_timeout_s, SERVICE)
        app.state.producer = producer
        try:
            yield
        finally:
            await producer.stop()
            await probe.close()

    return create_service_app(
        title="Population adapter",
        description="Kết nối CSDL quốc gia về dân cư (population adapter): purpose-bound lookups.",
        version="0.1.0",
        lifespan=lifespan,
        registry=registry,
        tracer_provider=provider,
        checks={"kafka": probe.check},
    )


def app_factory() -> FastAPI:
    """Entry point for `uvicorn --factory`: settings from the environment, JSON logs."""
    settings = AdapterSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_json)
    return create_app(settings)


def run() -> None:
    """Run the service with settings from the environment (console script and `python -m`)."""
    settings = AdapterSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_json)
    run_service(create_app(settings), settings.host, settings.port)

"""Composition root of the IOC collector: `create_app(settings)` and its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from ioc_collector.adapters.stream import StreamConsumer
from ioc_collector.api import counts
from ioc_collector.settings import CollectorSettings
from lgsp_common.http import create_service_app, run_service
from lgsp_common.kafka import KafkaProbe, create_consumer, start_with_retry
from lgsp_common.logs import configure_logging
from lgsp_common.telemetry import setup_tracing
from lgsp_common.topics import contract_topics, ensure_platform_topics

SERVICE = "ioc-collector"


def create_app(settings: CollectorSettings | None = None) -> FastAPI:
    """Build the collector app; the consumer runs for the lifetime of the app."""
    settings = settings or CollectorSettings()
    registry = CollectorRegistry()
    provider = setup_tracing(SERVICE)
    probe = KafkaProbe(settings.kafka, SERVICE, settings.readiness_timeout_s)
    topics = settings.topics or contract_topics(settings.contracts_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await start_with_retry(
            lambda: ensure_platform_topics(settings.kafka, settings.contracts_dir),
            settings.kafka_startup_timeout_s,
            SERVICE,
        )
        consumer = create_consumer(settings.kafka, SERVICE, settings.group_id, *topics)
        await start_with_retry(consumer.start, settings.kafka_startup_timeout_s, SERVICE)
        stream = StreamConsumer(consumer, registry, settings.max_batch)
        app.state.stream = stream
        stream.start()
        try:
            yield
        finally:
            await stream.stop()
            await consumer.stop()
            await probe.close()

    app = create_service_app(
        title="IOC collector",
        description="Trung tâm giám sát, điều hành thông minh (IOC): KPIs from department streams.",
        version="0.1.0",
        lifespan=lifespan,
        registry=registry,
        tracer_provider=provider,
        checks={"kafka": probe.check},
    )
    app.include_router(counts.router)
    return app


def app_factory() -> FastAPI:
    """Entry point for `uvicorn --factory`: settings from the environment, JSON logs."""
    settings = CollectorSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_json)
    return create_app(settings)


def run() -> None:
    """Run the service with settings from the environment (console script and `python -m`)."""
    settings = CollectorSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_json)
    run_service(create_app(settings), settings.host, settings.port)

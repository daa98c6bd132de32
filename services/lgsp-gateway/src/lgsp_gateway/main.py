"""Composition root of the gateway: `create_app(settings)` and its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from lgsp_common.http import create_service_app, run_service
from lgsp_common.kafka import KafkaProbe, create_producer, start_with_retry
from lgsp_common.logs import configure_logging
from lgsp_common.telemetry import setup_tracing
from lgsp_common.topics import contract_topics, ensure_platform_topics, load_contract
from lgsp_gateway.adapters.publisher import EventPublisher
from lgsp_gateway.api import events
from lgsp_gateway.domain.contracts import Contract
from lgsp_gateway.settings import GatewaySettings
from lgsp_gateway.state import GatewayMetrics, GatewayState

SERVICE = "lgsp-gateway"


def load_contracts(settings: GatewaySettings) -> dict[str, Contract]:
    """Compile the latest contract of every topic in the contracts folder."""
    contracts: dict[str, Contract] = {}
    for topic in contract_topics(settings.contracts_dir):
        schema = load_contract(settings.contracts_dir, topic)
        if schema is not None:
            contracts[topic] = Contract.compile(topic, schema)
    return contracts


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    """Build the gateway app; Kafka clients open and close with the lifespan."""
    settings = settings or GatewaySettings()
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
        publisher = EventPublisher(
            producer, provider.get_tracer(SERVICE), settings.produce_timeout_s
        )
        app.state.gateway = GatewayState(
            settings, load_contracts(settings), publisher, GatewayMetrics.create(registry)
        )
        try:
            yield
        finally:
            await producer.stop()
            await probe.close()

    app = create_service_app(
        title="LGSP gateway",
        description="Cổng tích hợp LGSP (LGSP gateway): the only way in for department data.",
        version="0.1.0",
        lifespan=lifespan,
        registry=registry,
        tracer_provider=provider,
        checks={"kafka": probe.check},
    )
    app.include_router(events.router)
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
    run_service(create_app(settings), settings.host, settings.port)

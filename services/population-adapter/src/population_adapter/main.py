"""Composition root of the population adapter: `create_app(settings)` and its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor
from prometheus_client import CollectorRegistry

from lgsp_common.audit import AuditTrail, RecordSender
from lgsp_common.http import create_service_app, run_service
from lgsp_common.kafka import KafkaProbe, create_producer, start_with_retry
from lgsp_common.logs import configure_logging
from lgsp_common.registry_copy import RegistryCopy
from lgsp_common.telemetry import setup_tracing
from lgsp_common.topics import ensure_platform_topics
from population_adapter.adapters.events import VerificationEvents
from population_adapter.adapters.registry import RegistryView
from population_adapter.adapters.upstream import CitizenSource, ResiliencePolicy
from population_adapter.api import routes
from population_adapter.metrics import AdapterMetrics
from population_adapter.service import PopulationService, ServiceConfig
from population_adapter.settings import AdapterSettings

SERVICE = "population-adapter"


async def _start_registry(
    settings: AdapterSettings, stack: AsyncExitStack, given: RegistryView | None
) -> RegistryView:
    if given is not None:
        return given
    copy = RegistryCopy(settings.kafka, topic=settings.registry_topic, client_id=SERVICE)
    await start_with_retry(
        lambda: copy.start(settings.registry_startup_timeout_s),
        settings.kafka_startup_timeout_s,
        f"{SERVICE} registry copy",
    )
    stack.push_async_callback(copy.stop)
    return copy


def _upstream_client(settings: AdapterSettings) -> httpx.AsyncClient:
    # As many connections as calls allowed in flight: callers queue on the client's semaphore
    # (bounded by their deadline), never on the pool, whose wait would count as a timeout.
    limit = settings.max_concurrency
    return httpx.AsyncClient(
        base_url=settings.upstream_url,
        timeout=httpx.Timeout(settings.upstream_timeout_s),
        limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
    )


def _service(
    settings: AdapterSettings,
    producer: RecordSender,
    registry: RegistryView,
    source: CitizenSource,
    metrics: AdapterMetrics,
    tracer: trace.Tracer,
) -> PopulationService:
    audit = AuditTrail(
        producer,
        settings.audit_topic,
        settings.audit_writer,
        settings.audit_key_id,
        settings.audit_key.get_secret_value().encode(),
    )
    config = ServiceConfig(
        gateway_token=settings.gateway_token.get_secret_value().encode(),
        consumer_resource=settings.consumer_resource or None,
        verification_topic=settings.verification_topic,
    )
    events = VerificationEvents(producer, settings.verification_topic, settings.event_source)
    return PopulationService(config, registry, source, audit, events, metrics, tracer)


@dataclass
class _Runtime:
    """What the lifespan starts and stops, and what /readyz looks at."""

    settings: AdapterSettings
    metrics: AdapterMetrics
    tracer: trace.Tracer
    probe: KafkaProbe
    given_registry: RegistryView | None = None
    registry: RegistryView | None = None

    async def registry_check(self) -> tuple[bool, str]:
        """Ready once the registry copy has caught up with the topic."""
        if self.registry is None or not self.registry.caught_up:
            return False, "registry copy not caught up"
        return True, "caught up"

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        """Open Kafka, the registry copy and the upstream client; close them in reverse."""
        settings = self.settings
        async with AsyncExitStack() as stack:
            stack.push_async_callback(self.probe.close)
            await start_with_retry(
                lambda: ensure_platform_topics(settings.kafka, settings.contracts_dir),
                settings.kafka_startup_timeout_s,
                SERVICE,
            )
            producer = create_producer(settings.kafka, SERVICE)
            await start_with_retry(producer.start, settings.kafka_startup_timeout_s, SERVICE)
            stack.push_async_callback(producer.stop)
            self.registry = await _start_registry(settings, stack, self.given_registry)
            client = await stack.enter_async_context(_upstream_client(settings))
            policy = ResiliencePolicy.from_settings(settings)
            source = CitizenSource(client, policy, self.metrics, self.tracer)
            app.state.population = _service(
                settings, producer, self.registry, source, self.metrics, self.tracer
            )
            yield


def create_app(
    settings: AdapterSettings | None = None,
    *,
    registry: RegistryView | None = None,
    span_processor: SpanProcessor | None = None,
) -> FastAPI:
    """Build the adapter app (tests may inject a registry view and a span processor)."""
    settings = settings or AdapterSettings()
    metrics_registry = CollectorRegistry()
    provider = setup_tracing(SERVICE, span_processor)
    probe = KafkaProbe(settings.kafka, SERVICE, settings.readiness_timeout_s)
    runtime = _Runtime(
        settings,
        AdapterMetrics.create(metrics_registry),
        provider.get_tracer(SERVICE),
        probe,
        given_registry=registry,
    )
    app = create_service_app(
        title="Population adapter",
        description=(
            "Kết nối CSDL quốc gia về dân cư (population adapter): identity verification "
            "without disclosure and purpose-bound lookups, for the LGSP gateway only."
        ),
        version="0.1.0",
        lifespan=runtime.lifespan,
        registry=metrics_registry,
        tracer_provider=provider,
        checks={"kafka": probe.check, "registry": runtime.registry_check},
    )
    app.include_router(routes.router)
    return app


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

"""The adapter's composition root: opens its clients in order and wires the use cases.

Order (closed in reverse by one AsyncExitStack): platform topics, the Kafka producer (audit
records and verification events), the registry copy, the upstream HTTP client, then the audit
trail and the population service on top of them. Tests pass fakes as keyword arguments
(`producer=`, `registry=`, `upstream_client=`, `create_topics=`) and need no broker. A given
producer is started and stopped here like the real one, and a given upstream client is closed
here; a given registry view is used as it is (its owner starts and stops it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

import httpx
from aiokafka import AIOKafkaProducer
from httpx_aiohttp import HttpxAiohttpClient
from opentelemetry import trace

from lgsp_common.audit import AuditTrail, RecordSender
from lgsp_common.kafka import KafkaProbe, create_producer, start_with_retry
from lgsp_common.registry_copy import RegistryCopy
from lgsp_common.topics import ensure_platform_topics
from population_adapter.adapters.events import VerificationEvents
from population_adapter.adapters.registry import RegistryView
from population_adapter.adapters.upstream import CitizenSource, ResiliencePolicy
from population_adapter.metrics import AdapterMetrics
from population_adapter.service.population_service import PopulationService, ServiceConfig
from population_adapter.settings import AdapterSettings

SERVICE = "population-adapter"


class Producer(RecordSender, Protocol):
    """The Kafka producer with its lifecycle (an aiokafka producer, or a test's fake)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class Parts:
    """What `create_app` builds before start-up: /metrics and /readyz need it at once."""

    metrics: AdapterMetrics
    tracer: trace.Tracer
    probe: KafkaProbe


@dataclass(frozen=True)
class Runtime:
    """Everything the routes and the readiness check need while the app runs."""

    settings: AdapterSettings
    registry: RegistryView
    population: PopulationService


@asynccontextmanager
async def bootstrap(
    settings: AdapterSettings,
    parts: Parts,
    *,
    producer: Producer | None = None,
    registry: RegistryView | None = None,
    upstream_client: httpx.AsyncClient | None = None,
    create_topics: Callable[[], Awaitable[object]] | None = None,
) -> AsyncIterator[Runtime]:
    """Start the adapter's clients in order, yield the Runtime, stop them in reverse."""
    wait = settings.kafka_startup_timeout_s
    async with AsyncExitStack() as stack:
        stack.push_async_callback(parts.probe.close)
        await start_with_retry(
            create_topics
            or (lambda: ensure_platform_topics(settings.kafka, settings.contracts_dir)),
            wait,
            SERVICE,
        )
        producer = producer or adapter_producer(settings)
        await start_with_retry(producer.start, wait, SERVICE)
        stack.push_async_callback(producer.stop)
        registry = registry or await _start_registry_copy(settings, stack)
        client = await stack.enter_async_context(upstream_client or upstream_http(settings))
        policy = ResiliencePolicy.from_settings(settings)
        source = CitizenSource(client, policy, parts.metrics, parts.tracer)
        population = PopulationService(
            service_config(settings),
            registry,
            source,
            await stack.enter_async_context(audit_trail(settings, producer)),
            VerificationEvents(producer, settings.verification_topic, settings.event_source),
            parts.metrics,
            parts.tracer,
        )
        yield Runtime(settings=settings, registry=registry, population=population)


async def _start_registry_copy(settings: AdapterSettings, stack: AsyncExitStack) -> RegistryView:
    copy = RegistryCopy(settings.kafka, topic=settings.registry_topic, client_id=SERVICE)
    await start_with_retry(
        lambda: copy.start(settings.registry_startup_timeout_s),
        settings.kafka_startup_timeout_s,
        f"{SERVICE} registry copy",
    )
    stack.push_async_callback(copy.stop)
    return copy


def adapter_producer(settings: AdapterSettings) -> AIOKafkaProducer:
    """Build the producer of audit records and verification events (the platform's options)."""
    return create_producer(settings.kafka, SERVICE, linger_ms=settings.producer_linger_ms)


def upstream_http(settings: AdapterSettings) -> httpx.AsyncClient:
    """Return the HTTP client of the national population database."""
    # As many connections as calls allowed in flight: callers queue on the client's semaphore
    # (bounded by their deadline), never on the pool, whose wait would count as a timeout.
    # httpx's API (timeouts, errors, tests' MockTransport) over aiohttp's pool: httpcore's took
    # about 37% of the adapter's CPU on a cache miss (py-spy).
    limit = settings.max_concurrency
    return HttpxAiohttpClient(
        base_url=settings.upstream_url,
        timeout=httpx.Timeout(settings.upstream_timeout_s),
        limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
    )


def audit_trail(settings: AdapterSettings, producer: RecordSender) -> AuditTrail:
    """Return this process's signed audit chain on the audit topic."""
    return AuditTrail(
        producer,
        settings.audit_topic,
        settings.audit_writer,
        settings.audit_key_id,
        settings.audit_key.get_secret_value().encode(),
        group_max=settings.audit_group_max,
    )


def service_config(settings: AdapterSettings) -> ServiceConfig:
    """Return what the use cases read from the settings."""
    return ServiceConfig(
        gateway_token=settings.gateway_token.get_secret_value().encode(),
        consumer_resource=settings.consumer_resource or None,
        verification_topic=settings.verification_topic,
    )

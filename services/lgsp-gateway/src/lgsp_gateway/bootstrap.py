"""The gateway's composition root: opens its clients in order and wires the use cases.

Order (closed in reverse by one AsyncExitStack): platform topics, the idempotent producer, the
registry copy, the audit trail (its background records are drained before the producer stops),
the use cases, the population adapter's HTTP client. Unit tests pass fakes as keyword arguments
(`producer=`, `registry=`, `population_client=`, `create_topics=`); every client, real or fake,
is started and stopped here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

import httpx
from opentelemetry import trace

from lgsp_common.audit import AuditTrail
from lgsp_common.kafka import KafkaProbe, ResilientProducer, start_with_retry
from lgsp_common.registry_copy import RegistryCopy
from lgsp_common.topics import ensure_platform_topics
from lgsp_gateway.adapters.acked_publisher import AckedPublisher
from lgsp_gateway.adapters.audit_log import BackgroundAudit
from lgsp_gateway.adapters.dead_letters import DeadLetters
from lgsp_gateway.adapters.directory import Directory, RegistryView
from lgsp_gateway.adapters.offsets import ConsumerOffsets
from lgsp_gateway.adapters.producer import Producer
from lgsp_gateway.adapters.reader_pool import ReaderPool
from lgsp_gateway.metrics import GatewayMetrics
from lgsp_gateway.service.batch_after_ack import BatchAfterAck
from lgsp_gateway.service.gatekeeper import Gatekeeper
from lgsp_gateway.service.outcomes import Outcomes
from lgsp_gateway.service.population_reads import PopulationReads
from lgsp_gateway.service.publish_after_ack import PublishAfterAck
from lgsp_gateway.service.pull_records import PullRecords
from lgsp_gateway.service.read_tracing import ReadTracing
from lgsp_gateway.settings import GatewaySettings

SERVICE = "lgsp-gateway"


class RegistryFeed(RegistryView, Protocol):
    """The registry copy with its lifecycle (`lgsp_common.registry_copy.RegistryCopy`)."""

    @property
    def caught_up(self) -> bool: ...

    async def start(self, timeout_s: float = 30) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class Parts:
    """What `create_app` builds before start-up: /metrics and /readyz need it at once."""

    metrics: GatewayMetrics
    tracer: trace.Tracer
    probe: KafkaProbe


@dataclass(frozen=True)
class Runtime:
    """Everything the routes need, alive between start-up and shutdown."""

    settings: GatewaySettings
    registry: RegistryFeed
    publish: PublishAfterAck
    batch: BatchAfterAck
    reads: PopulationReads
    pull: PullRecords


@asynccontextmanager
async def bootstrap(
    settings: GatewaySettings,
    parts: Parts,
    *,
    producer: Producer | None = None,
    registry: RegistryFeed | None = None,
    population_client: httpx.AsyncClient | None = None,
    create_topics: Callable[[], Awaitable[object]] | None = None,
) -> AsyncIterator[Runtime]:
    """Start the gateway's clients in order, yield the Runtime, stop them in reverse."""
    wait = settings.kafka_startup_timeout_s
    async with AsyncExitStack() as stack:
        stack.push_async_callback(parts.probe.close)
        await start_with_retry(
            create_topics
            or (lambda: ensure_platform_topics(settings.kafka, settings.contracts_dir)),
            wait,
            SERVICE,
        )
        producer = producer or ResilientProducer(settings.kafka, SERVICE)
        await start_with_retry(producer.start, wait, SERVICE)
        stack.push_async_callback(producer.stop)
        registry = registry or RegistryCopy(
            settings.kafka, topic=settings.registry_topic, client_id=SERVICE
        )
        await registry.start(settings.registry_startup_timeout_s)
        stack.push_async_callback(registry.stop)
        trail = audit_trail(settings, producer)
        audit = BackgroundAudit(trail, parts.metrics.failures)
        stack.push_async_callback(audit.drain, settings.produce_timeout_s)
        directory = Directory(registry)
        outcomes = Outcomes(
            DeadLetters(producer, settings.dlq_topic, parts.metrics.failures), audit, parts.metrics
        )
        publisher = AckedPublisher(producer, parts.tracer, settings.produce_timeout_s)
        gate = Gatekeeper(settings, directory)
        client = population_client or httpx.AsyncClient(
            base_url=settings.population_adapter_url, timeout=settings.population_timeout_s
        )
        stack.push_async_callback(client.aclose)
        pool = ReaderPool(settings.kafka, settings.reader_pool_size, SERVICE)
        stack.push_async_callback(pool.stop)
        offsets = ConsumerOffsets(settings.kafka, SERVICE)
        stack.push_async_callback(offsets.stop)
        tracing = ReadTracing(parts.metrics, parts.tracer)
        yield Runtime(
            settings=settings,
            registry=registry,
            publish=PublishAfterAck(settings, gate, publisher, outcomes),
            batch=BatchAfterAck(settings, gate, publisher, outcomes),
            reads=PopulationReads(settings, directory, outcomes, client),
            pull=PullRecords(settings, directory, pool, offsets, trail, outcomes, tracing),
        )


def audit_trail(settings: GatewaySettings, producer: Producer) -> AuditTrail:
    """Return this replica's signed audit chain on the audit topic."""
    return AuditTrail(
        producer,
        settings.audit_topic,
        f"{SERVICE}/{settings.instance_id}",
        settings.audit_key_id,
        settings.audit_key.get_secret_value().encode(),
    )

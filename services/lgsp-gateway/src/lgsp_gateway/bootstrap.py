"""The gateway's composition root: opens its clients in order and wires the use cases.

Order (closed in reverse by one AsyncExitStack): platform topics, the idempotent producer, the
audit producer (its own, linger `AUDIT_LINGER_MS`, so that a call's wait for its audit ack is
short and the records of concurrent calls still share requests), the registry copy, the audit
trail and `AckedAudit` (at shutdown, after the server stopped taking calls and finished the ones
in flight, it refuses new records and waits for the pending ones before the producers stop), the
rate limit's buckets and this replica's seat in the replicas' membership group (start-up waits
for its first replica count; shutdown leaves the group), the use cases, the population
adapter's HTTP client. Unit tests pass fakes as keyword arguments
(`producer=`, `audit_producer=`, `registry=`, `population_client=`, `create_topics=`; a fake
`producer=` alone also carries the audit records); every client, real or fake, is started and
stopped here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

import httpx
from httpx_aiohttp import HttpxAiohttpClient
from opentelemetry import trace

from lgsp_common.audit import AuditTrail
from lgsp_common.kafka import KafkaProbe, start_with_retry
from lgsp_common.registry_copy import RegistryCopy
from lgsp_common.topics import ensure_platform_topics
from lgsp_common.workers import WorkerGroup
from lgsp_gateway.adapters.acked_publisher import AckedPublisher
from lgsp_gateway.adapters.audit_log import AckedAudit
from lgsp_gateway.adapters.dead_letters import DeadLetters, registry_schemas
from lgsp_gateway.adapters.directory import Directory, RegistryView
from lgsp_gateway.adapters.offsets import ConsumerOffsets
from lgsp_gateway.adapters.producer import Producer
from lgsp_gateway.adapters.producer_options import gateway_producer
from lgsp_gateway.adapters.reader_pool import ReaderPool
from lgsp_gateway.adapters.replica_membership import ReplicaMembership, group_name
from lgsp_gateway.adapters.shared_buckets import SharedBuckets
from lgsp_gateway.domain.ratelimit import RateLimiter, ReplicaCount, SharedLimit, TokenBucket
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
BUCKETS_FILE = "rate-limit-buckets"
MEMBER_LOCK_FILE = "replica-member.lock"


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
    worker_group: WorkerGroup | None = None  # the worker processes sharing this port, if any


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
    audit_producer: Producer | None = None,
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
        shared = producer is not None and audit_producer is None
        producer = producer or gateway_producer(settings, "events")
        await start_with_retry(producer.start, wait, SERVICE)
        stack.push_async_callback(producer.stop)
        audit_producer = (
            producer if shared else await _audit_producer(settings, audit_producer, stack)
        )
        registry = registry or RegistryCopy(
            settings.kafka, topic=settings.registry_topic, client_id=SERVICE
        )
        await registry.start(settings.registry_startup_timeout_s)
        stack.push_async_callback(registry.stop)
        audit = await _acked_audit(settings, parts, audit_producer, stack)
        directory = Directory(registry)
        # DLQ records mask CCCDs, and the contract's personal and undeclared fields.
        letters = DeadLetters(
            producer, settings.dlq_topic, parts.metrics.failures, registry_schemas(registry)
        )
        outcomes = Outcomes(letters, audit, parts.metrics, wait=settings.audit_wait)
        publisher = AckedPublisher(producer, parts.tracer, settings.produce_timeout_s)
        gate = Gatekeeper(settings, directory, limiter=await _limiter(settings, parts, stack))
        if parts.worker_group is not None:  # callback gauges, written for the other workers
            await stack.enter_async_context(parts.metrics.sample_gauges())
        client = population_client or adapter_client(settings)
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
            pull=PullRecords(settings, directory, pool, offsets, audit, outcomes, tracing),
        )


async def _limiter(settings: GatewaySettings, parts: Parts, stack: AsyncExitStack) -> SharedLimit:
    """Open the per-source buckets (in memory, or shared by the group's workers) and divide
    them by the live replica count from the membership group (`REPLICAS` with it off)."""
    group, fallback = parts.worker_group, settings.replicas
    limit = TokenBucket(settings.rate_limit_per_source, settings.rate_limit_burst)
    limiter: SharedLimit = RateLimiter(limit.rate, limit.burst, fallback)
    written = None
    if group is not None:
        buckets = limiter = SharedBuckets(group.file(BUCKETS_FILE), limit, fallback=fallback)
        stack.callback(buckets.close)
        written = lambda: buckets.written  # noqa: E731 - the other workers wait for the member
    parts.metrics.replicas.set_function(lambda: limiter.replicas)
    if settings.replica_membership:
        membership = ReplicaMembership(
            settings.kafka,
            group=group_name(settings.replica_group, settings.registry_topic),
            topic=settings.replica_topic,
            client_id=f"{SERVICE}-replicas",
            count=ReplicaCount(fallback),
            apply=limiter.resize,
            lock=group.file(MEMBER_LOCK_FILE) if group is not None else None,
            written=written,
        )
        stack.push_async_callback(membership.stop)
        await membership.start(settings.replica_wait_s)
    return limiter


async def _acked_audit(
    settings: GatewaySettings, parts: Parts, audit_producer: Producer, stack: AsyncExitStack
) -> AckedAudit:
    """Open the audit trail; its records are awaited, and waited for at shutdown."""
    trail = await stack.enter_async_context(audit_trail(settings, audit_producer))
    audit = AckedAudit(
        trail,
        parts.metrics.audit,
        timeout_s=settings.audit_timeout_s,
        max_pending=settings.audit_max_pending,
    )
    stack.push_async_callback(audit.close, settings.shutdown_audit_wait_s)
    return audit


async def _audit_producer(
    settings: GatewaySettings, given: Producer | None, stack: AsyncExitStack
) -> Producer:
    """Start the audit records' own producer (idempotent, acks=all, short linger)."""
    producer = given or gateway_producer(settings, "audit")
    await start_with_retry(producer.start, settings.kafka_startup_timeout_s, SERVICE)
    stack.push_async_callback(producer.stop)
    return producer


def adapter_client(settings: GatewaySettings) -> httpx.AsyncClient:
    """Return the client of the population adapter: httpx's API over aiohttp's pool
    (httpx-aiohttp), lighter per relayed read than httpcore's."""
    return HttpxAiohttpClient(
        base_url=settings.population_adapter_url, timeout=settings.population_timeout_s
    )


def audit_trail(settings: GatewaySettings, producer: Producer) -> AuditTrail:
    """Return this replica's signed audit chain on the audit topic."""
    return AuditTrail(
        producer,
        settings.audit_topic,
        f"{SERVICE}/{settings.instance_id}",
        settings.audit_key_id,
        settings.audit_key.get_secret_value().encode(),
        group_max=settings.audit_group_max,
    )

"""The delivery workers' composition root: open clients in order, close them in reverse.

Order: the DLQ topic, the idempotent producer (dead letters and audit records), the registry
copy, the pooled HTTP client, then the supervisor that runs one `SubscriptionRunner` per
deliverable subscription. Unit tests pass fakes (`producer=`, `registry=`, `http=`,
`create_topics=`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from opentelemetry import trace

from lgsp_common.audit import AuditTrail, checkpoint_topic_for
from lgsp_common.kafka import KafkaProbe, ResilientProducer, start_with_retry
from lgsp_common.registry_copy import RegistryCopy
from lgsp_common.topics import TopicSpec, ensure_topics, platform_topics
from lgsp_gateway.adapters.producer import Producer
from lgsp_gateway.delivery.adapters.dead_letters import WebhookDeadLetters
from lgsp_gateway.delivery.adapters.sender import WebhookSender
from lgsp_gateway.delivery.domain.plan import Plan
from lgsp_gateway.delivery.metrics import DeliveryMetrics
from lgsp_gateway.delivery.service.deliver_record import RecordDelivery
from lgsp_gateway.delivery.service.subscription_runner import SubscriptionRunner
from lgsp_gateway.delivery.service.supervisor import RegistryLike, Supervisor
from lgsp_gateway.delivery.settings import WebhookSettings

SERVICE = "lgsp-webhooks"


class RegistryFeed(RegistryLike, Protocol):
    """The registry copy with its lifecycle."""

    @property
    def caught_up(self) -> bool: ...

    async def start(self, timeout_s: float = 30) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class Parts:
    """What `create_app` builds before start-up (/metrics and /readyz need it)."""

    metrics: DeliveryMetrics
    tracer: trace.Tracer
    probe: KafkaProbe
    tracing: Callable[[], bool] = lambda: True


@dataclass(frozen=True)
class Runtime:
    """What runs between start-up and shutdown."""

    settings: WebhookSettings
    registry: RegistryFeed
    supervisor: Supervisor


def _topics(settings: WebhookSettings) -> list[TopicSpec]:
    known = {spec.name: spec for spec in platform_topics()}
    names = (settings.dlq_topic, settings.audit_topic, checkpoint_topic_for(settings.audit_topic))
    compact = TopicSpec(names[2], 3, config={"cleanup.policy": "compact"})
    return [known.get(name, compact if name == names[2] else TopicSpec(name)) for name in names]


def http_client(settings: WebhookSettings) -> aiohttp.ClientSession:
    """Return the pooled client (redirects are refused per request), a timeout per attempt."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=200, limit_per_host=100),
        timeout=aiohttp.ClientTimeout(total=settings.request_timeout_s),
        headers={"user-agent": "lgsp-webhooks/0.1"},
    )


def audit_trail(settings: WebhookSettings, producer: Producer) -> AuditTrail:
    """Return this worker's signed audit chain."""
    return AuditTrail(
        producer,
        settings.audit_topic,
        f"{SERVICE}/{settings.instance_id}",
        settings.audit_key_id,
        settings.audit_key.get_secret_value().encode(),
    )


@asynccontextmanager
async def bootstrap(
    settings: WebhookSettings,
    parts: Parts,
    *,
    producer: Producer | None = None,
    registry: RegistryFeed | None = None,
    http: aiohttp.ClientSession | None = None,
    create_topics: Callable[[], Awaitable[Any]] | None = None,
) -> AsyncIterator[Runtime]:
    """Start the worker's clients in order, yield the Runtime, stop them in reverse."""
    wait = settings.kafka_startup_timeout_s
    async with AsyncExitStack() as stack:
        stack.push_async_callback(parts.probe.close)
        make = create_topics or (lambda: ensure_topics(settings.kafka, _topics(settings)))
        await start_with_retry(make, wait, SERVICE)
        producer = producer or ResilientProducer(settings.kafka, SERVICE)
        await start_with_retry(producer.start, wait, SERVICE)
        stack.push_async_callback(producer.stop)
        registry = registry or RegistryCopy(
            settings.kafka, topic=settings.registry_topic, client_id=SERVICE
        )
        await registry.start(settings.registry_startup_timeout_s)
        stack.push_async_callback(registry.stop)
        client = http or http_client(settings)
        stack.push_async_callback(client.close)
        delivery = RecordDelivery(
            settings,
            WebhookSender(client, settings.allow_loopback),
            WebhookDeadLetters(producer, settings.dlq_topic),
            parts.metrics,
            parts.tracer,
            parts.tracing,
        )
        trail = await stack.enter_async_context(audit_trail(settings, producer))

        def runner(plan: Plan, current: Callable[[], Plan | None]) -> SubscriptionRunner:
            return SubscriptionRunner(settings, plan, current, delivery, trail)

        supervisor = Supervisor(registry, runner, parts.metrics)
        await supervisor.start()
        stack.push_async_callback(supervisor.stop)
        yield Runtime(settings=settings, registry=registry, supervisor=supervisor)

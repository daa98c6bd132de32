"""The composition root: open the registry's parts in order, close them in reverse.

Order of start: database engine and migrations, the store, the use cases' context (with the
operator credential), then the outbox publisher in the background. The registry serves reads
and writes even while Kafka is unreachable: events wait in the outbox, and `/readyz` says so.
Tests swap the Kafka side (`producer_factory`, `make_topics`) for fakes and need no broker.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer

from lgsp_common.audit import AuditTrail, checkpoint_topic_for, public_key_b64
from lgsp_common.kafka import KafkaProbe, create_producer
from lgsp_common.topics import AUDIT_TOPIC, TopicSpec, platform_topics
from lgsp_common.webhooks import SecretBox
from lgsp_registry.adapters import audit_outbox
from lgsp_registry.adapters.audit_key import load_audit_key, publish_own_key
from lgsp_registry.adapters.checkpoint_follower import CheckpointFollower
from lgsp_registry.adapters.database import create_engine, migrate, redacted
from lgsp_registry.adapters.operator_token import load_operator_token
from lgsp_registry.adapters.outbox_publisher import OutboxPublisher, TopicMaker
from lgsp_registry.adapters.store import Store
from lgsp_registry.adapters.traffic import KafkaTraffic
from lgsp_registry.metrics import RegistryMetrics
from lgsp_registry.service.context import Context
from lgsp_registry.settings import RegistrySettings

SERVICE = "lgsp-registry"
log = logging.getLogger(__name__)
ProducerFactory = Callable[[], AIOKafkaProducer]


@dataclass(frozen=True)
class Parts:
    """What `create_app` builds before start-up, because /metrics and /readyz need it."""

    metrics: RegistryMetrics
    probe: KafkaProbe


@dataclass(frozen=True)
class Runtime:
    """What the routes and use cases reach while the app runs."""

    ctx: Context
    metrics: RegistryMetrics
    publisher: OutboxPublisher


def _context(settings: RegistrySettings, store: Store) -> Context:
    return Context(
        store=store,
        operator_token=load_operator_token(settings),
        default_compatibility=settings.default_compatibility,
        default_policy=settings.default_policy,
        require_examples=settings.require_examples,
        key_grace_period_s=settings.key_grace_period_s,
        secret_box=SecretBox(settings.webhook_secrets_key.get_secret_value()),
        webhooks_allow_loopback=settings.webhooks_allow_loopback,
        webhook_secret_overlap_s=settings.webhook_secret_overlap_s,
        deletion_grace_period_s=settings.deletion_grace_period_s,
        traffic=KafkaTraffic(settings.kafka, settings.traffic_check_timeout_s),
    )


def _audit_topics(settings: RegistrySettings) -> list[TopicSpec]:
    if not settings.audit_topic:
        return []
    known = {t.name: t for t in platform_topics()}
    spec = known[AUDIT_TOPIC]
    checkpoints = checkpoint_topic_for(settings.audit_topic)
    return [
        known.get(settings.audit_topic, TopicSpec(settings.audit_topic, 3, config=spec.config)),
        known.get(checkpoints, TopicSpec(checkpoints, 1, config={"cleanup.policy": "compact"})),
    ]


async def _audit_trail(settings: RegistrySettings, store: Store) -> AuditTrail | None:
    """Audit every registry change through the audit outbox (issue 13); None when disabled."""
    if not settings.audit_topic:
        return None
    material = load_audit_key(settings)
    public_key = public_key_b64(material)
    key_id = settings.audit_key_id or f"{SERVICE}-{public_key[:12]}"
    sender = audit_outbox.OutboxSender(store)
    trail = AuditTrail(sender, settings.audit_topic, SERVICE, key_id, material)
    audit_outbox.install(store, trail)
    await publish_own_key(store.engine, key_id, public_key)
    return trail


def _publisher(
    settings: RegistrySettings,
    store: Store,
    metrics: RegistryMetrics,
    producer_factory: ProducerFactory | None,
    make_topics: TopicMaker | None,
) -> OutboxPublisher:
    publisher = OutboxPublisher(
        store.engine,
        settings.kafka,
        settings.registry_topic,
        metrics.outbox,
        producer_factory=producer_factory or (lambda: create_producer(settings.kafka, SERVICE)),
        interval_s=settings.publish_interval_s,
        timeout_s=settings.publish_timeout_s,
        make_topics=make_topics,
        audit_topics=_audit_topics(settings),
    )

    def committed(changes: list[tuple[str, str]]) -> None:
        metrics.record_changes(changes)
        publisher.wake()  # publish now rather than at the next interval

    store.on_commit(committed)
    return publisher


@asynccontextmanager
async def bootstrap(
    settings: RegistrySettings,
    parts: Parts,
    *,
    producer_factory: ProducerFactory | None = None,
    make_topics: TopicMaker | None = None,
) -> AsyncIterator[Runtime]:
    """Open database, store, context and outbox publisher; yield them; close in reverse."""
    async with AsyncExitStack() as stack:
        stack.push_async_callback(parts.probe.close)
        url = settings.sqlalchemy_url()
        engine = create_engine(url)
        stack.push_async_callback(engine.dispose)
        await migrate(engine)
        log.info("registry database ready at %s", redacted(url))
        store = Store(engine)
        ctx = _context(settings, store)
        publisher = _publisher(settings, store, parts.metrics, producer_factory, make_topics)
        publisher.start()
        stack.push_async_callback(publisher.stop)
        trail = await _audit_trail(settings, store)
        if trail is not None:  # closes (final checkpoint) before the publisher's last drain
            await stack.enter_async_context(trail)
        if settings.audit_checkpoints_topic and producer_factory is None:  # real Kafka only
            follower = CheckpointFollower(settings.kafka, settings.audit_checkpoints_topic, engine)
            follower.start()
            stack.push_async_callback(follower.stop)
        yield Runtime(ctx=ctx, metrics=parts.metrics, publisher=publisher)

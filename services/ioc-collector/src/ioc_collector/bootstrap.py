"""The composition root: opens the collector's clients in order, and closes them in reverse.

`create_app` builds the `Parts` that /readyz and /metrics need before start-up; its lifespan
enters `bootstrap()`, which starts the rest inside one AsyncExitStack and yields the `Runtime`
the routes read. Tests pass fakes for the Kafka-facing clients (`consumer=`, `producer=`,
`registry=`, `lag=`, `provision_topics=`), so the whole app runs without a broker.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from opentelemetry.sdk.trace import TracerProvider

from ioc_collector.adapters.decode import ContractValidators
from ioc_collector.adapters.lag import LagProbe
from ioc_collector.adapters.oidc import OidcVerifier
from ioc_collector.adapters.snapshots import SnapshotPublisher
from ioc_collector.adapters.state_and_positions_store import StateStore
from ioc_collector.adapters.topic_provisioning import provision_topics as create_topics
from ioc_collector.adapters.tracing import RecordSpans
from ioc_collector.domain.batch import BatchAggregator
from ioc_collector.domain.definitions import KpiDefinition
from ioc_collector.metrics import CollectorMetrics
from ioc_collector.service.live_hub import LiveHub
from ioc_collector.service.merged_view import CollectorView
from ioc_collector.service.registry_follower import LiveCatalogue, RegistryFollower
from ioc_collector.service.reports import Reports
from ioc_collector.service.ticker import Ticker
from ioc_collector.settings import SERVICE, CollectorSettings
from ioc_collector.stream.apply_records import RecordApplier
from ioc_collector.stream.backfill import BackfillRunner, backfill_consumer
from ioc_collector.stream.exactly_once_loop import StreamProcessor
from lgsp_common.kafka import KafkaProbe, consumer_options, create_producer, start_with_retry
from lgsp_common.registry_copy import RegistryCopy

ProvisionTopics = Callable[[CollectorSettings, Sequence[str]], Awaitable[None]]


@dataclass(frozen=True)
class Parts:
    """What create_app builds before start-up: the checked catalogue, metrics, tracing, probe."""

    catalogue: Sequence[KpiDefinition]
    data_topics: Sequence[str]
    metrics: CollectorMetrics
    tracer_provider: TracerProvider
    probe: KafkaProbe


@dataclass(frozen=True)
class Runtime:
    """What the routes read while the app runs."""

    processor: StreamProcessor
    view: CollectorView
    reports: Reports
    hub: LiveHub
    registry: RegistryCopy  # also who may read: viewers' access tokens (hash and role)
    oidc: OidcVerifier | None = None  # the configured OIDC issuer's bearer tokens, if any


@contextlib.asynccontextmanager
async def bootstrap(
    settings: CollectorSettings,
    parts: Parts,
    *,
    provision_topics: ProvisionTopics | None = None,
    registry: RegistryCopy | None = None,
    producer: AIOKafkaProducer | None = None,
    lag: LagProbe | None = None,
    consumer: AIOKafkaConsumer | None = None,
) -> AsyncIterator[Runtime]:
    """Start topics, store, registry copy, producer, lag probe, stream loop and ticker, in order."""
    provision = provision_topics or create_topics
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(parts.probe.close)
        await provision(settings, parts.data_topics)
        store = StateStore(settings.store_database_url(), settings.group_id, settings.instance_id)
        await store.open()
        stack.push_async_callback(store.close)
        registry = registry or RegistryCopy(
            settings.kafka, topic=settings.registry_topic, client_id=f"{SERVICE}-registry"
        )
        await registry.start(settings.registry_startup_timeout_s)
        stack.push_async_callback(registry.stop)
        live = await _live_catalogue(settings, parts, registry, provision)
        producer = producer or create_producer(settings.kafka, f"{SERVICE}-snapshots")
        await start_with_retry(producer.start, settings.kafka_startup_timeout_s, SERVICE)
        stack.push_async_callback(producer.stop)
        lag = lag or LagProbe(settings.kafka, SERVICE)
        await lag.start()
        stack.push_async_callback(lag.stop)
        consumer = consumer or _group_consumer(settings)
        processor = await _start_stream(stack, settings, parts, store, registry, consumer, live)
        follower = RegistryFollower(live, processor, settings, registry, provision)
        follower.start()
        stack.push_async_callback(follower.stop)
        view = CollectorView(processor, store)
        reports = Reports(live, view, registry, lag, settings)
        hub = LiveHub()
        publisher = SnapshotPublisher(producer, settings.kpi_topic, lambda: live.kpis,
                                      parts.metrics)  # fmt: skip
        ticker = Ticker(processor, view, lag, reports, hub, publisher,
                        lambda: [*live.topics, settings.dlq_topic],
                        settings.tick_interval_s, settings.lag_interval_s)  # fmt: skip
        ticker.start()
        stack.push_async_callback(ticker.stop)
        oidc = OidcVerifier(settings.oidc) if settings.oidc.enabled else None
        yield Runtime(processor, view, reports, hub, registry, oidc)


async def _live_catalogue(
    settings: CollectorSettings, parts: Parts, registry: RegistryCopy, provision: ProvisionTopics
) -> LiveCatalogue:
    """The KPIs and data topics in force at start: the registry's (or the seed's)."""
    live = LiveCatalogue(settings, registry, parts.catalogue, parts.metrics)
    live.kpis, live.topics = live.wanted_kpis(), live.wanted_topics()
    new_topics = sorted(set(live.topics) - set(parts.data_topics))
    if new_topics:
        await provision(settings, new_topics)
    return live


def group_consumer_options(settings: CollectorSettings) -> dict[str, Any]:
    """Return the stream consumer's whole configuration (the bench's plain consumer's too)."""
    return consumer_options(
        settings.kafka,
        f"{SERVICE}-{settings.instance_id}",
        settings.group_id,
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=settings.heartbeat_interval_ms,
    )


def _group_consumer(settings: CollectorSettings) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(**group_consumer_options(settings))


async def _start_stream(
    stack: contextlib.AsyncExitStack,
    settings: CollectorSettings,
    parts: Parts,
    store: StateStore,
    registry: RegistryCopy,
    consumer: AIOKafkaConsumer,
    live: LiveCatalogue,
) -> StreamProcessor:
    """Subscribe the group consumer, run the stream loop and the backfills beside it."""
    validators = ContractValidators(registry.latest_contract, settings.contracts_dir)
    # Record spans go to the app's tracer provider (tests add in-memory exporters to it).
    spans = RecordSpans(parts.tracer_provider, settings.group_id)
    aggregator = BatchAggregator(live.kpis)
    applier = RecordApplier(aggregator, validators, parts.metrics, spans, settings.dlq_topic)
    processor = StreamProcessor(
        consumer,
        store,
        aggregator,
        applier,
        parts.metrics,
        max_batch=settings.max_batch,
        commit_interval_ms=settings.commit_interval_ms,
        poll_timeout_ms=settings.poll_timeout_ms,
    )
    consumer.subscribe([*live.topics, settings.dlq_topic], listener=processor.listener)
    await start_with_retry(consumer.start, settings.kafka_startup_timeout_s, SERVICE)
    stack.push_async_callback(consumer.stop)
    processor.start()
    stack.push_async_callback(processor.stop)
    backfills = BackfillRunner(
        processor, lambda: _backfill_consumer(settings), validators, parts.metrics,
        max_batch=settings.backfill_max_batch,
    )  # fmt: skip
    backfills.start()
    stack.push_async_callback(backfills.stop)
    return processor


def _backfill_consumer(settings: CollectorSettings) -> AIOKafkaConsumer:
    return backfill_consumer(settings.kafka, f"{SERVICE}-{settings.instance_id}-backfill")

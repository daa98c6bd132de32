"""Starting and stopping the collector's parts in order (the lifespan's work)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from ioc_collector.adapters.apply import RecordApplier, StreamMetrics
from ioc_collector.adapters.decode import ContractValidators
from ioc_collector.adapters.lag import LagProbe
from ioc_collector.adapters.snapshots import SnapshotPublisher
from ioc_collector.adapters.store import StateStore
from ioc_collector.adapters.stream import StreamProcessor
from ioc_collector.adapters.tracing import RecordSpans
from ioc_collector.adapters.view import CollectorView
from ioc_collector.domain.batch import BatchAggregator
from ioc_collector.domain.definitions import KpiDefinition
from ioc_collector.live import LiveHub, Ticker
from ioc_collector.reports import Reports
from ioc_collector.settings import CollectorSettings
from lgsp_common.kafka import create_consumer, create_producer, start_with_retry
from lgsp_common.registry_copy import RegistryCopy
from lgsp_common.topics import TopicSpec, ensure_platform_topics, ensure_topics

log = logging.getLogger(__name__)
SERVICE = "ioc-collector"


def own_topics(settings: CollectorSettings, data_topics: Sequence[str]) -> list[TopicSpec]:
    """Return the topics the collector needs beyond the platform's defaults."""
    partitions = settings.kafka.default_partitions
    return [
        TopicSpec(settings.kpi_topic, partitions, config={"cleanup.policy": "compact"}),
        TopicSpec(settings.registry_topic, 1, config={"cleanup.policy": "compact"}),
        TopicSpec(settings.dlq_topic, partitions),
        *(TopicSpec(topic, partitions) for topic in data_topics),
    ]


@dataclass
class Runtime:
    """Everything started for one app, stopped in reverse order."""

    stack: contextlib.AsyncExitStack
    processor: StreamProcessor
    view: CollectorView
    reports: Reports
    hub: LiveHub


async def start_runtime(
    app: FastAPI,
    settings: CollectorSettings,
    catalogue: Sequence[KpiDefinition],
    data_topics: Sequence[str],
    metrics: CollectorRegistry,
) -> Runtime:
    """Start store, registry copy, producer, lag probe, consumer loop and ticker."""
    stack = contextlib.AsyncExitStack()
    try:
        # Record spans go to the app's tracer provider (tests add in-memory exporters to it).
        spans = RecordSpans(getattr(app.state, "tracer_provider", None), settings.group_id)
        runtime = await _start_parts(stack, settings, catalogue, data_topics, metrics, spans)
    except BaseException:
        await stack.aclose()
        raise
    app.state.reports, app.state.hub, app.state.view = runtime.reports, runtime.hub, runtime.view
    return runtime


async def _start_parts(
    stack: contextlib.AsyncExitStack,
    settings: CollectorSettings,
    catalogue: Sequence[KpiDefinition],
    data_topics: Sequence[str],
    metrics: CollectorRegistry,
    spans: RecordSpans,
) -> Runtime:
    kafka, wait = settings.kafka, settings.kafka_startup_timeout_s
    await start_with_retry(
        lambda: ensure_platform_topics(kafka, settings.contracts_dir), wait, SERVICE
    )
    await ensure_topics(kafka, own_topics(settings, data_topics))
    store = StateStore(settings.store_path, settings.group_id, settings.instance_id)
    await store.open()
    stack.push_async_callback(store.close)
    registry = RegistryCopy(kafka, topic=settings.registry_topic, client_id=f"{SERVICE}-registry")
    await registry.start(settings.registry_startup_timeout_s)
    stack.push_async_callback(registry.stop)
    producer = create_producer(kafka, f"{SERVICE}-snapshots")
    await start_with_retry(producer.start, wait, SERVICE)
    stack.push_async_callback(producer.stop)
    lag = LagProbe(kafka, SERVICE)
    await lag.start()
    stack.push_async_callback(lag.stop)
    processor = await _start_processor(
        stack, settings, catalogue, data_topics, metrics, store, registry, spans
    )
    view = CollectorView(processor, store)
    reports = Reports(catalogue, view, registry, lag, settings, data_topics)
    hub = LiveHub()
    publisher = SnapshotPublisher(producer, settings.kpi_topic, catalogue, metrics)
    topics = [*data_topics, settings.dlq_topic]
    ticker = Ticker(processor, view, lag, reports, hub, publisher, topics,
                    settings.tick_interval_s, settings.lag_interval_s)  # fmt: skip
    ticker.start()
    stack.push_async_callback(ticker.stop)
    return Runtime(stack, processor, view, reports, hub)


async def _start_processor(
    stack: contextlib.AsyncExitStack,
    settings: CollectorSettings,
    catalogue: Sequence[KpiDefinition],
    data_topics: Sequence[str],
    metrics: CollectorRegistry,
    store: StateStore,
    registry: RegistryCopy,
    spans: RecordSpans,
) -> StreamProcessor:
    consumer = create_consumer(
        settings.kafka,
        f"{SERVICE}-{settings.instance_id}",
        settings.group_id,
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=settings.heartbeat_interval_ms,
    )
    validators = ContractValidators(registry.latest_contract, settings.contracts_dir)
    aggregator, stream_metrics = BatchAggregator(catalogue), StreamMetrics(metrics)
    applier = RecordApplier(aggregator, validators, stream_metrics, spans, settings.dlq_topic)
    processor = StreamProcessor(
        consumer,
        store,
        aggregator,
        applier,
        stream_metrics,
        max_batch=settings.max_batch,
        commit_interval_ms=settings.commit_interval_ms,
        poll_timeout_ms=settings.poll_timeout_ms,
    )
    consumer.subscribe([*data_topics, settings.dlq_topic], listener=processor.listener)
    await start_with_retry(consumer.start, settings.kafka_startup_timeout_s, SERVICE)
    stack.push_async_callback(consumer.stop)
    processor.start()
    stack.push_async_callback(processor.stop)
    return processor

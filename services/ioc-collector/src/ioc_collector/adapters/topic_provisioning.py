"""Creating the topics the collector reads and writes, before any client uses them."""

from __future__ import annotations

from collections.abc import Sequence

from ioc_collector.settings import SERVICE, CollectorSettings
from lgsp_common.kafka import start_with_retry
from lgsp_common.topics import TopicSpec, ensure_platform_topics, ensure_topics


def own_topics(settings: CollectorSettings, data_topics: Sequence[str]) -> list[TopicSpec]:
    """Return the topics the collector needs beyond the platform's defaults."""
    partitions = settings.kafka.default_partitions
    return [
        TopicSpec(settings.kpi_topic, partitions, config={"cleanup.policy": "compact"}),
        TopicSpec(settings.registry_topic, 1, config={"cleanup.policy": "compact"}),
        TopicSpec(settings.dlq_topic, partitions),
        *(TopicSpec(topic, partitions) for topic in data_topics),
    ]


async def provision_topics(settings: CollectorSettings, data_topics: Sequence[str]) -> None:
    """Create the platform's topics (waiting for the broker) and the collector's own."""
    kafka = settings.kafka
    await start_with_retry(
        lambda: ensure_platform_topics(kafka, settings.contracts_dir),
        settings.kafka_startup_timeout_s,
        SERVICE,
    )
    await ensure_topics(kafka, own_topics(settings, data_topics))

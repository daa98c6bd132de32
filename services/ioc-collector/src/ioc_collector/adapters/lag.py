"""Consumer lag in records and in seconds, measured against the state store's positions.

Records: the partition's last stable offset (read_committed end offset) minus the position the
collector stored (or its live position for partitions this replica owns). Seconds (as Burrow
and kafka-lag-exporter report it): how long ago the oldest record still waiting was written,
read by fetching that one record's timestamp with a group-less consumer; zero when caught up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError

from lgsp_common.kafka import create_consumer
from lgsp_common.settings import KafkaSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PartitionLag:
    """How far the collector is behind on one partition."""

    records: int
    seconds: float


class LagProbe:
    """Measures lag with its own consumer, outside the group, never moving its offsets."""

    def __init__(self, kafka: KafkaSettings, client_id: str) -> None:
        self._consumer: AIOKafkaConsumer = create_consumer(
            kafka, f"{client_id}-lag", None, max_partition_fetch_bytes=64 * 1024
        )
        self._metadata = AIOKafkaClient(
            bootstrap_servers=kafka.bootstrap_servers, client_id=f"{client_id}-lag-metadata"
        )
        self._started = False
        self.latest: dict[tuple[str, int], PartitionLag] = {}

    async def start(self) -> None:
        """Connect the probe's consumer."""
        await self._consumer.start()
        await self._metadata.bootstrap()
        self._started = True

    async def stop(self) -> None:
        """Close the probe's consumer."""
        if self._started:
            await self._consumer.stop()
            await self._metadata.close()
            self._started = False

    async def measure(
        self, topics: Sequence[str], positions: Mapping[tuple[str, int], int]
    ) -> None:
        """Refresh `latest` for every partition of `topics`; keeps the old figures on errors."""
        try:
            self.latest = await asyncio.wait_for(self._measure(topics, positions), 10.0)
        except (KafkaError, TimeoutError, OSError) as exc:
            log.warning("lag measurement failed", extra={"error": repr(exc)})

    async def _measure(
        self, topics: Sequence[str], positions: Mapping[tuple[str, int], int]
    ) -> dict[tuple[str, int], PartitionLag]:
        cluster = await self._metadata.fetch_all_metadata()
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(cluster.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return {}
        ends = await self._consumer.end_offsets(partitions)
        starts = await self._consumer.beginning_offsets(partitions)
        waiting: dict[TopicPartition, int] = {}
        result: dict[tuple[str, int], PartitionLag] = {}
        for tp in partitions:
            position = max(positions.get((tp.topic, tp.partition), 0), starts[tp])
            behind = max(0, ends[tp] - position)
            result[(tp.topic, tp.partition)] = PartitionLag(behind, 0.0)
            if behind:
                waiting[tp] = position
        for tp, written in (await self._oldest_waiting(waiting)).items():
            age = max(0.0, datetime.now(UTC).timestamp() - written / 1000)
            result[(tp.topic, tp.partition)] = PartitionLag(
                result[(tp.topic, tp.partition)].records, round(age, 3)
            )
        return result

    async def _oldest_waiting(
        self, waiting: dict[TopicPartition, int]
    ) -> dict[TopicPartition, int]:
        """Return the timestamp of the next record to consume on each lagging partition."""
        if not waiting:
            return {}
        self._consumer.assign(list(waiting))
        for tp, position in waiting.items():
            self._consumer.seek(tp, position)
        found: dict[TopicPartition, int] = {}
        for _ in range(4):
            batches = await self._consumer.getmany(timeout_ms=250, max_records=len(waiting) * 50)
            for tp, records in batches.items():
                if records and tp not in found:
                    found[tp] = records[0].timestamp
            if len(found) == len(waiting):
                break
        return found
